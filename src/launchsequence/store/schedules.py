"""Scheduled changes: rows of `scheduled_changes` (see tables.py for what each column holds).

Applying one is claimed, not read-then-written: `finish` sets the outcome only on a row still
`pending`, in the transaction that applied it, and answers whether it did. The caller takes the
project's guard row first (decision 0004), so concurrent appliers, editors and cancellers of
one schedule take turns and the second finds it no longer pending.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from .tables import environments, flags, organizations, projects, scheduled_changes

__all__ = ["create", "due", "finish", "flag_by_id", "get", "list_for", "location", "update_pending"]

_T = scheduled_changes


def _rows(conn: Connection, query: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(query).mappings()]


def _select() -> Any:
    return select(_T, environments.c.key.label("environment_key")).join(
        environments, environments.c.id == _T.c.environment_id
    )


def create(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(_T).values(values).returning(_T.c.id)).scalar_one())


def get(
    conn: Connection, *, project_id: int, schedule_id: int, for_update: bool = False
) -> dict[str, Any] | None:
    """The project's schedule with this id (with its `environment_key`), else None: another
    project's id answers None, exactly as a missing one."""
    query = _select().where(_T.c.id == schedule_id, _T.c.project_id == project_id)
    if for_update:
        query = query.with_for_update(of=_T, key_share=True)
    rows = _rows(conn, query)
    return rows[0] if rows else None


def list_for(
    conn: Connection,
    *,
    project_id: int,
    flag_id: int | None = None,
    environment_id: int | None = None,
    status: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The project's schedules (or one flag's), pending ones first by time, then the finished
    ones, latest first."""
    query = _select().where(_T.c.project_id == project_id)
    if flag_id is not None:
        query = query.where(_T.c.flag_id == flag_id)
    if environment_id is not None:
        query = query.where(_T.c.environment_id == environment_id)
    if status is not None:
        query = query.where(_T.c.status == status)
    rows = _rows(conn, query.order_by(_T.c.run_at, _T.c.id))
    pending = [r for r in rows if r["status"] == "pending"]
    done = sorted(
        (r for r in rows if r["status"] != "pending"),
        key=lambda r: (r["finished_at"] or 0, r["id"]),
        reverse=True,
    )
    return (pending + done)[:limit]


def due(conn: Connection, *, now: int, limit: int = 100) -> list[int]:
    """Ids of pending schedules whose time has come, earliest first."""
    query = (
        select(_T.c.id)
        .where(_T.c.status == "pending", _T.c.run_at <= now)
        .order_by(_T.c.run_at, _T.c.id)
        .limit(limit)
    )
    return [int(r) for r in conn.execute(query).scalars()]


def location(conn: Connection, schedule_id: int) -> dict[str, Any] | None:
    """Where a schedule lives: its project's id and key and its organization's id and key."""
    query = (
        select(
            _T.c.project_id,
            projects.c.key.label("project_key"),
            organizations.c.id.label("org_id"),
            organizations.c.key.label("org_key"),
        )
        .join(projects, projects.c.id == _T.c.project_id)
        .join(organizations, organizations.c.id == projects.c.org_id)
        .where(_T.c.id == schedule_id)
    )
    rows = _rows(conn, query)
    return rows[0] if rows else None


def update_pending(conn: Connection, schedule_id: int, values: dict[str, Any]) -> bool:
    """Change a schedule that is still pending; whether it was."""
    result = conn.execute(
        update(_T).where(_T.c.id == schedule_id, _T.c.status == "pending").values(values)
    )
    return result.rowcount == 1


def finish(conn: Connection, schedule_id: int, values: dict[str, Any]) -> bool:
    """Set a pending schedule's outcome (`status` applied, failed or cancelled, with
    `finished_at`); whether it was still pending (of concurrent callers, one is told True)."""
    return update_pending(conn, schedule_id, values)


def flag_by_id(conn: Connection, flag_id: int) -> dict[str, Any] | None:
    rows = _rows(conn, select(flags).where(flags.c.id == flag_id))
    return rows[0] if rows else None
