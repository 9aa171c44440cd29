"""`Client` against the real server on loopback: ready, values, details, live updates,
bootstrap, not-ready answers, a refused key, the persisted snapshot, many threads."""

from __future__ import annotations

import json
import logging
import threading
import time

from launchsequence_sdk import PROVIDER_NOT_READY, Client, ClientEvent
from sdk_env import BOOL, make_catalog, setup_env, wait_for

VIP = {"key": "vip-1"}
GERMAN = {"key": "u-2", "country": "DE"}
ANYONE = {"key": "u-1", "country": "US"}


def test_ready_then_every_type_and_reason(live):
    env = setup_env(live.url, "types@example.com")
    make_catalog(env)
    with Client(env.key, base_url=live.url) as client:
        assert client.wait_until_ready(5)
        assert client.source == "server" and client.version

        assert client.bool_value("checkout", VIP, False) is True
        assert client.bool_value("checkout", ANYONE, True) is False
        assert client.string_value("theme", ANYONE, "x") in ("light", "dark")
        assert client.number_value("limit", {"key": "u-3"}, 0) == 7
        assert client.number_value("limit", ANYONE, 0) == 2.5
        assert client.json_value("layout", ANYONE, {}) == {"cols": 3}

        dark = client.bool_details("dark", ANYONE, True)
        assert (dark.value, dark.variation, dark.reason) == (False, 1, "DISABLED")
        target = client.bool_details("checkout", VIP, False)
        assert (target.value, target.reason, target.rule_id) == (True, "TARGETING_MATCH", None)
        rule = client.bool_details("checkout", GERMAN, False)
        assert (rule.reason, rule.rule_id, rule.rule_index) == ("TARGETING_MATCH", "eu", 0)
        split = client.string_details("theme", ANYONE, "x")
        assert split.reason == "SPLIT" and split.variant in ("Light", "Dark")
        fall = client.number_details("limit", ANYONE, 0)
        assert (fall.value, fall.variation, fall.variant, fall.reason) == (2.5, 1, "1", "DEFAULT")

        missing = client.bool_details("nope", ANYONE, True)
        assert (missing.value, missing.reason, missing.error_code) == (
            True, "ERROR", "FLAG_NOT_FOUND")  # fmt: skip
        wrong = client.string_details("checkout", ANYONE, "default")
        assert (wrong.value, wrong.error_code) == ("default", "TYPE_MISMATCH")
        assert client.string_value("checkout", ANYONE, "default") == "default"
        # The key is optional: only theme's rollout by key needs one.
        keyless = client.bool_details("checkout", {"country": "DE"}, False)
        assert (keyless.value, keyless.reason, keyless.error_code) == (
            True,
            "TARGETING_MATCH",
            None,
        )
        no_key = client.string_details("theme", {"country": "DE"}, "x")
        assert (no_key.value, no_key.error_code) == ("x", "TARGETING_KEY_MISSING")
        assert client.bool_value("checkout", None, True) is True  # type: ignore[arg-type]

        assert client.all_values(VIP) == {
            "dark": False, "checkout": True, "theme": client.string_value("theme", VIP, ""),
            "limit": 2.5, "layout": {"cols": 3}}  # fmt: skip


def test_bootstrap_matches_the_servers_client_evaluate(live):
    env = setup_env(live.url, "bootstrap@example.com")
    make_catalog(env)
    client_key = next(
        k["key"]
        for k in env.user.get(f"{env.base}/environments/production").json()["sdk_keys"]
        if k["kind"] == "client"
    )
    with Client(env.key, base_url=live.url) as client:
        assert client.wait_until_ready(5)
        for context in (VIP, GERMAN, ANYONE):
            answer = env.user.http.post(
                "/sdk/v1/client/evaluate", json={"context": context},
                headers={"Authorization": f"Bearer {client_key}"},
            )  # fmt: skip
            assert client.bootstrap(context) == answer.json()
            json.dumps(client.bootstrap(context, client_side_only=False))  # JSON-able
        assert set(client.bootstrap(VIP, client_side_only=False)["flags"]) == {
            "dark", "checkout", "theme", "limit", "layout"}  # fmt: skip


