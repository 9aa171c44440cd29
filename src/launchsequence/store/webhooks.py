"""Webhooks, the event outbox and deliveries.

Events and their deliveries are written in the transaction of the change they tell of, so a
change is never committed without them. A delivery is `pending` until it is answered with a 2xx
(`succeeded`) or given up (`failed`). Deliveries of one webhook with the same `order_key` are
sent one at a time in id order: `due_heads` only ever offers the oldest pending one of each.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.sql import ColumnElement

from .tables import events, organizations, projects, webhook_deliveries, webhooks

__all__ = [
    "add_delivery",
    "create_webhook",
    "delete_webhook",
    "delivery_by_id",
    "due_heads",
    "finish_attempt",
    "get_delivery",
    "get_event",
    "get_webhook",
    "list_deliveries",
    "list_webhooks",
    "next_due",
    "org_key",
    "pending_count",
    "prune",
    "subscribers",
    "update_webhook",
    "webhook_by_id",
    "write_event",
]

_WEBHOOK_COLUMNS = (*webhooks.c, projects.c.key.label("project"))


def _webhooks_with_project() -> Any:
    return select(*_WEBHOOK_COLUMNS).select_from(
        webhooks.outerjoin(projects, projects.c.id == webhooks.c.project_id)
    )


def org_key(conn: Connection, org_id: int) -> str:
    query = select(organizations.c.key).where(organizations.c.id == org_id)
    return str(conn.execute(query).scalar_one())


def create_webhook(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(webhooks).values(values).returning(webhooks.c.id)).scalar_one())


def get_webhook(conn: Connection, *, org_id: int, webhook_id: int) -> dict[str, Any] | None:
    """The organization's webhook (None for another organization's, as for a missing one)."""
    row = (
        conn.execute(
            _webhooks_with_project().where(webhooks.c.org_id == org_id, webhooks.c.id == webhook_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def webhook_by_id(conn: Connection, webhook_id: int) -> dict[str, Any] | None:
    """For the sender, which works across organizations."""
    query = _webhooks_with_project().where(webhooks.c.id == webhook_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def list_webhooks(
    conn: Connection, *, org_id: int, project_id: int | None = None
) -> list[dict[str, Any]]:
    query = _webhooks_with_project().where(webhooks.c.org_id == org_id)
    if project_id is not None:
        query = query.where(webhooks.c.project_id == project_id)
    return [dict(r) for r in conn.execute(query.order_by(webhooks.c.id)).mappings()]


def update_webhook(conn: Connection, webhook_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(values))


def delete_webhook(conn: Connection, webhook_id: int) -> None:
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id))
    conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))


def subscribers(conn: Connection, *, org_id: int, project: str | None) -> list[dict[str, Any]]:
    """Enabled webhooks of the organization that hear of its events in `project` (those of the
    whole organization, and the project's own); each with its `events` list to filter on."""
    scope: ColumnElement[bool] = webhooks.c.project_id.is_(None)
    if project is not None:
        scope = or_(scope, projects.c.key == project)
    query = (
        _webhooks_with_project()
        .where(webhooks.c.org_id == org_id, webhooks.c.enabled.is_(True), scope)
        .order_by(webhooks.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def write_event(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(events).values(values).returning(events.c.id)).scalar_one())


def get_event(conn: Connection, event_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(events).where(events.c.id == event_id)).mappings().first()
    return dict(row) if row else None


def add_delivery(
    conn: Connection, *, webhook_id: int, event_id: int, order_key: str, now: int
) -> int:
    statement = (
        insert(webhook_deliveries)
        .values(
            webhook_id=webhook_id,
            event_id=event_id,
            order_key=order_key,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(webhook_deliveries.c.id)
    )
    return int(conn.execute(statement).scalar_one())


def _deliveries_with_event() -> Any:
    return select(
        *webhook_deliveries.c,
        events.c.uid.label("event_uid"),
        events.c.type.label("event_type"),
        events.c.created_at.label("event_at"),
    ).select_from(webhook_deliveries.join(events, events.c.id == webhook_deliveries.c.event_id))


def get_delivery(conn: Connection, *, webhook_id: int, delivery_id: int) -> dict[str, Any] | None:
    query = _deliveries_with_event().where(
        webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.id == delivery_id
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def delivery_by_id(conn: Connection, delivery_id: int) -> dict[str, Any] | None:
    """For the sender, which works across organizations."""
    query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def list_deliveries(
    conn: Connection, *, webhook_id: int, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first; `before_id` pages backwards."""
    query = _deliveries_with_event().where(webhook_deliveries.c.webhook_id == webhook_id)
    if before_id is not None:
        query = query.where(webhook_deliveries.c.id < before_id)
    query = query.order_by(webhook_deliveries.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def due_heads(conn: Connection, *, now: int, limit: int) -> list[dict[str, Any]]:
    """Deliveries to attempt now: of each enabled webhook's pending deliveries with one order
    key, the oldest, if its next attempt is due. Oldest first."""
    older = webhook_deliveries.alias("older")
    earlier_pending = (
        select(older.c.id)
        .where(
            older.c.webhook_id == webhook_deliveries.c.webhook_id,
            older.c.order_key == webhook_deliveries.c.order_key,
            older.c.status == "pending",
            older.c.id < webhook_deliveries.c.id,
        )
        .exists()
    )
    query = (
        select(*webhook_deliveries.c)
        .select_from(
            webhook_deliveries.join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
        )
        .where(
            webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.next_attempt_at <= now,
            webhooks.c.enabled.is_(True),
            ~earlier_pending,
        )
        .order_by(webhook_deliveries.c.id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def next_due(
    conn: Connection, *, webhook_id: int, order_key: str, now: int
) -> dict[str, Any] | None:
    """The oldest pending delivery of the webhook with `order_key`, if it is due now."""
    query = (
        select(*webhook_deliveries.c)
        .where(
            webhook_deliveries.c.webhook_id == webhook_id,
            webhook_deliveries.c.order_key == order_key,
            webhook_deliveries.c.status == "pending",
        )
        .order_by(webhook_deliveries.c.id)
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row and row["next_attempt_at"] <= now else None


def finish_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    attempt: int,
    values: dict[str, Any],
) -> bool:
    """Record the outcome of attempt number `attempt` (1 for the first); False, changing
    nothing, if the delivery is no longer pending at that attempt (another sender recorded
    it first)."""
    result = conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.attempts == attempt - 1,
        )
        .values({**values, "attempts": attempt})
    )
    return result.rowcount == 1


def prune(conn: Connection, *, before: int) -> int:
    """Forget deliveries finished before `before` and events older than it that no pending
    delivery needs; the number of events removed."""
    conn.execute(
        delete(webhook_deliveries).where(
            webhook_deliveries.c.status != "pending", webhook_deliveries.c.completed_at < before
        )
    )
    pending = select(webhook_deliveries.c.id).where(webhook_deliveries.c.event_id == events.c.id)
    result = conn.execute(
        delete(events).where(and_(events.c.created_at < before, ~pending.exists()))
    )
    return int(result.rowcount or 0)


def pending_count(conn: Connection, webhook_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(webhook_deliveries)
            .where(
                webhook_deliveries.c.webhook_id == webhook_id,
                webhook_deliveries.c.status == "pending",
            )
        ).scalar_one()
    )
