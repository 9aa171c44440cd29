"""One-time password-reset tokens, stored as digests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .tables import password_resets

__all__ = ["create_reset", "delete_expired", "delete_for_user", "reset_by_hash", "take_reset"]


def create_reset(
    conn: Connection, *, token_hash: str, user_id: int, at: int, expires_at: int
) -> None:
    values = {"token_hash": token_hash, "user_id": user_id, "created_at": at}
    conn.execute(insert(password_resets).values(**values, expires_at=expires_at))


def reset_by_hash(conn: Connection, token_hash: str, *, now: int) -> dict[str, Any] | None:
    """The unexpired reset with this digest, or None."""
    query = select(password_resets).where(
        password_resets.c.token_hash == token_hash, password_resets.c.expires_at > now
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def take_reset(conn: Connection, token_hash: str, *, now: int) -> dict[str, Any] | None:
    """Delete the reset with this digest and return it if it had not expired: of two
    requests using one link at the same moment, exactly one gets it."""
    query = (
        delete(password_resets)
        .where(password_resets.c.token_hash == token_hash)
        .returning(password_resets.c.user_id, password_resets.c.expires_at)
    )
    row = conn.execute(query).mappings().first()
    if row is None or row["expires_at"] <= now:
        return None
    return dict(row)


def delete_for_user(conn: Connection, user_id: int) -> None:
    conn.execute(delete(password_resets).where(password_resets.c.user_id == user_id))


def delete_expired(conn: Connection, *, now: int) -> None:
    conn.execute(delete(password_resets).where(password_resets.c.expires_at <= now))
