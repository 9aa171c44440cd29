"""The relay protocol between a core (or an edge) and the edge nodes below it.

One SSE stream per edge, authenticated by a relay key (it covers one project). Events:

- `hello` `{"project_id", "org_id", "relay_key", "upstream_version"}`: first; `relay_key` is
  the digest of the key the edge presented, which it checks its own downstream edges against.
- `env` `{"env_id", "owner": {...}, "version", "snapshot": {...}, "keys": [...],
  "archived": [...]}`: one environment whole: its snapshot (the very document the server
  stream sends), the digests of its server and client keys, and the keys of its project's
  archived flags (which the snapshot leaves out; the edge counts usage of those keys as the
  core does, and of no other key the snapshot lacks). Sent for each covered environment on
  connect and again on each change (archiving or restoring a flag is one: it moves the
  version).
- `keys` `{"env_id", "keys": [...]}`: the environment's SDK keys changed (rotation, expiry).
- `gone` `{"env_id"}`: the environment was deleted.
- `synced` `{"env_ids": [...]}`: every covered environment has been sent; environments not
  listed are no longer covered.
- `revoked` `{}`: the relay key was revoked; the stream ends and the edge stops serving.

Each `env`, `keys` and `gone` event carries an `id`, the *cursor*: for every environment sent
so far its version and a fingerprint of its keys (`3.7.9f2c1a0b-4.2.0c11d3e2`). A reconnect
with `Last-Event-ID` is sent only the environments whose version or keys differ from it.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from .source import Owner

__all__ = ["Cursor", "EdgeRegistry", "EdgeSession", "env_event", "keys_fingerprint"]

_ENTRY = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})\.([0-9a-f]{8})")
MAX_CURSOR_LENGTH = 16_384


def keys_fingerprint(keys: list[dict[str, Any]]) -> str:
    return hashlib.sha256(orjson.dumps(keys, option=orjson.OPT_SORT_KEYS)).hexdigest()[:8]


class Cursor:
    """Per environment: (version, keys fingerprint) sent so far."""

    def __init__(self, entries: dict[int, tuple[int, str]] | None = None) -> None:
        self.entries: dict[int, tuple[int, str]] = dict(entries or {})

    @classmethod
    def parse(cls, raw: str | None) -> Cursor:
        """The cursor of a Last-Event-ID; an empty one for anything this code did not write."""
        entries: dict[int, tuple[int, str]] = {}
        if raw and len(raw) <= MAX_CURSOR_LENGTH:
            for part in raw.split("-"):
                match = _ENTRY.fullmatch(part)
                if match is None:
                    return cls()
                entries[int(match[1])] = (int(match[2]), match[3])
        return cls(entries)

    def __str__(self) -> str:
        return "-".join(f"{e}.{v}.{k}" for e, (v, k) in sorted(self.entries.items())) or "0"


def env_event(
    owner: Owner,
    env_id: int,
    body: bytes,
    version: int,
    keys: list[dict[str, Any]],
    archived: list[str],
) -> bytes:
    """The `env` payload, with the snapshot's JSON (already encoded by the hub) spliced in.
    `archived`: the keys of the project's archived flags (an edge counts answers for those
    keys, and for the snapshot's flags, and no others)."""
    head = orjson.dumps(
        {
            "env_id": env_id,
            "version": version,
            "keys": keys,
            "archived": archived,
            "owner": {
                "org_id": owner.org_id,
                "project_id": owner.project_id,
                "org": owner.org,
                "project": owner.project,
                "environment": owner.environment,
            },
        }
    )
    return head[:-1] + b',"snapshot":' + body + b"}"


@dataclass(eq=False)
class EdgeSession:
    """One connected edge, as its upstream sees it (for the dashboard and /metrics)."""

    edge_id: str
    name: str
    address: str
    project_id: int
    key_name: str
    connected_at: int  # Unix ms
    sent: dict[int, int] = field(default_factory=dict)  # env id -> version sent
    last_sent: float = field(default_factory=time.monotonic)


class EdgeRegistry:
    """The edges connected to this process now (each process of a core knows its own)."""

    def __init__(self) -> None:
        self._sessions: set[EdgeSession] = set()

    def add(self, session: EdgeSession) -> None:
        self._sessions.add(session)

    def remove(self, session: EdgeSession) -> None:
        self._sessions.discard(session)

    def for_project(self, project_id: int) -> list[EdgeSession]:
        found = [s for s in self._sessions if s.project_id == project_id]
        return sorted(found, key=lambda s: (s.name, s.connected_at))

    def __len__(self) -> int:
        return len(self._sessions)
