"""Relay keys: one project's key for edge nodes, stored as a SHA-256 digest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from .tables import organizations, projects, relay_keys

__all__ = ["create_relay_key", "list_relay_keys", "relay_key_by_hash", "revoke_relay_key"]


def create_relay_key(
    conn: Connection, *, project_id: int, name: str, key_hash: str, prefix: str, at: int
) -> int:
    row = conn.execute(
        insert(relay_keys)
        .values(project_id=project_id, name=name, key_hash=key_hash, prefix=prefix, created_at=at)
        .returning(relay_keys.c.id)
    ).one()
    return int(row.id)


def list_relay_keys(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's relay keys, revoked ones included, newest first."""
    query = (
        select(relay_keys)
        .where(relay_keys.c.project_id == project_id)
        .order_by(relay_keys.c.id.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def revoke_relay_key(conn: Connection, *, project_id: int, key_id: int, at: int) -> bool:
    """Revoke the project's key `key_id`; False if it has no such key (or it was revoked)."""
    done = conn.execute(
        update(relay_keys)
        .where(
            relay_keys.c.id == key_id,
            relay_keys.c.project_id == project_id,
            relay_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    return bool(done.rowcount)


def relay_key_by_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    """The key with its project's and organization's ids and keys, revoked or not."""
    row = (
        conn.execute(
            select(
                relay_keys,
                projects.c.org_id,
                projects.c.key.label("project_key"),
                organizations.c.key.label("org_key"),
            )
            .join(projects, projects.c.id == relay_keys.c.project_id)
            .join(organizations, organizations.c.id == projects.c.org_id)
            .where(relay_keys.c.key_hash == key_hash)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
