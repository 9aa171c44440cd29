"""Invitations to an organization. The token arrives here hashed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .tables import invitations, organizations

__all__ = [
    "create_invitation",
    "delete_expired",
    "delete_invitation",
    "invitation_by_hash",
    "list_invitations",
]


def create_invitation(conn: Connection, values: dict[str, Any]) -> int:
    return int(
        conn.execute(insert(invitations).values(values).returning(invitations.c.id)).scalar_one()
    )


def list_invitations(conn: Connection, org_id: int, *, now: int) -> list[dict[str, Any]]:
    """The organization's pending (unexpired) invitations, oldest first."""
    query = (
        select(invitations)
        .where(invitations.c.org_id == org_id, invitations.c.expires_at > now)
        .order_by(invitations.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def invitation_by_hash(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """The invitation with its organization's key and name, or None."""
    query = (
        select(
            invitations,
            organizations.c.key.label("org_key"),
            organizations.c.name.label("org_name"),
        )
        .join(organizations, organizations.c.id == invitations.c.org_id)
        .where(invitations.c.token_hash == token_hash)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def delete_invitation(conn: Connection, *, invitation_id: int, org_id: int) -> bool:
    """Whether an invitation of this organization was deleted."""
    result = conn.execute(
        delete(invitations).where(invitations.c.id == invitation_id, invitations.c.org_id == org_id)
    )
    return result.rowcount > 0


def delete_expired(conn: Connection, *, now: int) -> None:
    conn.execute(delete(invitations).where(invitations.c.expires_at <= now))
