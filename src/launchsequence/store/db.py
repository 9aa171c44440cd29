"""Database engines: SQLite (WAL, foreign keys, immediate write transactions) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["StoreUnavailable", "create_db_engine", "describe", "is_sqlite", "writer"]


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
    """An engine for `url`. For SQLite the file's directory is created when missing.

    SQLite: WAL journal, foreign keys on, a 10 s busy timeout. Transactions opened through
    `writer(engine)` begin IMMEDIATE, so two writers queue instead of failing when one upgrades
    a read lock; reads begin deferred and never wait for writers.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            path = Path(database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"cannot create {path.parent}: {exc.strerror}") from exc
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, pool_size=8
        )
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


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


def writer(engine: Engine) -> Engine:
    """The engine whose transactions take SQLite's write lock at once (no-op elsewhere)."""
    return engine.execution_options(immediate=True)
