"""TOTP seeds (arriving encrypted), recovery codes and remembered devices (arriving hashed)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, exists, insert, or_, select, update

from .tables import passkeys, recovery_codes, remembered_devices, users

__all__ = [
    "advance_step",
    "clear",
    "count_unused_codes",
    "device_user",
    "enable",
    "has_own",
    "remember_device",
    "replace_codes",
    "use_code",
]


def has_own(conn: Connection, user_id: int) -> bool:
    """Whether the user has a second factor of their own: a TOTP app or a passkey."""
    query = select(
        or_(
            exists().where(users.c.id == user_id, users.c.totp_enabled_at.is_not(None)),
            exists().where(passkeys.c.user_id == user_id),
        )
    )
    return bool(conn.execute(query).scalar())


def enable(conn: Connection, user_id: int, *, secret: str, at: int, step: int) -> None:
    values = {"totp_secret": secret, "totp_enabled_at": at, "totp_last_step": step}
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def clear(conn: Connection, user_id: int) -> None:
    """Turn the second factor off: seed, codes and remembered devices go."""
    values = {"totp_secret": None, "totp_enabled_at": None, "totp_last_step": None}
    conn.execute(update(users).where(users.c.id == user_id).values(**values))
    conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    conn.execute(delete(remembered_devices).where(remembered_devices.c.user_id == user_id))


def advance_step(conn: Connection, user_id: int, step: int) -> bool:
    """Record `step` as the last accepted one if it is later than the last: False when it is
    not (the code was used already), so two requests with one code cannot both pass."""
    query = (
        update(users)
        .where(users.c.id == user_id, users.c.totp_last_step < step)
        .values(totp_last_step=step)
    )
    return conn.execute(query).rowcount == 1


def replace_codes(conn: Connection, user_id: int, code_hashes: list[str]) -> None:
    conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    conn.execute(
        insert(recovery_codes),
        [{"user_id": user_id, "code_hash": h, "used_at": None} for h in code_hashes],
    )


def use_code(conn: Connection, user_id: int, code_hash: str, at: int) -> bool:
    """Mark an unused recovery code used; False when there is none such."""
    query = (
        update(recovery_codes)
        .where(
            recovery_codes.c.user_id == user_id,
            recovery_codes.c.code_hash == code_hash,
            recovery_codes.c.used_at.is_(None),
        )
        .values(used_at=at)
    )
    return conn.execute(query).rowcount == 1


def count_unused_codes(conn: Connection, user_id: int) -> int:
    query = select(recovery_codes.c.id).where(
        recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)
    )
    return len(conn.execute(query).all())


def remember_device(
    conn: Connection, *, token_hash: str, user_id: int, at: int, expires_at: int
) -> None:
    conn.execute(delete(remembered_devices).where(remembered_devices.c.expires_at <= at))
    values = {"token_hash": token_hash, "user_id": user_id, "created_at": at}
    conn.execute(insert(remembered_devices).values(**values, expires_at=expires_at))


def device_user(conn: Connection, token_hash: str, *, now: int) -> int | None:
    """The user a live remembered device belongs to, or None."""
    query = select(remembered_devices.c.user_id).where(
        remembered_devices.c.token_hash == token_hash, remembered_devices.c.expires_at > now
    )
    return conn.execute(query).scalar_one_or_none()