def test_live_update_fires_on_change_within_a_second(live):
    env = setup_env(live.url, "live@example.com")
    env.make_flag("banner", BOOL)
    env.make_flag("other", BOOL)
    with Client(env.key, base_url=live.url) as client:
        assert client.wait_until_ready(5)
        seen: list[str] = []
        every: list[str] = []
        events: list[ClientEvent] = []
        client.on_change(seen.append, key="banner")
        client.on_change(every.append)
        client.on_change(lambda key: 1 / 0)  # a failing callback must not stop the others
        client.on_event(events.append)
        assert client.bool_value("banner", ANYONE, False) is True

        started = time.monotonic()
        env.toggle("banner", False)
        wait_for(lambda: seen == ["banner"], 1.0, "on_change for banner")
        assert time.monotonic() - started < 1.0
        assert client.bool_value("banner", ANYONE, True) is False
        assert client.bool_details("banner", ANYONE, True).reason == "DISABLED"

        env.toggle("other", False)
        wait_for(lambda: every == ["banner", "other"], 1.0, "on_change for any flag")
        assert seen == ["banner"], "a per-flag listener hears only its flag"
        # The "changed" event follows the on_change callbacks on the stream thread: wait for it.
        wait_for(
            lambda: [e.flags for e in events if e.kind == "changed"] == [("banner",), ("other",)],
            1.0,
            "a changed event per change",
        )

        assert env.user.delete(f"{env.base}/flags/other").status_code == 204
        wait_for(lambda: every.count("other") == 2, 1.0, "a `delete` event")
        assert client.bool_details("other", ANYONE, True).error_code == "FLAG_NOT_FOUND"


def test_segment_change_reaches_flags_using_it(live):
    env = setup_env(live.url, "segments@example.com")
    segment = f"{env.base}/environments/production/segments/beta"
    r = env.user.put(segment, json={"included": ["u-1"]})
    assert r.status_code == 201, r.text
    env.make_flag(
        "beta-ui",
        {"on": True, "off_variation": 1, "fallthrough": {"variation": 1},
         "rules": [{"id": "seg", "clauses": [{"op": "segment_match", "values": ["beta"]}],
                    "serve": {"variation": 0}}]},
    )  # fmt: skip
    with Client(env.key, base_url=live.url) as client:
        assert client.wait_until_ready(5)
        assert client.bool_value("beta-ui", {"key": "u-1"}, False) is True
        changed: list[str] = []
        client.on_change(changed.append, key="beta-ui")
        assert env.user.put(segment, json={"included": ["u-2"]}).status_code == 200
        wait_for(lambda: changed, 2.0, "a segment change tells the flags using it")
        assert client.bool_value("beta-ui", {"key": "u-1"}, True) is False


def test_before_ready_and_unreachable_answers_the_default(tmp_path):
    with Client("ls_srv_nothing", base_url="http://127.0.0.1:9", initial_reconnect_delay=0.05,
                max_reconnect_delay=0.1) as client:  # fmt: skip
        started = time.monotonic()
        assert client.bool_value("anything", ANYONE, True) is True
        details = client.number_details("anything", ANYONE, 3)
        assert (details.value, details.reason, details.error_code) == (
            3, "ERROR", PROVIDER_NOT_READY)  # fmt: skip
        assert time.monotonic() - started < 0.05, "evaluation never waits on the network"
        assert client.wait_until_ready(0.3) is False
        assert client.all_values(ANYONE) == {} and client.version is None


def test_refused_key_stops_logs_once_and_keeps_serving(live, caplog):
    env = setup_env(live.url, "revoked@example.com")
    env.make_flag("banner", BOOL)
    client = Client(env.key, base_url=live.url, initial_reconnect_delay=0.05,
                    max_reconnect_delay=0.1)  # fmt: skip
    try:
        assert client.wait_until_ready(5)
        events: list[ClientEvent] = []
        client.on_event(events.append)
        with caplog.at_level(logging.INFO, logger="launchsequence_sdk"):
            env.rotate_key()  # grace 0: the old key stops at once, its stream is closed
            wait_for(lambda: any(e.kind == "error" for e in events), 5.0, "the refusal")
            time.sleep(0.5)  # it must not retry (nor log again)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "refused" in errors[0].getMessage()
        assert client.bool_value("banner", ANYONE, False) is True, "last values still served"
        details = client.bool_details("banner", ANYONE, False)
        assert (details.value, details.reason) == (True, "STALE"), "and never updated again"
        assert client.wait_until_ready(0.1) is False and not client.is_ready
        assert client._stream is not None and client._stream.finished.is_set()
    finally:
        client.close()


