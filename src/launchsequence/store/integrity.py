"""SQLite integrity: refuse to start on a damaged file, and stop trusting one that breaks later.

A SQLite file can be damaged under a running server (a disk error, a copy taken mid-write and
put back, another program writing into it). Serving from such a file answers 500s on reads and
writes more data into it. So: `ensure_intact` runs `PRAGMA quick_check` before anything else
opens the file, and a `DamageWatch` turns every later "database disk image is malformed" into
one logged error, a `/readyz` that says so, and writes refused until the file is restored. At
run time the damage is raised as `DamageFound`, an OperationalError, so every layer answers it
as it answers an unreachable database (503, nothing written), not as a bug (500).
PostgreSQL checks its own pages; none of this applies to it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError

from .db import StoreUnavailable, describe, is_sqlite

__all__ = ["DamageFound", "DamageWatch", "DatabaseDamaged", "ensure_intact"]

log = logging.getLogger("launchsequence.store")

# SQLite's primary result codes for a damaged file and for a file that is not a database.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_RESTORE = "restore it from a copy made with `launchseq backup` (see docs/deployment.md)"


class DatabaseDamaged(StoreUnavailable):
    """At start: the SQLite file is damaged or is not a database; the message says which file
    and what to do."""


class DamageFound(OperationalError):
    """While serving: a query met a damaged page, or a write was refused because one did."""


def _is_damage(exc: BaseException | None) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _quick_check(engine: Engine) -> str:
    """'ok', or SQLite's first complaint about the file."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("PRAGMA quick_check(5)").fetchall()
    except DBAPIError as exc:
        if _is_damage(exc.orig):
            return str(exc.orig)
        if isinstance(exc, OperationalError):  # cannot open it at all: a directory, a mount
            reason = (str(exc.orig or exc).strip().splitlines() or ["unknown error"])[0]
            where = describe(engine)
            raise StoreUnavailable(f"cannot open or update the database {where}: {reason}") from exc
        raise
    found = [str(row[0]) for row in rows]
    return "ok" if found == ["ok"] else "; ".join(found)


def ensure_intact(engine: Engine) -> None:
    """Raise DatabaseDamaged, naming the file and the way back, unless SQLite's quick_check
    passes. A no-op for PostgreSQL and for in-memory databases.

    quick_check reads every page (O(size): milliseconds for the few MB a flag store holds)
    without the index cross-checks of a full integrity_check.
    """
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return
    found = _quick_check(engine)
    if found != "ok":
        raise DatabaseDamaged(
            f"the database {describe(engine)} is damaged ({found[:200]}); "
            f"the server will not use it: {_RESTORE}"
        )


class DamageWatch:
    """Notices a SQLite file that became damaged while the server runs.

    After the first query that meets damage (or a periodic `check()` that finds it), `damaged`
    holds SQLite's complaint, the event is logged once at ERROR, every later write transaction
    raises DamageFound before it touches the file, and queries that meet damage raise
    DamageFound (503) instead of an unexpected error (500). Reads of intact pages and the SDK
    paths, which serve from memory, go on.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.damaged: str | None = None
        self._lock = threading.Lock()
        if is_sqlite(engine):
            event.listen(engine, "handle_error", self._on_error)
            event.listen(engine, "begin", self._on_begin)

    def _mark(self, reason: str) -> None:
        with self._lock:
            if self.damaged is not None:
                return
            self.damaged = reason
        log.error(
            "the database %s is damaged (%s): writes are refused and /readyz answers 503; %s",
            describe(self.engine),
            reason[:200],
            _RESTORE,
        )

    def _error(self, statement: str | None, orig: BaseException) -> DamageFound:
        return DamageFound(statement, None, orig)

    def _on_error(self, context: ExceptionContext) -> None:
        if _is_damage(context.original_exception):
            self._mark(str(context.original_exception))
            raise self._error(context.statement, context.original_exception)

    def _on_begin(self, conn: Any) -> None:
        if self.damaged is not None and conn.get_execution_options().get("immediate", False):
            reason = sqlite3.DatabaseError(f"the database is damaged: {self.damaged[:200]}")
            raise self._error(None, reason)

    def check(self) -> str | None:
        """Run quick_check now (the periodic check); the complaint, or None when intact.

        It reads the file through a connection of its own, never the pool's: a pooled
        connection may answer from pages it cached before the file was damaged.
        """
        database = self.engine.url.database
        if not is_sqlite(self.engine) or database in (None, "", ":memory:"):
            return self.damaged
        if self.damaged is not None:
            return self.damaged
        uri = f"file:{quote(database)}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                rows = db.execute("PRAGMA quick_check(5)").fetchall()
            found = [str(row[0]) for row in rows]
            complaint = None if found == ["ok"] else "; ".join(found)
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise
            complaint = str(exc)
        if complaint is not None:
            self._mark(complaint)
        return self.damaged
