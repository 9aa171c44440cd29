"""Several instances starting together on a fresh database all migrate it, and it ends right.

Each migrator is a process of its own (Alembic keeps its state in module globals, so threads
of one process cannot stand in for instances). They import and connect first, then all start
the upgrade at the same moment. Without a lock they race: two create the same tables and one
fails.
"""

from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from launchsequence.store import migrate
from launchsequence.store.db import create_db_engine
from launchsequence.store.tables import metadata

MIGRATORS = 3
WAIT = 60  # seconds: the bound of every wait here

# Connect, say "ready", wait for "go" on stdin, migrate, say "done".
MIGRATOR = """
import sys
from sqlalchemy import text
from launchsequence.store import migrate
from launchsequence.store.db import create_db_engine
engine = create_db_engine(sys.argv[1])
with engine.connect() as conn:
    conn.execute(text("SELECT 1"))
print("ready", flush=True)
sys.stdin.readline()
migrate.upgrade(engine)
print("done", flush=True)
"""


def _driver_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _error_line(stderr: str) -> str:
    """The exception line of a traceback."""
    lines = [line for line in stderr.splitlines() if "Error" in line or "Unavailable" in line]
    return lines[-1] if lines else stderr[-300:]


def test_instances_migrating_a_fresh_database_at_once_all_succeed(database_url):
    url = _driver_url(database_url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(MIGRATORS)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", process.stderr
        for process in processes:  # all at once
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [process.communicate(timeout=WAIT) for process in processes]
        failures = [
            f"migrator {i} exited {p.returncode}: {_error_line(err)}"
            for i, (p, (_, err)) in enumerate(zip(processes, results, strict=True))
            if p.returncode != 0
        ]
        assert failures == []
        assert [out.strip() for out, _ in results] == ["done"] * MIGRATORS
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=WAIT)

    check = create_db_engine(url)
    try:
        assert migrate.is_current(check)
        assert set(metadata.tables) <= set(inspect(check).get_table_names())
        with check.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        check.dispose()
