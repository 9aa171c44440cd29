"""Online backups of the SQLite database, with SQLite's own backup API.

The copy is a consistent snapshot taken while the server keeps running and writing (WAL mode
lets readers and the backup proceed alongside writers). PostgreSQL has `pg_dump` for this.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from .db import StoreUnavailable
from .files import create_private_file

__all__ = ["backup_sqlite"]


def backup_sqlite(database_url: str, destination: str) -> int:
    """Copy the database to `destination` (a new file, mode 0600); the number of pages copied.

    Raises StoreUnavailable, naming the path, for a database that is not SQLite, a source that
    does not exist, or a destination that exists or cannot be written.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise StoreUnavailable("backup copies SQLite databases; for PostgreSQL use pg_dump")
    source = Path(url.database)
    if not source.exists():
        raise StoreUnavailable(f"no database at {source}")
    target = Path(destination)
    if target.exists():
        raise StoreUnavailable(f"{target} exists; choose a new file")
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.unlink(missing_ok=True)
        create_private_file(partial)  # a backup holds what the database holds: 0600
        with (
            sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src,
            sqlite3.connect(partial) as dst,
        ):
            src.backup(dst, pages=1024)
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise StoreUnavailable(f"the copy failed its integrity check: {check}")
        os.replace(partial, target)  # the backup appears whole or not at all
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot back up to {target}: {exc}") from exc
    except OSError as exc:
        raise StoreUnavailable(f"cannot write {target}: {exc.strerror}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return pages
