"""The core's source: snapshots, versions and SDK keys read from the database.

The only module of `realtime/` besides the change feed that reads the store. An unreachable
database (an `OperationalError`, or a connection found invalid) is raised as
`SourceUnavailable`; the store logs the outage itself, once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, OperationalError

from ..store import orgs as store
from ..store.relay_keys import relay_key_by_hash
from ..store.snapshot import build_snapshot, snapshot_connection
from ..store.tables import environments, flags, organizations, projects, sdk_keys
from ..store.versions import environment_versions, sdk_key_expiries
from .source import KeyRecord, Owner, RelayKeyRecord, SourceUnavailable

__all__ = ["DatabaseSource"]


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except OperationalError:
        raise SourceUnavailable("the database is unreachable") from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise SourceUnavailable("the database is unreachable") from None
        raise


class DatabaseSource:
    """`SnapshotSource` over the store."""

    name = "database"

    def __init__(self, db: Engine) -> None:
        self.db = db

    def owner(self, env_id: int) -> Owner | None:
        with _unavailable(), self.db.connect() as conn:
            row = conn.execute(
                select(
                    projects.c.org_id,
                    environments.c.project_id,
                    organizations.c.key.label("org"),
                    projects.c.key.label("project"),
                    environments.c.key.label("environment"),
                )
                .join(projects, projects.c.id == environments.c.project_id)
                .join(organizations, organizations.c.id == projects.c.org_id)
                .where(environments.c.id == env_id)
            ).first()
        if row is None:
            return None
        return Owner(int(row.org_id), int(row.project_id), row.org, row.project, row.environment)

    def snapshot(self, env_id: int) -> dict[str, Any] | None:
        with _unavailable(), snapshot_connection(self.db) as conn:
            return build_snapshot(conn, env_id)

    def versions(self, env_ids: Sequence[int]) -> dict[int, int]:
        with _unavailable(), self.db.connect() as conn:
            return environment_versions(conn, env_ids)

    def key(self, digest: str) -> KeyRecord | None:
        with _unavailable(), self.db.connect() as conn:
            row = store.sdk_key_by_hash(conn, digest)
        if row is None:
            return None
        return KeyRecord(
            row["kind"], row["environment_id"], row["project_id"], row["org_id"], row["expires_at"]
        )

    def key_expiries(self, digests: Sequence[str]) -> dict[str, int | None]:
        with _unavailable(), self.db.connect() as conn:
            return sdk_key_expiries(conn, digests)

    def relay_key(self, digest: str) -> RelayKeyRecord | None:
        with _unavailable(), self.db.connect() as conn:
            row = relay_key_by_hash(conn, digest)
        if row is None:
            return None
        return RelayKeyRecord(
            int(row["id"]),
            int(row["project_id"]),
            int(row["org_id"]),
            row["name"],
            row["revoked_at"] is not None,
        )

    def environment_keys(self, env_id: int) -> list[dict[str, Any]]:
        with _unavailable(), self.db.connect() as conn:
            rows = conn.execute(
                select(sdk_keys.c.key_hash, sdk_keys.c.kind, sdk_keys.c.expires_at)
                .where(sdk_keys.c.environment_id == env_id)
                .order_by(sdk_keys.c.id)
            )
            return [
                {"digest": r.key_hash, "kind": r.kind, "expires_at": r.expires_at} for r in rows
            ]

    def archived_flags(self, env_id: int) -> list[str]:
        with _unavailable(), self.db.connect() as conn:
            rows = conn.execute(
                select(flags.c.key)
                .join(environments, environments.c.project_id == flags.c.project_id)
                .where(environments.c.id == env_id, flags.c.archived.is_(True))
                .order_by(flags.c.key)
            )
            return [str(r.key) for r in rows]

    def environments(self, project_id: int) -> list[int]:
        with _unavailable(), self.db.connect() as conn:
            rows = conn.execute(
                select(environments.c.id)
                .where(environments.c.project_id == project_id)
                .order_by(environments.c.id)
            )
            return [int(r.id) for r in rows]
