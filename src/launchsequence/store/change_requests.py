"""Change requests and their approvals: rows of `change_requests` and
`change_request_approvals` (tables.py says what each column holds).

Callers take the project's guard row first (decision 0004), as every flag write does, so an
edit, an approval, an application and the scheduler take turns on one request; `close` sets an
outcome only on a request still `open` and answers whether it was.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from .tables import change_request_approvals, change_requests, environments, scheduled_changes

__all__ = [
    "add_approval",
    "approvals",
    "approvals_of",
    "close",
    "create",
    "current_approvers",
    "get",
    "list_for",
    "update_open",
]

_T = change_requests
_A = change_request_approvals


def _rows(conn: Connection, query: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(query).mappings()]


def _select() -> Any:
    return (
        select(
            _T,
            environments.c.key.label("environment_key"),
            environments.c.required_approvals.label("required_approvals"),
            scheduled_changes.c.status.label("schedule_status"),
            scheduled_changes.c.run_at.label("schedule_at"),
        )
        .join(environments, environments.c.id == _T.c.environment_id)
        .outerjoin(scheduled_changes, scheduled_changes.c.id == _T.c.schedule_id)
    )


def create(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(_T).values(values).returning(_T.c.id)).scalar_one())


def get(
    conn: Connection, *, project_id: int, request_id: int, for_update: bool = False
) -> dict[str, Any] | None:
    """The project's request with this id (with `environment_key`, the environment's
    `required_approvals`, and its schedule's `schedule_status` and `schedule_at`), else None:
    another project's id answers None, exactly as a missing one."""
    query = _select().where(_T.c.id == request_id, _T.c.project_id == project_id)
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
    states: tuple[str, ...] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The project's requests (or one flag's, or one environment's), newest first."""
    query = _select().where(_T.c.project_id == project_id)
    if flag_id is not None:
        query = query.where(_T.c.flag_id == flag_id)
    if environment_id is not None:
        query = query.where(_T.c.environment_id == environment_id)
    if states is not None:
        query = query.where(_T.c.state.in_(states))
    return _rows(conn, query.order_by(_T.c.id.desc()).limit(limit))


def update_open(conn: Connection, request_id: int, values: dict[str, Any]) -> bool:
    """Change a request that is still open; whether it was."""
    result = conn.execute(
        update(_T).where(_T.c.id == request_id, _T.c.state == "open").values(values)
    )
    return result.rowcount == 1


def close(conn: Connection, request_id: int, values: dict[str, Any]) -> bool:
    """Set an open request's outcome (`state` applied, rejected, cancelled or failed, with
    `closed_at`); whether it was still open (of concurrent callers, one is told True)."""
    return update_open(conn, request_id, values)


def add_approval(
    conn: Connection, *, request_id: int, user_id: int, email: str, revision: int, at: int
) -> None:
    conn.execute(
        insert(_A).values(
            request_id=request_id, user_id=user_id, user_email=email, revision=revision,
            created_at=at,
        )
    )  # fmt: skip


def approvals(conn: Connection, request_id: int) -> list[dict[str, Any]]:
    """Every approval the request got, of every revision, oldest first."""
    query = select(_A).where(_A.c.request_id == request_id).order_by(_A.c.id)
    return _rows(conn, query)


def approvals_of(conn: Connection, request_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every approval of each of the requests (as `approvals`), in one query: request id ->
    its approvals, oldest first (a request without any is left out)."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not request_ids:
        return out
    query = select(_A).where(_A.c.request_id.in_(request_ids)).order_by(_A.c.id)
    for row in _rows(conn, query):
        out.setdefault(row["request_id"], []).append(row)
    return out


def current_approvers(conn: Connection, request_id: int, revision: int) -> list[dict[str, Any]]:
    """The approvals of `revision` ({user_id, user_email, created_at}), oldest first."""
    query = (
        select(_A.c.user_id, _A.c.user_email, _A.c.created_at)
        .where(_A.c.request_id == request_id, _A.c.revision == revision)
        .order_by(_A.c.id)
    )
    return _rows(conn, query)
