"""The last snapshot on disk, so that a restart while the server is down still serves flags."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["load_snapshot", "save_snapshot"]

log = logging.getLogger("launchsequence_sdk")


def save_snapshot(path: Path, document: dict[str, Any]) -> None:
    """Write atomically (a temp file in the same directory, then a rename); never raises."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except Exception as exc:  # noqa: BLE001 - a full disk must not stop the flags from updating
        log.warning("launchsequence: could not persist the snapshot to %s: %s", path, exc)


def load_snapshot(path: Path) -> dict[str, Any] | None:
    """The persisted document, or None when there is none or it cannot be read."""
    try:
        with path.open(encoding="utf-8") as src:
            document = json.load(src)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("launchsequence: ignoring the persisted snapshot %s: %s", path, exc)
        return None
    return document if isinstance(document, dict) else None
