"""The audit log: one row per accepted change, written in the change's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from .tables import audit_log, users

__all__ = ["list_entries", "write_entry"]


def write_entry(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(audit_log).values(values))


def list_entries(
    conn: Connection,
    *,
    org_id: int,
    project: str | None = None,
    environment: str | None = None,
    flag: str | None = None,
    flags_only: bool = False,
    actor: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; `before_id` pages backwards from an entry's id; `flags_only` keeps the
    entries about a flag; `actor` is the author's email; `action` an action, or a prefix of
    actions when it ends with "." ("flag."); `since`/`until` bound `at` (Unix ms, inclusive,
    exclusive). Each row also has `actor_name`: the author's name today, if they still exist."""
    query = (
        select(audit_log, users.c.name.label("actor_name"))
        .select_from(audit_log.outerjoin(users, users.c.id == audit_log.c.actor_id))
        .where(audit_log.c.org_id == org_id)
    )
    if project is not None:
        query = query.where(audit_log.c.project == project)
    if environment is not None:
        query = query.where(audit_log.c.environment == environment)
    if flag is not None:
        query = query.where(audit_log.c.flag == flag)
    if flags_only:
        query = query.where(audit_log.c.flag.is_not(None))
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        if action.endswith("."):
            query = query.where(audit_log.c.action.startswith(action, autoescape=True))
        else:
            query = query.where(audit_log.c.action == action)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    query = query.order_by(audit_log.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]