def test_wrong_key_at_start_is_permanent(live):
    client = Client("ls_srv_wrong", base_url=live.url)
    try:
        started = time.monotonic()
        assert client.wait_until_ready(5) is False
        assert time.monotonic() - started < 2, "a refused key ends the wait at once"
    finally:
        client.close()


def test_persisted_snapshot_serves_a_restart_while_the_server_is_down(live, tmp_path):
    path = tmp_path / "flags" / "snapshot.json"
    env = setup_env(live.url, "persist@example.com")
    env.make_flag("banner", BOOL)
    with Client(env.key, base_url=live.url, persist_path=path) as client:
        assert client.wait_until_ready(5)
        env.toggle("banner", False)
        wait_for(lambda: client.bool_value("banner", ANYONE, True) is False, 2.0)
        wait_for(lambda: json.loads(path.read_text())["version"] == client.version, 2.0)
    assert [p.name for p in path.parent.iterdir()] == ["snapshot.json"], "no temp file left"
    live.stop()

    with Client(env.key, base_url=live.url, persist_path=path,
                initial_reconnect_delay=0.05) as again:  # fmt: skip
        assert again.wait_until_ready(5)
        assert again.source == "file" and again.is_stale
        details = again.bool_details("banner", ANYONE, True)
        assert (details.value, details.variation, details.reason, details.error_code) == (
            False, 1, "CACHED", None)  # fmt: skip


def test_a_thousand_threads_evaluate_while_updates_stream(live):
    env = setup_env(live.url, "threads@example.com")
    env.make_flag("banner", BOOL)
    first, final = (True, 0, "STATIC"), (False, 1, "DISABLED")
    with Client(env.key, base_url=live.url) as client:
        assert client.wait_until_ready(5)
        stop = threading.Event()  # set once the client serves the final version
        failures: list[BaseException] = []
        seen: list[list[tuple[object, ...]]] = [[] for _ in range(1000)]
        start = threading.Barrier(1001)

        def work(n: int) -> None:
            try:
                start.wait()
                context = {"key": f"user-{n}"}
                while True:
                    last = stop.is_set()  # read before evaluating: then this one is final
                    d = client.bool_details("banner", context, True)
                    seen[n].append((d.value, d.variation, d.reason, d.error_code))
                    if last:
                        return
                    time.sleep(0.01)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(1000)]
        for t in threads:
            t.start()
        start.wait()
        wait_for(lambda: all(seen), 30.0, "every thread evaluated before the updates")
        changes: list[str] = []
        client.on_change(changes.append)
        for i in range(5):  # off, on, off, on, off: the final value differs from the first
            env.toggle("banner", i % 2 == 1)
        snapshot = env.user.http.get(
            "/sdk/v1/snapshot", headers={"Authorization": f"Bearer {env.key}"}
        )  # fmt: skip
        final_version = snapshot.json()["version"]
        wait_for(lambda: client.version == final_version, 5.0, "the final version streamed")
        stop.set()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads)
        assert not failures
        observed = {r for results in seen for r in results}
        assert observed <= {(*first, None), (*final, None)}, "no error, no other answer"
        assert all(results[0] == (*first, None) for results in seen), "the first value"
        assert all(results[-1] == (*final, None) for results in seen), "the final value"
        assert changes and changes == ["banner"] * len(changes)


def test_a_silent_stream_is_dropped_and_resumed(live, caplog):
    env = setup_env(live.url, "silent@example.com")
    env.make_flag("banner", BOOL)
    # The server's heartbeat is 15 s: a 0.3 s read timeout takes the idle stream for dead.
    with Client(env.key, base_url=live.url, read_timeout=0.3, initial_reconnect_delay=0.05,
                max_reconnect_delay=0.1) as client:  # fmt: skip
        assert client.wait_until_ready(5)
        with caplog.at_level(logging.INFO, logger="launchsequence_sdk"):
            time.sleep(1.0)
        messages = [r.getMessage() for r in caplog.records]
        assert any("failed" in m for m in messages) and any("again" in m for m in messages)
        failed, again = (sum(w in m for m in messages) for w in ("failed", "again"))
        assert failed - again in (0, 1), "one warning per outage, one line when it ends"
        env.toggle("banner", False)
        wait_for(lambda: client.bool_value("banner", ANYONE, True) is False, 2.0)
