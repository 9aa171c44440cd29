"""Private files: the data directory is 0700 and every file the server keeps in it is 0600.

The SQLite file and its WAL hold password hashes, session and key hashes and every flag; the
secret key signs sessions. None of it is for other users of the machine, whatever the umask.
SQLite creates `-wal` and `-shm` files with the mode of the database file, so creating the
database 0600 keeps its companions private too. Files an earlier version left readable are
tightened at start, with a log line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "create_private_file",
    "secure_data_dir",
    "secure_sqlite_files",
    "tighten",
]

log = logging.getLogger("launchsequence.store")

DIR_MODE = 0o700
FILE_MODE = 0o600


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (so SQLite opens it, not a 0644
    file of its own making)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def tighten(path: Path, mode: int) -> None:
    """Remove permissions beyond `mode` from `path` if this process owns it; logs a change."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(info.st_mode)
    if info.st_uid != os.geteuid() or not current & ~mode:
        return
    try:
        path.chmod(current & mode)
    except OSError as exc:  # a read-only mount: whatever needs to write there says so
        log.info("cannot make %s private: %s", path, exc.strerror)
        return
    log.warning("made %s private (mode %o, was %o)", path, current & mode, current)


def secure_data_dir(directory: Path) -> None:
    """Tighten an existing data directory to 0700 and the regular files in it to 0600."""
    if not directory.is_dir():
        return
    tighten(directory, DIR_MODE)
    for entry in directory.iterdir():
        if entry.is_file() and not entry.is_symlink():
            tighten(entry, FILE_MODE)


def secure_sqlite_files(database: Path) -> None:
    """The database file and its journal companions, if present, 0600."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        tighten(database.with_name(database.name + suffix), FILE_MODE)
