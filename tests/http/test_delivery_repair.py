"""Delivery stays right when a change is not heard of in the usual way.

- A change that commits while a hub loads for the first time is served by that hub.
- On SQLite, a change another process makes on the same file (`launchseq import` from the CLI
  while the server runs, a second instance) reaches the server within the version check
  period: flags, and SDK keys rotated there.
- The admin snapshot is one moment of the environment: its version and its flags belong
  together, even when a change commits while it is read.

The interleavings are forced, not hoped for: `CommitDuring` commits a change through the API
right after a snapshot's first read, from inside that read (a SQLAlchemy event on the server's
own engine), then lets the read go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, event

from launchsequence.app import create_app
from launchsequence.config import Settings
from launchsequence.store.db import create_db_engine
from tests.conftest import Clock
from tests.http.test_delivery import (
    BOOL,
    Env,
    evaluate,
    make_flag,
    sdk,
    server_key,
    setup_env,
    stream,
    toggle,
    wait_for,
)
from tests.support.api import ApiUser
from tests.support.live import LiveServer

WAIT = 10.0  # the bound of every wait here, in seconds; the version check runs every second
OFF = {**BOOL, "on": False}


@contextlib.contextmanager
def served(settings: Settings, clock: Clock, db: Engine | None = None) -> Iterator[LiveServer]:
    server = LiveServer(create_app(settings, db=db, clock=clock)).start()
    try:
        yield server
    finally:
        server.stop()


def second_session(e: Env, url: str | None = None) -> Env:
    """The same user on a client of its own (another browser tab; or another instance)."""
    base_url = url or e.url
    client = httpx.Client(base_url=base_url, cookies=e.user.http.cookies, timeout=30)
    user = ApiUser(base_url, email=e.user.email, org=e.user.org, csrf=e.user.csrf, client=client)
    return dataclasses.replace(e, url=base_url, user=user)


# How `build_snapshot` reads an environment's version (SQLite quotes `key`, PostgreSQL not).
HEAD = "SELECT environments.key, environments.version, projects.key AS project "


class CommitDuring:
    """Runs `change` (which commits through the API) inside the next read of a snapshot's head
    (its version) on `engine`, once armed: that read goes on after the commit."""

    def __init__(self, engine: Engine, change: Callable[[], None]) -> None:
        self.change = change
        self.armed = False
        self.fired = 0
        event.listen(engine, "after_cursor_execute", self._after)

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.armed and statement.replace('"', "").startswith(HEAD):
            self.armed = False  # before the change: its own reads must not fire again
            self.change()
            self.fired += 1


def admin_snapshot(e: Env) -> dict[str, Any]:
    r = e.user.get(f"{e.base}/environments/production/snapshot")
    assert r.status_code == 200, r.text
    return dict(r.json())


# --- a hub's first load --------------------------------------------------------------------


def test_a_hub_loading_while_a_change_commits_serves_that_change(
    make_settings: Callable[..., Settings], database_url: str, clock: Clock
) -> None:
    # No periodic check within the test: the load itself must not miss the change.
    settings = make_settings(database_url=database_url, version_check_seconds=3600)
    engine = create_db_engine(settings.resolved_database_url)
    with served(settings, clock, engine) as server:
        e = setup_env(server.url, "load-race@example.com")
        make_flag(e, "launch", OFF)
        other = second_session(e)
        race = CommitDuring(engine, lambda: toggle(other, "launch", True))
        try:
            race.armed = True
            first = evaluate(e, {"key": "u-1"}, ["launch"])  # the hub loads now
            assert race.fired == 1, "the toggle committed while the hub was loading"
            stored = admin_snapshot(e)
            assert stored["flags"]["launch"]["on"] is True
            assert first["version"] == stored["version"]
            assert first["flags"]["launch"]["value"] is True
            assert first["flags"]["launch"]["reason"] == "STATIC"
            snapshot = sdk(e.url, "/sdk/v1/snapshot?schema=2", e.server_key).json()
            assert snapshot == stored
        finally:
            other.user.close()


# --- the admin snapshot ------------------------------------------------------------------


def test_the_admin_snapshot_is_one_moment_even_while_a_change_commits(
    make_settings: Callable[..., Settings], database_url: str, clock: Clock
) -> None:
    settings = make_settings(database_url=database_url)
    engine = create_db_engine(settings.resolved_database_url)
    with served(settings, clock, engine) as server:
        e = setup_env(server.url, "snapshot-race@example.com")
        make_flag(e, "launch", OFF)
        make_flag(e, "other", OFF)
        before = admin_snapshot(e)
        other = second_session(e)
        race = CommitDuring(engine, lambda: toggle(other, "launch", True))
        try:
            race.armed = True
            during = admin_snapshot(e)
            assert race.fired == 1, "the toggle committed while the snapshot was read"
            # What it had read first (the version) decides the moment: the flags read after
            # the commit are still those of that version.
            assert during == before
            after = admin_snapshot(e)
            assert after["version"] == before["version"] + 1
            assert after["flags"]["launch"]["on"] is True
            assert after == sdk(e.url, "/sdk/v1/snapshot?schema=2", e.server_key).json()
        finally:
            other.user.close()


# --- SQLite: another process on the same file --------------------------------------------


def _import(settings: Settings, e: Env, document: dict[str, Any], path: Path) -> None:
    """`launchseq import` in a process of its own, on the server's data directory."""
    path.write_bytes(orjson.dumps(document))
    env = {
        **os.environ,
        "LAUNCHSEQ_DATA_DIR": settings.data_dir,
        "LAUNCHSEQ_SECRET_KEY": settings.secret_key or "",
    }
    env.pop("LAUNCHSEQ_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "launchsequence", "import", "--email", e.user.email,
         "--org", e.user.org, str(path)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_cli_import_on_the_sqlite_file_reaches_the_running_server(
    make_settings: Callable[..., Settings], clock: Clock, tmp_path: Path
) -> None:
    settings = make_settings(version_check_seconds=1)
    with served(settings, clock) as server:
        e = setup_env(server.url, "cli-import@example.com")
        make_flag(e, "launch", OFF)
        assert evaluate(e, {"key": "u-1"}, ["launch"])["flags"]["launch"]["reason"] == "DISABLED"

        exported = e.user.get(f"{e.base}/export")
        assert exported.status_code == 200, exported.text
        document = exported.json()
        (flag,) = [f for f in document["flags"] if f["key"] == "launch"]
        flag["environments"]["production"]["on"] = True

        auth = {"Authorization": f"Bearer {e.server_key}"}
        with stream(server.url, "/sdk/v1/stream", auth) as s:
            put = s.next_data_event()
            assert put.event == "put" and put.data["flags"]["launch"]["on"] is False

            _import(settings, e, document, tmp_path / "launch.json")

            patch = s.next_data_event(timeout=WAIT)
            assert patch.event == "patch", patch
            assert patch.data["key"] == "launch" and patch.data["flag"]["on"] is True
            assert int(patch.id or 0) > int(put.id or 0)
        answer = evaluate(e, {"key": "u-1"}, ["launch"])
        assert answer["flags"]["launch"]["value"] is True
        assert answer["version"] == admin_snapshot(e)["version"]


def test_a_key_rotated_by_another_instance_on_the_sqlite_file_stops_working(
    make_settings: Callable[..., Settings], clock: Clock
) -> None:
    # Two app objects on one SQLite file share no change feed: A hears of B's rotation only
    # through its version check.
    settings = make_settings(version_check_seconds=1)
    with served(settings, clock) as a, served(settings, clock) as b:
        e = setup_env(a.url, "rotate-elsewhere@example.com")
        make_flag(e, "launch", BOOL)
        old = e.server_key
        assert sdk(a.url, "/sdk/v1/snapshot", old).status_code == 200  # A caches the key
        auth = {"Authorization": f"Bearer {old}"}
        with stream(a.url, "/sdk/v1/stream", auth) as s:
            assert s.next_data_event().event == "put"

            on_b = second_session(e, b.url)
            try:
                new = server_key(on_b.user, on_b.base)  # rotated through B, grace 0
            finally:
                on_b.user.close()

            s.drain_until_closed(timeout=WAIT)  # A closes the stream of the expired key
        wait_for(
            lambda: sdk(a.url, "/sdk/v1/snapshot", old).status_code == 401,
            timeout=WAIT,
            message="the rotated key still works on A",
        )
        assert sdk(a.url, "/sdk/v1/snapshot", new).status_code == 200
        assert sdk(a.url, "/sdk/v1/evaluate", old, {"context": {"key": "u"}}).status_code == 401
