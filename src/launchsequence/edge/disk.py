"""The edge's copy on disk of what it last received, so that it starts and serves while its
upstream is unreachable.

One JSON file in the data directory, mode 0600 (it holds SDK key digests and the relay key's
digest), replaced atomically: written aside, synced, renamed over the old one, the directory
synced. A file that cannot be read is set aside, never served.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from .source import EnvironmentCopy

__all__ = ["SNAPSHOT_FILE", "DiskCopy", "load", "save"]

SNAPSHOT_FILE = "edge-snapshot.json"
FORMAT = 1
log = logging.getLogger("launchsequence.edge")


class DiskCopy:
    """What a saved file holds."""

    def __init__(
        self, project: dict[str, Any], cursor: str, saved_at: int, envs: list[EnvironmentCopy]
    ) -> None:
        self.project = project
        self.cursor = cursor
        self.saved_at = saved_at
        self.envs = envs


def save(
    directory: Path,
    project: dict[str, Any],
    cursor: str,
    saved_at: int,
    envs: list[EnvironmentCopy],
) -> None:
    """Write the copy atomically (blocking)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = orjson.dumps(
        {
            "format": FORMAT,
            "project": project,
            "cursor": cursor,
            "saved_at": saved_at,
            "environments": [e.as_json() for e in envs],
        }
    )
    path = directory / SNAPSHOT_FILE
    partial = directory / f"{SNAPSHOT_FILE}.{os.getpid()}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(directory: Path) -> DiskCopy | None:
    """The saved copy, or None (none, or unreadable: then renamed aside with a log line)."""
    path = directory / SNAPSHOT_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = orjson.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        envs = [EnvironmentCopy.from_json(e) for e in data["environments"]]
        return DiskCopy(dict(data["project"]), str(data["cursor"]), int(data["saved_at"]), envs)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        aside = path.with_name(SNAPSHOT_FILE + ".unreadable")
        os.replace(path, aside)
        log.error("the saved snapshot %s cannot be read (%s): moved to %s", path, exc, aside)
        return None


def remove(directory: Path) -> None:
    """Delete the copy (the relay key was revoked: nothing of it may be served again)."""
    (directory / SNAPSHOT_FILE).unlink(missing_ok=True)
