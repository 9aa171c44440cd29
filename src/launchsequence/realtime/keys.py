"""SDK keys, resolved from memory on the hot path and from the source on a miss.

A key's record is cached by the SHA-256 digest of the key. Rotation sets an expiry on the old
key; `invalidate(env_id)` (called on rotation here, by the change feed for other processes,
and by the upstream client at an edge) re-reads the records of that environment so open
streams see the new expiry, and
`revalidate()` (the periodic version check) re-reads every cached key, repairing a rotation
whose notification this process never heard.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..secrets import digest
from .source import KeyRecord, SnapshotSource

__all__ = ["KeyCache", "SdkKey"]

_NEGATIVE_TTL = 5.0
_NEGATIVE_MAX = 10_000
_PRESENTED_MAX = 10_000
_MAX_KEY_LENGTH = 200


@dataclass(slots=True)
class SdkKey:
    """A resolved key. `expires_at` (Unix ms, None for no expiry) may change after rotation."""

    digest: str
    kind: str  # "server" or "client"
    env_id: int
    project_id: int
    org_id: int
    expires_at: int | None

    def valid(self, now_ms: int) -> bool:
        return self.expires_at is None or now_ms < self.expires_at


class KeyCache:
    def __init__(self, source: SnapshotSource) -> None:
        self._source = source
        self._keys: dict[str, SdkKey] = {}
        self._unknown: dict[str, float] = {}
        #: Known keys by the secret presented, so that the hot path hashes a key once, not on
        #: every request: the secrets of keys in use, held in memory only (the database keeps
        #: digests). Emptied whenever a key leaves `_keys`.
        self._presented: dict[str, SdkKey] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> SdkKey | bool | None:
        """The key if known, None if known not to exist, False if the source must say."""
        found = self._presented.get(secret)
        if found is not None:
            return found
        if len(secret) > _MAX_KEY_LENGTH:
            return None
        hashed = digest(secret)
        found = self._keys.get(hashed)
        if found is not None:
            if len(self._presented) >= _PRESENTED_MAX:
                self._presented.clear()
            self._presented[secret] = found
            return found
        seen = self._unknown.get(hashed)
        if seen is not None and time.monotonic() - seen < _NEGATIVE_TTL:
            return None
        return False

    def load(self, secret: str) -> SdkKey | None:
        """Resolve through the source (blocking: call from a worker thread); raises
        `SourceUnavailable` when it cannot answer."""
        hashed = digest(secret)
        row = self._source.key(hashed)
        if row is None:
            with self._lock:
                if len(self._unknown) >= _NEGATIVE_MAX:
                    self._unknown.clear()
                self._unknown[hashed] = time.monotonic()
            return None
        key = _from_row(hashed, row)
        with self._lock:
            return self._keys.setdefault(hashed, key)

    def load_digest(self, hashed: str) -> SdkKey | None:
        """A key by its digest (for signed stream tokens), cached or from the source."""
        found = self._keys.get(hashed)
        if found is not None:
            return found
        row = self._source.key(hashed)
        if row is None:
            return None
        with self._lock:
            return self._keys.setdefault(hashed, _from_row(hashed, row))

    def invalidate(self, env_id: int) -> None:
        """Re-read every cached key of an environment (blocking), updating them in place."""
        with self._lock:
            mine = [k for k in self._keys.values() if k.env_id == env_id]
        rows = {k.digest: self._source.key(k.digest) for k in mine}
        with self._lock:
            for key in mine:
                row = rows[key.digest]
                if row is None:
                    key.expires_at = 0  # deleted with its environment: expired
                    self._keys.pop(key.digest, None)
                    self._presented.clear()
                else:
                    key.expires_at = row.expires_at
            self._unknown.clear()

    def revalidate(self) -> bool:
        """Re-read the expiry of every cached key (blocking; one indexed query per 500 keys).
        True if any key changed: expired, or gone with its environment."""
        with self._lock:
            cached = list(self._keys.values())
        if not cached:
            return False
        stored = self._source.key_expiries([k.digest for k in cached])
        changed = False
        with self._lock:
            for key in cached:
                if key.digest not in stored:
                    key.expires_at = 0
                    self._keys.pop(key.digest, None)
                    self._presented.clear()
                    changed = True
                    continue
                # An expiry only ever moves earlier (rotation keeps an earlier one), so a read
                # that raced a newer `invalidate` never brings a later one back.
                expires_at = _earliest(key.expires_at, stored[key.digest])
                if expires_at != key.expires_at:
                    key.expires_at = expires_at
                    changed = True
        return changed


def _earliest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _from_row(hashed: str, row: KeyRecord) -> SdkKey:
    return SdkKey(hashed, row.kind, row.env_id, row.project_id, row.org_id, row.expires_at)
