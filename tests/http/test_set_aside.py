"""Defence in depth: one flag row the snapshot cannot carry is set aside, and nothing else stops.

The row is written to the database directly (as an older server, a restore or a hand edit
could leave it): a variation nested 300 levels deep, which the API now refuses. Before, the
environment's next snapshot failed: every later write answered 500, the streams stopped (a
toggled kill switch never arrived), and after a restart every SDK call answered 500.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text

from launchsequence.app import create_app
from tests.http.test_delivery import (
    BOOL,
    Env,
    evaluate,
    make_flag,
    metrics,
    sdk,
    setup_env,
    stream,
    toggle,
)
from tests.support.live import LiveServer


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def write_row(database_url: str, table: str, column: str, key: str, value: Any) -> None:
    """Store `value` in one row's JSON column straight into the database, past every check
    (written by the standard library's encoder: orjson refuses to write such a value)."""
    db = create_engine(database_url)
    try:
        cast = "CAST(:v AS JSON)" if db.dialect.name == "postgresql" else ":v"
        with db.begin() as conn:
            done = conn.execute(
                text(f"UPDATE {table} SET {column} = {cast} WHERE key = :k"),
                {"v": json.dumps(value), "k": key},
            )
            assert done.rowcount == 1
    finally:
        db.dispose()


Seen = Callable[[list[dict[str, Any]]], bool]


def next_patches(s: Any, until: Seen, timeout: float = 10) -> list[Any]:
    """Server-stream patch payloads, up to the first point where `until` accepts them all."""
    deadline = time.monotonic() + timeout
    seen: list[Any] = []
    while not until(seen):
        ev = s.next_data_event(timeout=max(0.1, deadline - time.monotonic()))
        if ev.event == "patch":
            seen.append(ev.data)
    return seen


def patched(key: str, test: Callable[[dict[str, Any]], bool]) -> Seen:
    """Whether a patch of flag `key` that passes `test` is among those seen."""
    return lambda seen: any(d.get("key") == key and test(d["flag"]) for d in seen)


def both(a: Seen, b: Seen) -> Seen:
    return lambda seen: a(seen) and b(seen)


def test_a_row_that_cannot_be_served_is_set_aside_and_the_other_flags_keep_flowing(
    make_settings: Callable[..., Any], database_url: str, clock: Any, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="launchsequence.realtime")
    settings = make_settings(database_url=database_url)
    server = LiveServer(create_app(settings, clock=clock)).start()
    try:
        e = setup_env(server.url, "aside@example.com")
        make_flag(e, "kill-switch", {**BOOL, "on": False})
        json_flag = {"type": "json", "variations": [{"value": {"a": 1}}, {"value": {"b": 2}}]}
        make_flag(e, "shape", {**BOOL, "client_side": True}, **json_flag)
        with stream(server.url, "/sdk/v1/stream", {"Authorization": f"Bearer {e.server_key}"}) as s:
            assert s.next_data_event().event == "put"
            deep = [{"value": nested(300)}, {"value": {"b": 2}}]
            write_row(database_url, "flags", "variations", "shape", deep)

            # The next change after the bad row: the kill switch arrives, the bad flag is
            # announced as set aside, and changes keep arriving after that.
            toggle(e, "kill-switch", True)
            switched = patched("kill-switch", lambda f: f["on"] is True)
            seen = next_patches(s, both(switched, patched("shape", lambda f: "set_aside" in f)))
            aside = next(d["flag"] for d in seen if d.get("key") == "shape")
            assert "nests too deep" in aside["set_aside"], aside
            toggle(e, "kill-switch", False)
            next_patches(s, patched("kill-switch", lambda f: f["on"] is False))

        assert_served_with_one_flag_in_error(e, server.url)
        # Writes answer, and so does the project's admin snapshot.
        toggle(e, "kill-switch", True)
        assert e.user.get(f"{e.base}/environments/production/snapshot").status_code == 200

        # Visible to operators: /metrics, the log, and the flag's page.
        labels = f'environment="production",org="{e.user.org}",project="default"'
        assert metrics(server.url)[f"launchseq_snapshot_flag_errors{{{labels}}}"] == 1
        logged = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
        assert any(
            f"org={e.user.org} project=default environment=production flag=shape" in m
            for m in logged
        ), logged
        page = e.user.get(f"/o/{e.user.org}/p/default/flags/shape?env=production")
        assert page.status_code == 200
        assert "production cannot serve this flag" in page.text
        assert "nests too deep" in page.text
        other = e.user.get(f"/o/{e.user.org}/p/default/flags/kill-switch?env=production")
        assert other.status_code == 200 and "cannot serve this flag" not in other.text
    finally:
        server.stop()

    # A restart loads the environment with the row still there: every SDK call answers.
    server = LiveServer(create_app(settings, clock=clock)).start()
    try:
        e.url = server.url
        assert_served_with_one_flag_in_error(e, server.url)

        # Fixed through the API, the flag is served again and the gauge goes back to 0.
        fixed = {"variations": [{"value": {"a": 1}}, {"value": {"b": 2}}]}
        assert e.user.patch(f"{e.base}/flags/shape", json=fixed).status_code == 200
        result = evaluate(e, {"key": "u-1"}, ["shape"])["flags"]["shape"]
        assert result["value"] == {"a": 1}
        labels = f'environment="production",org="{e.user.org}",project="default"'
        assert metrics(server.url)[f"launchseq_snapshot_flag_errors{{{labels}}}"] == 0
        assert any("back in service" in r.getMessage() for r in caplog.records)
    finally:
        server.stop()


def assert_served_with_one_flag_in_error(e: Env, url: str) -> None:
    """Server and client keys get every flag; the one set aside answers ERROR/PARSE_ERROR."""
    e.user.base_url = url
    e.user.http.base_url = url  # type: ignore[assignment]
    flags = evaluate(e, {"key": "u-1"})["flags"]
    assert flags["kill-switch"]["reason"] != "ERROR"
    assert (flags["shape"]["reason"], flags["shape"]["error_code"]) == ("ERROR", "PARSE_ERROR")
    snapshot = sdk(url, "/sdk/v1/snapshot", e.server_key)
    assert snapshot.status_code == 200
    assert "set_aside" in snapshot.json()["flags"]["shape"]
    client = sdk(url, "/sdk/v1/client/evaluate", e.client_key, {"context": {"key": "u-1"}})
    assert client.status_code == 200
    assert client.json()["flags"]["shape"]["error_code"] == "PARSE_ERROR"
    ofrep = sdk(url, "/ofrep/v1/evaluate/flags/shape", e.server_key, {"context": {"key": "u-1"}})
    assert ofrep.json()["errorCode"] == "PARSE_ERROR"
    bulk = sdk(url, "/ofrep/v1/evaluate/flags", e.client_key, {"context": {"key": "u-1"}})
    assert bulk.status_code == 200
    by_key = {f["key"]: f for f in bulk.json()["flags"]}
    assert by_key["shape"]["errorCode"] == "PARSE_ERROR"


def test_a_segment_row_that_cannot_be_served_sets_aside_the_flags_that_use_it(
    live_any_db: Any, database_url: str
) -> None:
    """A segment cannot simply be left out (its flags would silently match nobody): it is set
    aside with every segment and flag that uses it, and only those."""
    e = setup_env(live_any_db.url, "segments@example.com")
    segments = f"{e.base}/environments/production/segments"
    in_beta = [{"clauses": [{"op": "segment_match", "values": ["beta"]}]}]
    assert e.user.put(f"{segments}/beta", json={"included": ["u-1"]}).status_code == 201
    assert e.user.put(f"{segments}/wider", json={"rules": in_beta}).status_code == 201
    for key, segment in (("direct", "beta"), ("indirect", "wider")):
        rule = {
            "clauses": [{"op": "segment_match", "values": [segment]}],
            "serve": {"variation": 0},
        }
        make_flag(e, key, {**BOOL, "fallthrough": {"variation": 1}, "rules": [rule]})
    make_flag(e, "plain", BOOL)
    rules = [{"id": "s1", "clauses": [{"attribute": "a", "op": "in", "values": [nested(300)]}]}]
    write_row(database_url, "segments", "rules", "beta", rules)
    toggle(e, "plain", False)  # a change, so that the environment is built again

    snapshot = sdk(e.url, "/sdk/v1/snapshot", e.server_key).json()
    assert "set_aside" in snapshot["segments"]["beta"]
    assert "uses segment 'beta'" in snapshot["segments"]["wider"]["set_aside"]
    assert "set_aside" in snapshot["flags"]["direct"]
    assert "set_aside" in snapshot["flags"]["indirect"]
    flags = evaluate(e, {"key": "u-1"})["flags"]
    assert flags["direct"]["error_code"] == flags["indirect"]["error_code"] == "PARSE_ERROR"
    assert flags["plain"]["reason"] == "DISABLED"
