"""Users, sessions, personal API tokens and failed log-ins. Secrets arrive here hashed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from .tables import api_tokens, login_failures, organizations, sessions, users

__all__ = [
    "clear_failures",
    "delete_user_session",
    "delete_user_sessions",
    "list_sessions",
    "list_users",
    "set_disabled",
    "set_org_second_factor",
    "set_password_hash",
    "count_failures",
    "create_session",
    "create_token",
    "create_user",
    "delete_failures",
    "delete_session",
    "delete_token",
    "failures_by_prefix",
    "forget_failures",
    "get_token",
    "get_user",
    "get_user_by_email",
    "list_tokens",
    "record_failure",
    "session_by_hash",
    "token_by_hash",
    "touch_session",
    "touch_token",
]


def create_user(conn: Connection, *, email: str, name: str, password_hash: str, at: int) -> int:
    row = {"email": email, "name": name, "password_hash": password_hash, "created_at": at}
    return int(conn.execute(insert(users).values(row).returning(users.c.id)).scalar_one())


def get_user(conn: Connection, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return dict(row) if row else None


def get_user_by_email(conn: Connection, email: str) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.email == email)).mappings().first()
    return dict(row) if row else None


def create_session(
    conn: Connection,
    *,
    token_hash: str,
    user_id: int,
    at: int,
    user_agent: str | None = None,
    address: str | None = None,
    sign_in: str | None = None,
) -> None:
    conn.execute(
        insert(sessions).values(
            sign_in=sign_in,
            token_hash=token_hash,
            user_id=user_id,
            created_at=at,
            last_seen_at=at,
            user_agent=user_agent[:300] if user_agent else None,
            address=address[:64] if address else None,
        )
    )


def list_sessions(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """A user's sessions, most recently seen first."""
    query = (
        select(sessions)
        .where(sessions.c.user_id == user_id)
        .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def delete_user_session(conn: Connection, *, session_id: int, user_id: int) -> str | None:
    """Delete one of the user's sessions; its digest, or None when the user has no such one."""
    query = (
        delete(sessions)
        .where(sessions.c.id == session_id, sessions.c.user_id == user_id)
        .returning(sessions.c.token_hash)
    )
    return conn.execute(query).scalar_one_or_none()


def delete_user_sessions(
    conn: Connection, *, user_id: int, keep_hash: str | None = None
) -> list[str]:
    """Delete every session of the user but `keep_hash`; the digests of those deleted."""
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep_hash is not None:
        query = query.where(sessions.c.token_hash != keep_hash)
    return list(conn.execute(query.returning(sessions.c.token_hash)).scalars())


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def set_disabled(conn: Connection, user_id: int, at: int | None) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=at))


def set_org_second_factor(conn: Connection, org_id: int, required: bool) -> None:
    query = update(organizations).where(organizations.c.id == org_id)
    conn.execute(query.values(require_second_factor=required))


def list_users(conn: Connection) -> list[dict[str, Any]]:
    query = select(
        users.c.id, users.c.email, users.c.name, users.c.created_at, users.c.disabled_at
    ).order_by(users.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def session_by_hash(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    row = conn.execute(select(sessions).where(sessions.c.token_hash == token_hash)).mappings()
    found = row.first()
    return dict(found) if found else None


def touch_session(conn: Connection, session_id: int, at: int) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_seen_at=at))


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


def create_token(
    conn: Connection, *, token_hash: str, prefix: str, user_id: int, name: str, at: int
) -> int:
    row = {
        "token_hash": token_hash,
        "prefix": prefix,
        "user_id": user_id,
        "name": name,
        "created_at": at,
    }
    return int(conn.execute(insert(api_tokens).values(row).returning(api_tokens.c.id)).scalar_one())


def token_by_hash(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    query = select(api_tokens).where(api_tokens.c.token_hash == token_hash)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def touch_token(conn: Connection, token_id: int, at: int) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=at))


def list_tokens(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    query = (
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.prefix,
            api_tokens.c.created_at,
            api_tokens.c.last_used_at,
        )
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def get_token(conn: Connection, token_id: int) -> dict[str, Any] | None:
    """A token by id, without its digest."""
    query = select(
        api_tokens.c.id,
        api_tokens.c.user_id,
        api_tokens.c.name,
        api_tokens.c.prefix,
        api_tokens.c.created_at,
        api_tokens.c.last_used_at,
    ).where(api_tokens.c.id == token_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def delete_token(conn: Connection, *, token_id: int, user_id: int) -> bool:
    result = conn.execute(
        delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
    )
    return result.rowcount > 0


def record_failure(conn: Connection, *, scope: str, subject: str, at: int) -> int:
    query = insert(login_failures).values(scope=scope, subject=subject, at=at)
    return int(conn.execute(query.returning(login_failures.c.id)).scalar_one())


def count_failures(conn: Connection, *, scope: str, subject: str, since: int) -> tuple[int, int]:
    """How many failures since `since`, and the time of the oldest of them (0 when none)."""
    query = select(func.count(), func.min(login_failures.c.at)).where(
        login_failures.c.scope == scope,
        login_failures.c.subject == subject,
        login_failures.c.at >= since,
    )
    count, oldest = conn.execute(query).one()
    return int(count), int(oldest or 0)


def failures_by_prefix(
    conn: Connection, *, scope: str, prefix: str, since: int
) -> tuple[int, int, int]:
    """Failures since `since` whose subject starts with `prefix` (hex): how many, how many
    distinct subjects, and the time of the latest (0 when none). A range on the index."""
    subjects = func.count(func.distinct(login_failures.c.subject))
    query = select(func.count(), subjects, func.max(login_failures.c.at)).where(
        login_failures.c.scope == scope,
        login_failures.c.subject >= prefix,
        login_failures.c.subject < prefix + "g",  # past every hex digit
        login_failures.c.at >= since,
    )
    count, distinct, latest = conn.execute(query).one()
    return int(count), int(distinct), int(latest or 0)


def delete_failures(conn: Connection, *, ids: tuple[int, ...]) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.id.in_(ids)))


def clear_failures(conn: Connection, *, scope: str, subject: str) -> None:
    conn.execute(
        delete(login_failures).where(
            login_failures.c.scope == scope, login_failures.c.subject == subject
        )
    )


def forget_failures(conn: Connection, *, older_than: int) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.at < older_than))
