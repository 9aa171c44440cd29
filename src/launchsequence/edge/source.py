"""The edge's source: what the upstream relay stream sent, held in memory.

It implements `realtime.source.SnapshotSource`, so the hubs, the key cache and `sdk/` work
exactly as at the core. Until the first snapshot arrives (from upstream or from disk) every
read raises `SourceUnavailable` (503); once the relay key is revoked, nothing is served:
every environment is gone and every key unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..realtime.source import KeyRecord, Owner, RelayKeyRecord, SourceUnavailable

__all__ = ["EnvironmentCopy", "UpstreamSource"]


@dataclass(frozen=True, slots=True)
class EnvironmentCopy:
    """One covered environment as last received."""

    env_id: int
    owner: Owner
    snapshot: dict[str, Any]
    keys: tuple[dict[str, Any], ...]
    archived: frozenset[str] = frozenset()  # the keys of the project's archived flags

    @property
    def version(self) -> int:
        return int(self.snapshot["version"])

    def as_json(self) -> dict[str, Any]:
        o = self.owner
        return {
            "env_id": self.env_id,
            "version": self.version,
            "keys": list(self.keys),
            "archived": sorted(self.archived),
            "owner": {
                "org_id": o.org_id,
                "project_id": o.project_id,
                "org": o.org,
                "project": o.project,
                "environment": o.environment,
            },
            "snapshot": self.snapshot,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnvironmentCopy:
        o = data["owner"]
        owner = Owner(
            int(o["org_id"]),
            int(o["project_id"]),
            str(o["org"]),
            str(o["project"]),
            str(o["environment"]),
        )
        snapshot = data["snapshot"]
        if not isinstance(snapshot, dict) or not isinstance(snapshot.get("version"), int):
            raise ValueError("an environment without a snapshot version")
        keys = tuple(_key(k) for k in data.get("keys", []))
        archived = data.get("archived", [])  # absent from an older upstream, or disk copy
        if not isinstance(archived, list) or not all(isinstance(k, str) for k in archived):
            raise ValueError("`archived` must be a list of flag keys")
        return cls(int(data["env_id"]), owner, snapshot, keys, frozenset(archived))


def _key(raw: Any) -> dict[str, Any]:
    expires = raw.get("expires_at")
    if raw.get("kind") not in ("server", "client") or not isinstance(raw.get("digest"), str):
        raise ValueError("a malformed SDK key record")
    return {
        "digest": raw["digest"],
        "kind": raw["kind"],
        "expires_at": expires if isinstance(expires, int) else None,
    }


class UpstreamSource:
    """`SnapshotSource` fed by the relay stream (thread-safe: replaced whole under a lock)."""

    name = "upstream"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._envs: dict[int, EnvironmentCopy] = {}
        self._keys: dict[str, KeyRecord] = {}
        self.project: dict[str, Any] | None = None  # the `hello` of the upstream
        self.relay_digest: str | None = None
        self.ready = False  # a snapshot has been had, from upstream or disk
        self.revoked = False

    # --- fed by the upstream client -------------------------------------------------------

    def hello(self, project: dict[str, Any]) -> None:
        with self._lock:
            self.project = dict(project)
            self.relay_digest = str(project.get("relay_key") or "") or None
            self.revoked = False

    def put(self, env: EnvironmentCopy) -> bool:
        """Hold `env` (replacing what was held of it); True if its keys are not the ones held
        before (a new environment, or a rotation that came with the snapshot)."""
        with self._lock:
            before = self._envs.get(env.env_id)
            self._envs[env.env_id] = env
            self._reindex()
            self.ready = True
            return before is None or before.keys != env.keys

    def set_keys(self, env_id: int, keys: list[dict[str, Any]]) -> bool:
        """Replace an environment's key digests; False if the environment is not held."""
        with self._lock:
            env = self._envs.get(env_id)
            if env is None:
                return False
            self._envs[env_id] = EnvironmentCopy(
                env_id, env.owner, env.snapshot, tuple(_key(k) for k in keys), env.archived
            )
            self._reindex()
            return True

    def drop(self, env_id: int) -> None:
        with self._lock:
            self._envs.pop(env_id, None)
            self._reindex()

    def keep_only(self, env_ids: set[int]) -> list[int]:
        """Forget environments no longer covered; the ids forgotten."""
        with self._lock:
            dropped = [e for e in self._envs if e not in env_ids]
            for env_id in dropped:
                del self._envs[env_id]
            self._reindex()
            return dropped

    def revoke(self) -> list[int]:
        """The relay key was revoked: forget everything (the ids forgotten)."""
        with self._lock:
            dropped = list(self._envs)
            self._envs.clear()
            self._keys.clear()
            self.revoked = True
            self.relay_digest = None
            return dropped

    def _reindex(self) -> None:
        keys: dict[str, KeyRecord] = {}
        for env in self._envs.values():
            for k in env.keys:
                keys[k["digest"]] = KeyRecord(
                    k["kind"], env.env_id, env.owner.project_id, env.owner.org_id, k["expires_at"]
                )
        self._keys = keys

    def copies(self) -> list[EnvironmentCopy]:
        with self._lock:
            return list(self._envs.values())

    # --- SnapshotSource -------------------------------------------------------------------

    def _check(self) -> None:
        if not self.ready and not self.revoked:
            raise SourceUnavailable("no snapshot from upstream yet")

    def owner(self, env_id: int) -> Owner | None:
        self._check()
        env = self._envs.get(env_id)
        return env.owner if env else None

    def snapshot(self, env_id: int) -> dict[str, Any] | None:
        self._check()
        env = self._envs.get(env_id)
        return env.snapshot if env else None

    def versions(self, env_ids: Sequence[int]) -> dict[int, int]:
        self._check()
        envs = self._envs
        return {e: envs[e].version for e in env_ids if e in envs}

    def key(self, digest: str) -> KeyRecord | None:
        self._check()
        return self._keys.get(digest)

    def key_expiries(self, digests: Sequence[str]) -> dict[str, int | None]:
        keys = self._keys
        return {d: keys[d].expires_at for d in digests if d in keys}

    def relay_key(self, digest: str) -> RelayKeyRecord | None:
        self._check()
        project = self.project
        if project is None or self.relay_digest is None or digest != self.relay_digest:
            return None
        return RelayKeyRecord(
            0, int(project["project_id"]), int(project["org_id"]), "upstream", revoked=self.revoked
        )

    def environments(self, project_id: int) -> list[int]:
        self._check()
        return sorted(e.env_id for e in self._envs.values() if e.owner.project_id == project_id)

    def environment_keys(self, env_id: int) -> list[dict[str, Any]]:
        env = self._envs.get(env_id)
        return [dict(k) for k in env.keys] if env else []

    def archived_flags(self, env_id: int) -> list[str]:
        env = self._envs.get(env_id)
        return sorted(env.archived) if env else []

    def archived(self) -> dict[int, frozenset[str]]:
        """{environment id: its archived flag keys}, for the usage counter."""
        return {e.env_id: e.archived for e in self.copies() if e.archived}
