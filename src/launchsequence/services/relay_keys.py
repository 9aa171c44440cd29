"""Relay keys: what an edge node presents to its upstream. One project's key covers all of its
environments; read-only (it reads snapshots and SDK key digests, never writes). Shown in full
once, at creation; stored as a SHA-256 digest; revoked, never rotated in place (create a new
one, move the edges, revoke the old one).

Another organization's project answers NotFound exactly as a missing one does; viewers list
the keys but may not create or revoke them.
"""

from __future__ import annotations

from typing import Any

from ..secrets import RELAY_KEY_PREFIX, digest, new_secret
from ..store import relay_keys as store
from .access import org_for, project_access, project_for
from .errors import NotFound
from .runtime import Actor, Runtime, check_name, record_audit

__all__ = ["RelayKeys"]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "created_at": row["created_at"],
        "revoked_at": row["revoked_at"],
    }


class RelayKeys:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def list(self, actor: Actor, org_key: str, project_key: str) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            return [_public(r) for r in store.list_relay_keys(conn, project["id"])]

    def project_id(self, actor: Actor, org_key: str, project_key: str) -> int:
        """The project's id, for a member (the dashboard's list of connected edges)."""
        with self.rt.db.connect() as conn:
            return int(project_for(conn, org_for(conn, actor, org_key), project_key)["id"])

    def create(self, actor: Actor, org_key: str, project_key: str, name: Any) -> dict[str, Any]:
        """A new key, with the secret in `key`: this answer is the only time it is shown."""
        name = check_name(name)
        now = self.rt.now()
        secret = new_secret(RELAY_KEY_PREFIX, 32)
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            key_id = store.create_relay_key(
                conn,
                project_id=project["id"],
                name=name,
                key_hash=digest(secret),
                prefix=secret[:14],
                at=now,
            )
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="relay_key.created",
                resource=name,
                project=project_key,
                after={"name": name, "prefix": secret[:14]},
            )
        row = {
            "id": key_id,
            "name": name,
            "prefix": secret[:14],
            "created_at": now,
            "revoked_at": None,
        }
        return {**_public(row), "key": secret}

    def revoke(self, actor: Actor, org_key: str, project_key: str, key_id: int) -> None:
        """Revoke it: the edges using it stop within a second. NotFound for a key of another
        project, or one already revoked."""
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            rows = {r["id"]: r for r in store.list_relay_keys(conn, project["id"])}
            if not store.revoke_relay_key(
                conn, project_id=project["id"], key_id=key_id, at=self.rt.now()
            ):
                raise NotFound("no such relay key")
            name = rows[key_id]["name"]
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="relay_key.revoked",
                resource=name,
                project=project_key,
                before={"name": name, "prefix": rows[key_id]["prefix"]},
            )
