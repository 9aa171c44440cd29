"""Forms kept while their author logs in again. The draft id arrives here hashed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .tables import drafts

__all__ = ["create_draft", "delete_expired", "make_room", "take_draft"]


def create_draft(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(drafts).values(values))


def take_draft(
    conn: Connection, *, token_hash: str, user_id: int, path: str, now: int
) -> dict[str, Any] | None:
    """The unexpired draft with this id, of this user, for this page, deleted as it is read;
    None otherwise (another user's draft stays where it is)."""
    query = select(drafts).where(
        drafts.c.token_hash == token_hash,
        drafts.c.user_id == user_id,
        drafts.c.path == path,
        drafts.c.expires_at > now,
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    conn.execute(delete(drafts).where(drafts.c.id == row["id"]))
    return dict(row)


def delete_expired(conn: Connection, *, now: int) -> None:
    conn.execute(delete(drafts).where(drafts.c.expires_at <= now))


def make_room(conn: Connection, *, user_id: int, path: str, keep: int) -> None:
    """Before a new draft of `user_id` for `path`: drop their older one for that page, and
    their oldest beyond `keep - 1`, so that one user's drafts stay few."""
    conn.execute(delete(drafts).where(drafts.c.user_id == user_id, drafts.c.path == path))
    newest = (
        select(drafts.c.id)
        .where(drafts.c.user_id == user_id)
        .order_by(drafts.c.id.desc())
        .limit(keep - 1)
    )
    conn.execute(delete(drafts).where(drafts.c.user_id == user_id, drafts.c.id.not_in(newest)))
