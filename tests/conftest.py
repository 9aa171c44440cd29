"""Shared fixtures: settings in a temporary data directory, the app on a real loopback server.

Every `launchseq serve` a test starts serves from one process (LAUNCHSEQ_WORKERS=1, set here at
import, so that the subprocesses tests start inherit it; `tests/faults/support.clean_env`, which
drops inherited LAUNCHSEQ_* settings, sets it again). The server's default, one worker per CPU,
would make the pid a test starts a master that serves nothing, and would multiply the memory of
every server the suite starts by the machine's cores. A test that wants workers asks for them
(`--workers N` or LAUNCHSEQ_WORKERS); a test of the default removes the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.databases import postgres_database, sqlite_url
from tests.support.live import LiveServer

os.environ["LAUNCHSEQ_WORKERS"] = "1"


class Clock:
    """A settable clock (Unix ms) for expiry tests; starts at the real time.

    `advance` is time passing; `jump` sets the wall clock alone, as an operator or a bad NTP
    server would. `elapsed` (ms) is the clock that jumps do not move.
    """

    def __init__(self) -> None:
        import time

        self.now = time.time_ns() // 1_000_000
        self.elapsed_ms = 0

    def __call__(self) -> int:
        return self.now

    def elapsed(self) -> int:
        return self.elapsed_ms

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)
        self.elapsed_ms += int(seconds * 1000)

    def jump(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a fresh SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": str(tmp_path / "data"), "secret_key": "test-secret"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def live(make_settings: Callable[..., Settings], clock: Clock) -> Iterator[LiveServer]:
    """The app on SQLite, served on loopback, with a settable clock."""
    app = create_app(make_settings(), clock=clock)
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def live_any_db(
    make_settings: Callable[..., Settings], database_url: str, clock: Clock
) -> Iterator[LiveServer]:
    """The app on SQLite and then on PostgreSQL, served on loopback."""
    app = create_app(make_settings(database_url=database_url), clock=clock)
    server = LiveServer(app).start()
    yield server
    server.stop()
