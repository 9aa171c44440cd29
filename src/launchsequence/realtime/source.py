"""Where the hubs get what they serve: the *source* of snapshots, versions and SDK key records.

At the core the source is the database (`database.DatabaseSource`); at an edge it is the
upstream relay stream, held in memory (`launchsequence.edge.source`). Neither the hub code nor
`sdk/` knows which: they see only this protocol. Every method may block (call it from a worker
thread) and raises `SourceUnavailable` when the source cannot answer now (the database is
unreachable); any other exception is a bug of the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["KeyRecord", "Owner", "RelayKeyRecord", "SnapshotSource", "SourceUnavailable"]


class SourceUnavailable(Exception):
    """The source cannot answer now (its database or its upstream is unreachable)."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose environment it is: ids for authorization, keys for logs and metrics."""

    org_id: int
    project_id: int
    org: str
    project: str
    environment: str


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An SDK key as the source knows it, found by the SHA-256 digest of its secret."""

    kind: str  # "server" or "client"
    env_id: int
    project_id: int
    org_id: int
    expires_at: int | None  # Unix ms; None: no expiry


@dataclass(frozen=True, slots=True)
class RelayKeyRecord:
    """A relay key (what an edge node presents upstream), found by the digest of its secret.
    It covers every environment of its project."""

    key_id: int
    project_id: int
    org_id: int
    name: str
    revoked: bool


class SnapshotSource(Protocol):
    def owner(self, env_id: int) -> Owner | None:
        """Who owns the environment; None if it does not exist (or is not covered)."""

    def snapshot(self, env_id: int) -> dict[str, Any] | None:
        """The environment's current snapshot document (spec/snapshot schema); None if gone."""

    def versions(self, env_ids: Sequence[int]) -> dict[int, int]:
        """The current version of each environment that still exists (a gone one is absent)."""

    def key(self, digest: str) -> KeyRecord | None:
        """The key with this digest, expired or not; None if there is none."""

    def key_expiries(self, digests: Sequence[str]) -> dict[str, int | None]:
        """The expiry of each key that still exists, by digest (a gone one is absent)."""

    # --- what the relay stream (to edge nodes) needs -------------------------------------

    def relay_key(self, digest: str) -> RelayKeyRecord | None:
        """The relay key with this digest, revoked or not; None if there is none."""

    def environments(self, project_id: int) -> list[int]:
        """The ids of the project's environments, oldest first."""

    def environment_keys(self, env_id: int) -> list[dict[str, Any]]:
        """Every SDK key of the environment, expired or not, as
        `{"digest", "kind", "expires_at"}`: what an edge checks presented keys against."""

    def archived_flags(self, env_id: int) -> list[str]:
        """The keys of the archived flags of the environment's project, sorted: the keys an
        edge counts FLAG_NOT_FOUND answers of (as the core does), and no others."""


def describe(source: Any) -> str:
    """A short name of the source for logs ("database", "upstream")."""
    return str(getattr(source, "name", type(source).__name__))
