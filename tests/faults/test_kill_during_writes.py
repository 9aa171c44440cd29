"""`kill -9` of the server in the middle of 500 concurrent writes, on SQLite and PostgreSQL.

Every request ends one of three ways: acknowledged (2xx with its body), refused (4xx), or
unknown (the connection broke: it may or may not have committed). After a restart on the same
store, what must hold:

- every acknowledged write is there: created flags exist; a configuration is at a version at
  least the one each write was acknowledged with, and the audit entry of that version holds
  exactly what the write sent;
- no refused or unsent write left a trace, in the data or in the audit log;
- a flag's configuration versions have no gap: one audit entry per version, and the audit
  entry of the current version is the current configuration (the write and its audit entry
  commit together). The current content is the last acknowledged write's, unless a write of
  unknown outcome came after it, which is the only thing that may have superseded it;
- the store is sound: SQLite's integrity check passes (on PostgreSQL, amcheck verifies every
  index against its table), foreign keys hold, and every flag has its configuration in every
  environment.
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.faults.support import ServerProcess
from tests.support.api import signup
from tests.support.databases import postgres_database

pytestmark = pytest.mark.slow

WRITES = 500
THREADS = 250  # 250 writes in flight at once, two each: the kill lands amid many of them
KILL_AFTER_ACKS = 200
FLAGS = [f"f{i}" for i in range(10)]
ENV = "production"


@dataclass(frozen=True)
class Write:
    index: int
    kind: str  # "patch" | "create" | "bad-patch" | "stale-patch" | "dup-create"
    flag: str
    marker: str  # the one target value (or flag key) only this write carries


def plan() -> list[Write]:
    writes = []
    for i in range(WRITES):
        flag = FLAGS[i % len(FLAGS)]
        if i % 25 == 7:
            writes.append(Write(i, "dup-create", "f0", "f0"))
        elif i % 25 == 13:
            writes.append(Write(i, "bad-patch", flag, f"bad-{i}"))
        elif i % 25 == 19:
            writes.append(Write(i, "stale-patch", flag, f"stale-{i}"))
        elif i % 10 == 9:
            writes.append(Write(i, "create", f"n{i}", f"n{i}"))
        else:
            writes.append(Write(i, "patch", flag, f"w{i}"))
    return writes


@dataclass
class Outcomes:
    acked: dict[int, tuple[Write, Any]] = field(default_factory=dict)
    refused: dict[int, tuple[Write, int]] = field(default_factory=dict)
    unknown: dict[int, tuple[Write, str]] = field(default_factory=dict)
    unsent: dict[int, Write] = field(default_factory=dict)  # no connection: never reached it
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(client: httpx.Client, base: str, write: Write) -> httpx.Response:
    config = f"{base}/flags/{write.flag}/environments/{ENV}"
    if write.kind in ("create", "dup-create"):
        return client.post(f"{base}/flags", json={"key": write.flag})
    if write.kind == "patch":
        return client.patch(config, json={"targets": [{"variation": 0, "values": [write.marker]}]})
    if write.kind == "bad-patch":  # no variation 7 in a boolean flag: the engine refuses it
        return client.patch(config, json={"targets": [{"variation": 7, "values": [write.marker]}]})
    assert write.kind == "stale-patch"  # version 999999 is never reached: 412
    return client.patch(
        config,
        json={"targets": [{"variation": 0, "values": [write.marker]}]},
        headers={"If-Match": '"999999"'},
    )


def hammer(server: ServerProcess, token: str, base: str) -> Outcomes:
    """The planned writes from THREADS threads; SIGKILL once KILL_AFTER_ACKS are acknowledged."""
    outcomes = Outcomes()
    work: queue.Queue[Write] = queue.Queue()
    for write in plan():
        work.put(write)
    assert server.process is not None
    pid = server.process.pid
    killed = threading.Event()

    def worker() -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            while True:
                try:
                    write = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = send(client, base, write)
                    body = response.json() if 200 <= response.status_code < 300 else None
                except httpx.ConnectError:
                    with outcomes.lock:
                        outcomes.unsent[write.index] = write
                    continue
                except (httpx.HTTPError, ValueError) as exc:
                    with outcomes.lock:
                        outcomes.unknown[write.index] = (write, type(exc).__name__)
                    continue
                with outcomes.lock:
                    if body is not None:
                        outcomes.acked[write.index] = (write, body)
                    elif 400 <= response.status_code < 500:
                        outcomes.refused[write.index] = (write, response.status_code)
                    else:  # a 5xx: the server says it failed, but do not rely on it
                        outcomes.unknown[write.index] = (write, str(response.status_code))
                    if len(outcomes.acked) >= KILL_AFTER_ACKS and not killed.is_set():
                        killed.set()
                        os.kill(pid, signal.SIGKILL)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a writer hung"
    assert killed.is_set(), "the server was never killed: too few acknowledgements"
    server.process.wait(timeout=10)
    assert server.process.returncode == -signal.SIGKILL
    server.process = None
    return outcomes


def audit_entries(client: httpx.Client, org: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if before is not None:
            params["before"] = before
        page = client.get(f"/api/v1/orgs/{org}/audit", params=params)
        assert page.status_code == 200, page.text
        entries += page.json()["entries"]
        before = page.json()["next"]
        if before is None:
            return entries


def check_after_restart(
    server: ServerProcess, token: str, org: str, initial: dict[str, int], outcomes: Outcomes
) -> None:
    base = f"/api/v1/orgs/{org}/projects/default"
    client = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    with client:
        listed = client.get(f"{base}/flags", params={"archived": "all"})
        assert listed.status_code == 200, listed.text
        keys = {f["key"] for f in listed.json()["flags"]}
        configs = {}
        for flag in FLAGS:
            got = client.get(f"{base}/flags/{flag}/environments/{ENV}")
            assert got.status_code == 200, got.text
            configs[flag] = got.json()
        entries = audit_entries(client, org)
        # The restarted server still takes writes.
        after = client.patch(f"{base}/flags/f1/environments/{ENV}", json={"on": True})
        assert after.status_code == 200, after.text

    acked = outcomes.acked.values()
    refused = outcomes.refused.values()
    unknown_markers = {w.marker for w, _ in outcomes.unknown.values()}
    assert len(outcomes.acked) >= KILL_AFTER_ACKS
    assert {w.kind for w, _ in refused} == {"dup-create", "bad-patch", "stale-patch"}
    assert all(
        status == {"dup-create": 409, "stale-patch": 412}.get(w.kind, status)
        for w, status in refused
    )
    assert all(w.kind not in ("dup-create", "bad-patch", "stale-patch") for w, _ in acked)

    # --- flag creations ---
    created = [e for e in entries if e["action"] == "flag.created"]
    created_keys = [e["flag"] for e in created]
    for flag in FLAGS:
        assert created_keys.count(flag) == 1, f"{flag}: created once, before the load"
    for write, body in acked:
        if write.kind == "create":
            assert body["key"] == write.flag
            assert write.flag in keys, f"acknowledged creation of {write.flag} lost"
            assert created_keys.count(write.flag) == 1, f"{write.flag}: one audit entry"
    for write, _ in outcomes.unknown.values():
        if write.kind == "create":
            assert created_keys.count(write.flag) == (1 if write.flag in keys else 0)
    for write in outcomes.unsent.values():
        if write.kind == "create":
            assert write.flag not in keys, f"{write.flag} was never sent, yet exists"
    assert keys == set(created_keys), "every flag has its creation audited, and only those"
    for entry in created:
        assert entry["after"]["key"] == entry["flag"]

    # --- configuration writes ---
    configured = [
        e for e in entries if e["action"] in ("flag.configured", "flag.toggled")
        and e["environment"] == ENV and e["flag"] in FLAGS
    ]  # fmt: skip
    forbidden = {w.marker for w, _ in refused if w.kind != "dup-create"}
    forbidden |= {w.marker for w in outcomes.unsent.values() if w.kind == "patch"}
    markers: dict[str, dict[str, Any]] = {}
    for entry in configured:
        values = [v for t in entry["after"]["targets"] for v in t["values"]]
        assert len(values) == 1, entry
        assert values[0] not in forbidden, f"refused write {values[0]} was audited"
        assert values[0] not in markers, f"{values[0]} audited twice"
        markers[values[0]] = entry
    acked_markers = {w.marker for w, _ in acked if w.kind == "patch"}
    assert set(markers) <= acked_markers | unknown_markers, "an audit entry for no write"

    for flag in FLAGS:
        current = configs[flag]
        own = sorted(
            (e for e in configured if e["flag"] == flag), key=lambda e: e["after"]["version"]
        )
        versions = [e["after"]["version"] for e in own]
        assert versions == list(range(initial[flag] + 1, current["version"] + 1)), (
            f"{flag}: one audit entry per version, no gap"
        )
        for entry in own:
            assert entry["before"]["version"] == entry["after"]["version"] - 1
        if own:
            assert own[-1]["after"]["targets"] == current["targets"], "audit == data"
        flag_acks = [(w, b) for w, b in acked if w.kind == "patch" and w.flag == flag]
        for write, body in flag_acks:
            assert body["version"] <= current["version"], f"{write.marker}: version went back"
            entry = markers.get(write.marker)
            assert entry is not None, f"acknowledged write {write.marker} has no audit entry"
            assert entry["after"]["version"] == body["version"]
            assert entry["after"]["targets"] == body["targets"]
            assert body["targets"] == [{"variation": 0, "values": [write.marker]}]
        current_marker = [v for t in current["targets"] for v in t["values"]]
        for value in current_marker:
            assert value not in forbidden
        if flag_acks:
            last, last_body = max(flag_acks, key=lambda wb: wb[1]["version"])
            if current["version"] == last_body["version"]:
                assert current["targets"] == last_body["targets"]
            else:  # superseded: only by a write whose outcome the client never learnt
                assert current_marker and current_marker[0] in unknown_markers, (
                    f"{flag}: the last acknowledged write {last.marker} was replaced by "
                    f"{current_marker}, which is no write of unknown outcome"
                )


def check_store(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            envs = conn.execute(text("SELECT count(*) FROM environments")).scalar_one()
            flags = conn.execute(text("SELECT count(*) FROM flags")).scalar_one()
            configs = conn.execute(text("SELECT count(*) FROM flag_configs")).scalar_one()
            # One project: every flag has its configuration in every environment.
            assert configs == flags * envs
            orphans = conn.execute(
                text(
                    "SELECT count(*) FROM flag_configs c LEFT JOIN flags f ON f.id = c.flag_id "
                    "WHERE f.id IS NULL"
                )
            ).scalar_one()
            assert orphans == 0
            # Each environment's version moved with every change to it, never backwards.
            assert (
                conn.execute(
                    text(
                        "SELECT count(*) FROM flag_configs c JOIN environments e "
                        "ON e.id = c.environment_id WHERE c.version > e.version"
                    )
                ).scalar_one()
                == 0
            )
    finally:
        engine.dispose()


def run_scenario(server: ServerProcess) -> None:
    server.start()
    user = signup(server.url, "kill@example.com")
    made = user.post("/api/v1/tokens", json={"name": "load"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    base = f"/api/v1/orgs/{user.org}/projects/default"
    initial = {}
    for flag in FLAGS:
        created = user.post(f"{base}/flags", json={"key": flag})
        assert created.status_code == 201, created.text
        initial[flag] = created.json()["environments"][ENV]["version"]
    user.close()
    try:
        outcomes = hammer(server, token, base)
        server.start()  # on the same data directory / database
        check_after_restart(server, token, user.org, initial, outcomes)
    finally:
        server.kill()
    print(
        f"acked {len(outcomes.acked)}, refused {len(outcomes.refused)}, "
        f"unknown {len(outcomes.unknown)}, unsent {len(outcomes.unsent)}",
        sorted(collections.Counter(e for _, e in outcomes.unknown.values()).items()),
    )


def test_sigkill_during_writes_on_sqlite(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    run_scenario(server)
    path = server.data_dir / "launchsequence.db"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    check_store(f"sqlite:///{path}")


def check_postgres_indexes(database_url: str) -> None:
    """amcheck: every B-tree index of the schema is well formed and holds exactly its table's
    rows (`heapallindexed`)."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
            indexes = conn.execute(
                text(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am a ON a.oid = c.relam "
                    "WHERE a.amname = 'btree' AND c.relnamespace = 'public'::regnamespace"
                )
            ).scalars()
            checked = 0
            for name in indexes:
                conn.execute(
                    text("SELECT bt_index_check(CAST(:name AS regclass), true)"), {"name": name}
                )
                checked += 1
            assert checked >= 10, "the schema's indexes were not found"
    finally:
        engine.dispose()


def test_sigkill_during_writes_on_postgresql(tmp_path: Path) -> None:
    with postgres_database() as url:
        server = ServerProcess(tmp_path, database_url=url)
        run_scenario(server)
        driver_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        check_store(driver_url)
        check_postgres_indexes(driver_url)
