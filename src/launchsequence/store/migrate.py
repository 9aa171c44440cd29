"""Schema migrations with Alembic, applied programmatically (`launchseq migrate`, `serve`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from .db import StoreUnavailable, describe, writer

__all__ = ["alembic_config", "is_current", "upgrade"]

_MIGRATIONS = Path(__file__).parent / "migrations"
# The PostgreSQL advisory lock that migrators of one database queue on (any fixed number).
_LOCK_KEY = 0x6C61756E6368  # "launch"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks, in one transaction where the database allows.

    Instances starting together on one database queue instead of racing: the first applies the
    migrations, the others then find nothing to do. PostgreSQL: a transaction-scoped advisory
    lock, taken before anything is read. SQLite: the transaction begins IMMEDIATE, taking the
    write lock at once (the others wait for it up to the busy timeout).

    Raises StoreUnavailable, naming the database, when it cannot be opened or written (a
    read-only directory, a full disk, an unreachable server).
    """
    config = alembic_config()
    try:
        with writer(engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        reason = (str(exc.orig or exc).strip().splitlines() or ["unknown error"])[0]
        where = describe(engine)
        raise StoreUnavailable(f"cannot open or update the database {where}: {reason}") from exc


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
