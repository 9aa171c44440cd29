"""What a process compares with its memory to find changes it did not hear of: environment
versions and SDK key expiries. Both read primary-key or unique-index lookups only, cheap enough
to run every few seconds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from .tables import environments, sdk_keys

__all__ = ["environment_versions", "sdk_key_expiries"]

_CHUNK = 500  # values per IN list: well under SQLite's limit on bound parameters


def environment_versions(conn: Connection, environment_ids: Sequence[int]) -> dict[int, int]:
    """The current version of each environment that still exists (a deleted one is absent)."""
    found: dict[int, int] = {}
    for start in range(0, len(environment_ids), _CHUNK):
        chunk = list(environment_ids[start : start + _CHUNK])
        rows = conn.execute(
            select(environments.c.id, environments.c.version).where(environments.c.id.in_(chunk))
        )
        found.update({int(r.id): int(r.version) for r in rows})
    return found


def sdk_key_expiries(conn: Connection, key_hashes: Sequence[str]) -> dict[str, int | None]:
    """The expiry (Unix ms, None for none) of each key that still exists, by its hash."""
    found: dict[str, int | None] = {}
    for start in range(0, len(key_hashes), _CHUNK):
        chunk = list(key_hashes[start : start + _CHUNK])
        rows = conn.execute(
            select(sdk_keys.c.key_hash, sdk_keys.c.expires_at).where(sdk_keys.c.key_hash.in_(chunk))
        )
        found.update({str(r.key_hash): r.expires_at for r in rows})
    return found
