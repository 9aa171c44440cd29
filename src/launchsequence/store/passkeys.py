"""Passkeys (public keys, stored as they are) and pending WebAuthn challenges (as digests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from .tables import passkeys, webauthn_challenges

__all__ = [
    "add_challenge",
    "by_credential_id",
    "count_for_user",
    "create",
    "delete_for_user",
    "delete_one",
    "list_for_user",
    "take_challenge",
    "used",
]


def create(conn: Connection, **values: Any) -> int:
    """A new passkey row; its id. The caller checked that `credential_id` is new (the unique
    constraint refuses a second registration of one credential anyway)."""
    key = conn.execute(insert(passkeys).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def list_for_user(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The user's passkeys, oldest first."""
    query = select(passkeys).where(passkeys.c.user_id == user_id).order_by(passkeys.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def count_for_user(conn: Connection, user_id: int) -> int:
    query = select(func.count()).select_from(passkeys).where(passkeys.c.user_id == user_id)
    return int(conn.execute(query).scalar_one())


def by_credential_id(conn: Connection, credential_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(passkeys).where(passkeys.c.credential_id == credential_id))
    found = row.mappings().first()
    return dict(found) if found else None


def delete_one(conn: Connection, *, passkey_id: int, user_id: int) -> dict[str, Any] | None:
    """Delete one of the user's passkeys; the row deleted, or None when the user has no such
    passkey (another user's id is no different from a missing one)."""
    query = select(passkeys).where(passkeys.c.id == passkey_id, passkeys.c.user_id == user_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    conn.execute(delete(passkeys).where(passkeys.c.id == passkey_id))
    return dict(row)


def delete_for_user(conn: Connection, user_id: int) -> int:
    """Delete every passkey of the user; how many there were."""
    return conn.execute(delete(passkeys).where(passkeys.c.user_id == user_id)).rowcount


def used(conn: Connection, passkey_id: int, *, old_count: int, new_count: int, at: int) -> bool:
    """Record a use: the new sign counter and the time. False when the counter moved since it
    was read (another use of the same credential got in first): the caller refuses this one."""
    query = (
        update(passkeys)
        .where(passkeys.c.id == passkey_id, passkeys.c.sign_count == old_count)
        .values(sign_count=new_count, last_used_at=at)
    )
    return conn.execute(query).rowcount == 1


def add_challenge(
    conn: Connection,
    *,
    challenge_hash: str,
    purpose: str,
    binding: str,
    user_id: int | None,
    at: int,
    expires_at: int,
) -> None:
    """Keep a challenge handed out, in place of any other live one for the same purpose and
    binding: one session or browser holds at most one per purpose, however often it asks
    (expired ones are swept here)."""
    conn.execute(
        delete(webauthn_challenges).where(
            or_(
                webauthn_challenges.c.expires_at <= at,
                and_(
                    webauthn_challenges.c.binding == binding,
                    webauthn_challenges.c.purpose == purpose,
                ),
            )
        )
    )
    conn.execute(
        insert(webauthn_challenges).values(
            challenge_hash=challenge_hash,
            purpose=purpose,
            binding=binding,
            user_id=user_id,
            expires_at=expires_at,
        )
    )


def take_challenge(
    conn: Connection, *, challenge_hash: str, purpose: str, binding: str, now: int
) -> dict[str, Any] | None:
    """Use up a live challenge made for this purpose and binding: the row, deleted here, or
    None (unknown, expired, used already, made for another purpose or session). Of two
    requests with one challenge only one gets the row."""
    query = select(webauthn_challenges).where(
        webauthn_challenges.c.challenge_hash == challenge_hash,
        webauthn_challenges.c.purpose == purpose,
        webauthn_challenges.c.binding == binding,
        webauthn_challenges.c.expires_at > now,
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    gone = conn.execute(delete(webauthn_challenges).where(webauthn_challenges.c.id == row["id"]))
    return dict(row) if gone.rowcount == 1 else None
