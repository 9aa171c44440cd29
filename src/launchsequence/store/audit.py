"""The audit log: one row per accepted change, written in the change's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from .tables import audit_log

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
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; `before_id` pages backwards from an entry's id; `flags_only` keeps the
    entries about a flag."""
    query = select(audit_log).where(audit_log.c.org_id == org_id)
    if project is not None:
        query = query.where(audit_log.c.project == project)
    if environment is not None:
        query = query.where(audit_log.c.environment == environment)
    if flag is not None:
        query = query.where(audit_log.c.flag == flag)
    if flags_only:
        query = query.where(audit_log.c.flag.is_not(None))
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    query = query.order_by(audit_log.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]
