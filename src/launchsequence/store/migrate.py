"""Schema migrations with Alembic, applied programmatically (`launchseq migrate`, `serve`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from .db import StoreUnavailable, describe, writer

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "is_current", "upgrade"]

_MIGRATIONS = Path(__file__).parent / "migrations"
# The PostgreSQL advisory lock that migrators of one database queue on (any fixed number).
_LOCK_KEY = 0x6C61756E6368  # "launch"


_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def alembic_config() -> Config:
    from alembic.config import Config  # Alembic (6 MB) is loaded only when it has work

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
    if _already_current(engine):
        return
    from alembic import command

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


def _head_revision() -> str | None:
    """The newest migration's id, read from the `revision` and `down_revision` lines of the
    migration files without loading Alembic; None unless that reading is certain (one file per
    revision, each with both lines, exactly one head): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.findall(source)
        down = _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1 or revision[0] in revisions:
            return None
        revisions.add(revision[0])
        parents.update(_QUOTED.findall(down[0]))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _already_current(engine: Engine) -> bool:
    """Whether the database's recorded revision is the newest migration's (the usual start:
    nothing to apply, and Alembic not loaded). Any doubt (no such table, a database that
    cannot be read, an uncertain head) answers False, and Alembic's upgrade decides."""
    head = _head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except Exception:  # noqa: BLE001 - the upgrade reports what is wrong, as it always did
        return False
    return len(rows) == 1 and rows[0][0] == head


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
