"""Database engines: SQLite (WAL, foreign keys, immediate write transactions) or PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DataError

from .files import DIR_MODE, create_private_file, secure_sqlite_files

__all__ = ["StoreUnavailable", "create_db_engine", "describe", "is_sqlite", "writer"]

log = logging.getLogger("launchsequence.store")

CONNECT_TIMEOUT_SECONDS = 5  # a database host that drops packets must not hold requests for minutes


class StoreUnavailable(RuntimeError):
    """The database cannot be opened or reached; the message names the path or the URL's host."""


def describe(engine: Engine) -> str:
    """Where the database is, for an operator's message: the SQLite file, or the URL with its
    password hidden."""
    if engine.url.get_backend_name() == "sqlite":
        return engine.url.database or ":memory:"
    return engine.url.render_as_string(hide_password=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_db_engine(url: str) -> Engine:
    """An engine for `url`. For SQLite the file's directory is created when missing (0700), a
    new database file is created 0600 (SQLite gives its WAL the same mode), and an existing one
    readable by others is made private.

    SQLite: WAL journal, foreign keys on, a 10 s busy timeout. Transactions opened through
    `writer(engine)` begin IMMEDIATE, so two writers queue instead of failing when one upgrades
    a read lock; reads begin deferred and never wait for writers.

    PostgreSQL: connections are pinged at checkout, a new one gives up after
    CONNECT_TIMEOUT_SECONDS (unless the URL sets `connect_timeout`), and an outage is logged
    once when it starts and once when it ends.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            path = Path(database)
            try:
                path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"cannot create {path.parent}: {exc.strerror}") from exc
            try:
                create_private_file(path)
                secure_sqlite_files(path)
            except OSError:
                pass  # a read-only directory: opening the database reports it, naming the file
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, pool_size=8
        )
        _sqlite_setup(engine)
        return engine
    connect_args = (
        {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )
    # Pre-ping: a connection the database dropped (restart, failover) is replaced at checkout
    # instead of failing the request that draws it.
    engine = create_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args
    )
    _watch_outages(engine)
    return engine


def _watch_outages(engine: Engine) -> None:
    """Log an outage once when it starts and once when it ends, however many requests and
    background tasks run into it meanwhile: the database is down from the first failed
    connection (or one dropped mid-query) until a new connection succeeds."""
    lock = threading.Lock()
    down_since: list[float] = []  # empty while the database answers

    @event.listens_for(engine, "handle_error")
    def _failed(context: ExceptionContext) -> None:
        # A failed pre-ping only finds a stale connection; the reconnect after it decides.
        if context.is_pre_ping or not (context.is_disconnect or context.connection is None):
            return
        with lock:
            if down_since:
                return
            down_since.append(time.monotonic())
        reason = (str(context.original_exception).strip().splitlines() or [""])[0][:200]
        log.warning(
            "database unreachable (%s: %s): SDK evaluations and open streams go on from "
            "memory; writes, sign-ins and /readyz answer 503 until it is back",
            type(context.original_exception).__name__,
            reason,
        )

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, _record: Any) -> None:
        with lock:
            if not down_since:
                return
            started = down_since.pop()
        log.warning("database reachable again after %.1f s", time.monotonic() - started)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _no_nul(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        # PostgreSQL refuses NUL in text; SQLite would store it. Refuse it here too, so that
        # a value is accepted or refused the same on either database (DataError: 422).
        rows = parameters if many else [parameters]
        for row in rows or ():
            values = row.values() if isinstance(row, dict) else row or ()
            if any(type(v) is str and "\x00" in v for v in values):
                raise DataError(statement, None, ValueError("a NUL character in text"))


def writer(engine: Engine) -> Engine:
    """The engine whose transactions take SQLite's write lock at once (no-op elsewhere)."""
    return engine.execution_options(immediate=True)
