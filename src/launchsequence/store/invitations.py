"""Invitations to an organization. The token arrives here hashed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .atomic import take
from .tables import invitations, organizations

__all__ = [
    "create_invitation",
    "delete_expired",
    "delete_invitation",
    "invitation_by_hash",
    "list_invitations",
    "take_invitation",
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


def take_invitation(conn: Connection, token_hash: str, *, now: int) -> dict[str, Any] | None:
    """Use up the unexpired invitation with this token: delete it and return it with its
    organization's key and name, or None. Of concurrent callers with one token exactly one
    gets it; a rollback (a check that failed afterwards) gives it back."""
    row = take(
        conn, invitations, invitations.c.token_hash == token_hash, invitations.c.expires_at > now
    )
    if row is None:
        return None
    org = conn.execute(
        select(organizations.c.key, organizations.c.name).where(organizations.c.id == row["org_id"])
    ).one()
    return {**row, "org_key": org.key, "org_name": org.name}


def delete_invitation(conn: Connection, *, invitation_id: int, org_id: int) -> bool:
    """Whether an invitation of this organization was deleted."""
    result = conn.execute(
        delete(invitations).where(invitations.c.id == invitation_id, invitations.c.org_id == org_id)
    )
    return result.rowcount > 0


def delete_expired(conn: Connection, *, now: int) -> None:
    conn.execute(delete(invitations).where(invitations.c.expires_at <= now))
