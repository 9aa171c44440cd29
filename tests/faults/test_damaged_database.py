"""A damaged SQLite file: refused at start with one line and the way back, never served.

Before: a truncated or non-database file exited after a 117-line traceback; a file with damaged
pages started, `/readyz` answered "database ok", reads answered 500 and writes went into the
damaged file. Now `launchseq serve` checks the file first (`PRAGMA quick_check`) and damage found
while serving turns `/readyz` to 503 and refuses writes, while SDKs go on from memory.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from tests.faults.support import LAUNCHSEQ, ServerProcess, clean_env
from tests.faults.test_startup_failures import assert_clear_failure, serve
from tests.support.api import signup

PAGE = 4096
RESTORE_HINT = "launchseq backup"


def make_database(data_dir: Path) -> Path:
    """A real database made by the CLI (a user, an organization, a project), fully
    checkpointed into the main file; its path."""
    made = subprocess.run(
        [*LAUNCHSEQ, "user", "create", "--email", "d@example.com", "--password-stdin"],
        env=clean_env(data_dir, LAUNCHSEQ_SECRET_KEY="s"),
        input="passw0rd!x\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    database = data_dir / "launchsequence.db"
    checkpoint(database)
    return database


def checkpoint(database: Path) -> None:
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def root_pages(database: Path, *tables: str) -> list[int]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            f"SELECT rootpage FROM sqlite_schema WHERE name IN ({','.join('?' * len(tables))})",
            tables,
        ).fetchall()
    assert len(rows) == len(tables)
    return [int(row[0]) for row in rows]


def damage(database: Path, pages: list[int]) -> None:
    """Overwrite the b-tree page headers of `pages` (1-based) with garbage, in place."""
    with database.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * PAGE)
            handle.write(b"\xff" * 64)


def test_a_file_that_is_not_a_database_is_refused_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "launchsequence.db").write_bytes(b"these are not the pages you are looking for\n" * 99)
    (data / "launchsequence.db").chmod(0o600)
    line = assert_clear_failure(
        serve(data, LAUNCHSEQ_SECRET_KEY="s"), str(data / "launchsequence.db"), "damaged"
    )
    assert RESTORE_HINT in line


def test_a_truncated_database_is_refused_with_one_line(tmp_path: Path) -> None:
    source = make_database(tmp_path / "source")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    truncated = data / "launchsequence.db"
    truncated.write_bytes(source.read_bytes()[: PAGE * 5 + 100])
    truncated.chmod(0o600)
    line = assert_clear_failure(serve(data, LAUNCHSEQ_SECRET_KEY="s"), str(truncated), "damaged")
    assert RESTORE_HINT in line


def test_damaged_pages_are_refused_and_nothing_is_written_into_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = make_database(data)
    damage(database, root_pages(database, "flags", "audit_log"))
    before = database.read_bytes()
    line = assert_clear_failure(serve(data, LAUNCHSEQ_SECRET_KEY="s"), str(database), "damaged")
    assert RESTORE_HINT in line
    assert database.read_bytes() == before  # no migration, no write went into it
    # `launchseq migrate` and the other commands refuse it the same way.
    migrate = subprocess.run(
        [*LAUNCHSEQ, "migrate"],
        env=clean_env(data, LAUNCHSEQ_SECRET_KEY="s"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_clear_failure(migrate, str(database), "damaged")


def test_damage_found_while_serving_makes_readyz_honest_and_refuses_writes(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path, LAUNCHSEQ_INTEGRITY_CHECK_SECONDS="1").start()
    try:
        user = signup(server.url, "damage@example.com")
        base = f"/api/v1/orgs/{user.org}/projects/default"
        assert user.post(f"{base}/flags", json={"key": "kill-switch"}).status_code == 201
        on = user.patch(f"{base}/flags/kill-switch/environments/production", json={"on": True})
        assert on.status_code == 200, on.text
        key = user.post(f"{base}/environments/production/sdk-keys", json={"kind": "server"})
        assert key.status_code == 201, key.text
        sdk = {"Authorization": f"Bearer {key.json()['key']}"}
        evaluate = f"{server.url}/sdk/v1/evaluate"
        body = {"context": {"key": "u"}, "flags": ["kill-switch"]}
        first = httpx.post(evaluate, json=body, headers=sdk)
        assert first.json()["flags"]["kill-switch"]["value"] is True, first.text
        assert httpx.get(f"{server.url}/readyz").json()["database"] == "ok"

        database = server.data_dir / "launchsequence.db"
        checkpoint(database)
        damage(database, root_pages(database, "audit_log"))

        deadline = time.monotonic() + 10
        ready = httpx.get(f"{server.url}/readyz")
        while ready.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json() == {"status": "unavailable", "database": "damaged"}

        # Writes are refused (503, a stable code), not written into the damaged file.
        size = database.stat().st_size
        write = user.post(f"{base}/flags", json={"key": "after-damage"})
        assert write.status_code == 503, write.text
        assert write.json()["error"]["code"] == "unavailable"
        assert database.stat().st_size == size
        # SDKs go on from memory: the kill switch keeps its last known state.
        answer = httpx.post(evaluate, json=body, headers=sdk)
        assert answer.status_code == 200, answer.text
        assert answer.json()["flags"]["kill-switch"]["value"] is True
        user.close()
    finally:
        server.kill()
    log = server.log_path.read_text()
    assert log.count("is damaged") == 1, log  # said once, loudly, not once per request
    assert RESTORE_HINT in log
    restart = subprocess.run(
        [*LAUNCHSEQ, "serve", "--port", "1"],
        env=clean_env(server.data_dir, LAUNCHSEQ_SECRET_KEY="s"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_clear_failure(restart, str(database), "damaged")
