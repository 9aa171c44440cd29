"""Events: what webhooks are told, written to the outbox in the transaction of the change.

Every audited change whose action maps to an event type below becomes one row of the `events`
table, with its body (schema 1, below), and one pending delivery per enabled webhook that wants
it, all in the change's own transaction: a change is never committed without its events, and
a crash after the commit loses none (the sender finds them at its next start).

The body (`schema` 1; fields are only ever added within a schema number)::

    {"schema": 1, "id": "evt_...", "type": "flag.toggled", "action": "flag.toggled",
     "occurred_at": "2026-01-31T12:00:00.000Z", "organization": "acme", "project": "web",
     "environment": "production", "flag": "new-checkout", "segment": null,
     "actor": {"email": "ada@example.com", "name": "Ada"}, "comment": "incident 42",
     "before": {...}, "after": {...}}

`action` is the audit log's finer name (`flag.configured`, `flag.restored`, `flag.imported`);
`type` is what webhooks subscribe to. Later kinds of event (change requests, schedules) add
their type to EVENT_TYPES and either audit with that action or call `record_event` directly.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from ..store import webhooks as store

if TYPE_CHECKING:
    from .runtime import Actor, Runtime

__all__ = ["EVENT_TYPES", "SCHEMA", "event_type_for", "record_event", "slack_text"]

SCHEMA = 1

#: Every event type a webhook may subscribe to, with what it means.
EVENT_TYPES: dict[str, str] = {
    "flag.created": "A flag was created (or imported into a project that did not have it).",
    "flag.changed": "A flag, or its configuration in one environment, changed (besides the "
    "cases below); restoring an archived flag is a change.",
    "flag.toggled": "A flag was turned on or off in one environment, and nothing else changed.",
    "flag.archived": "A flag was archived.",
    "flag.deleted": "A flag was deleted.",
    "segment.changed": "A segment was created, changed or deleted in one environment.",
    "sdk_key.rotated": "An environment's server or client SDK key was rotated.",
    "schedule.applied": "A scheduled change was applied (`after` is the schedule: its comment, "
    "its note if it was late, the version it made); the change itself is also announced as "
    "`flag.toggled` or `flag.changed`, by the schedule's author.",
    "schedule.failed": "A scheduled change could not be applied (`after.reason` says why).",
    "change_request.opened": "A change request was opened in a protected environment (`after` "
    "is the request: its changes, diff and comment).",
    "change_request.updated": "A change request was edited; its approvals were voided.",
    "change_request.approved": "A member approved a change request (`after.approvals` counts "
    "them, `after.state` is `approved` once there are enough).",
    "change_request.applied": "A change request was applied, or its scheduled application "
    "made; the change itself is also announced as `flag.toggled` or `flag.changed`.",
    "change_request.scheduled": "An approved change request was scheduled to apply at "
    "`after.apply_at`.",
    "change_request.rejected": "A change request was rejected (`after.reason` says why).",
    "change_request.cancelled": "A change request was cancelled by its author or an admin.",
    "change_request.failed": "A change request could not be applied (`after.reason` says why).",
    "environment.protection_changed": "An environment's protection (`protected`, "
    "`required_approvals`) was changed.",
    "protection.bypassed": "An owner changed a protected environment without a change request "
    "(an emergency bypass; `after.reason` says why).",
}

#: Audit actions whose event type is not their own name.
_FROM_AUDIT = {
    "flag.updated": "flag.changed",
    "flag.configured": "flag.changed",
    "flag.restored": "flag.changed",
    "segment.created": "segment.changed",
    "segment.updated": "segment.changed",
    "segment.deleted": "segment.changed",
    "segment.imported": "segment.changed",
}


def event_type_for(action: str, before: Any) -> str | None:
    """The event type an audited action is announced as, or None if webhooks are not told."""
    if action == "flag.imported":
        return "flag.created" if before is None else "flag.changed"
    kind = _FROM_AUDIT.get(action, action)
    return kind if kind in EVENT_TYPES else None


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _order_key(project: str | None, environment: str | None, flag: str | None,
               segment: str | None, kind: str) -> str:  # fmt: skip
    """Events with one key reach a webhook in order: per flag, per segment, per environment's
    keys, else per kind of event in the organization."""
    if flag is not None:
        return f"flag:{project}/{flag}"
    if segment is not None:
        return f"segment:{project}/{environment}/{segment}"
    return f"{kind.split('.')[0]}:{project or ''}/{environment or ''}"


def record_event(
    conn: Any,
    rt: Runtime,
    *,
    org_id: int,
    kind: str,
    action: str,
    actor: Actor | None,
    project: str | None = None,
    environment: str | None = None,
    flag: str | None = None,
    segment: str | None = None,
    before: Any = None,
    after: Any = None,
    order_key: str | None = None,
) -> int:
    """Write event `kind` and its deliveries (one per enabled webhook of the organization, or
    of `project`, that wants it) in `conn`'s transaction; the event's row id."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    now = rt.now()
    body = {
        "schema": SCHEMA,
        "id": "evt_" + secrets.token_hex(12),
        "type": kind,
        "action": action,
        "occurred_at": _iso(now),
        "organization": store.org_key(conn, org_id),
        "project": project,
        "environment": environment,
        "flag": flag,
        "segment": segment,
        "actor": (
            {"email": actor.email, "name": actor.name}
            if actor is not None
            else {"email": None, "name": "system"}
        ),
        "comment": actor.comment if actor is not None else None,
        "before": before,
        "after": after,
    }
    key = order_key or _order_key(project, environment, flag, segment, kind)
    event_id = store.write_event(
        conn,
        {
            "uid": body["id"],
            "org_id": org_id,
            "type": kind,
            "project": project,
            "order_key": key,
            "body": body,
            "created_at": now,
        },
    )
    for hook in store.subscribers(conn, org_id=org_id, project=project):
        if "*" in hook["events"] or kind in hook["events"]:
            store.add_delivery(
                conn, webhook_id=hook["id"], event_id=event_id, order_key=key, now=now
            )
    return event_id


_VERBS = {
    "flag.created": "created flag",
    "flag.changed": "changed flag",
    "flag.archived": "archived flag",
    "flag.deleted": "deleted flag",
    "segment.changed": "changed segment",
    "sdk_key.rotated": "rotated an SDK key",
    "schedule.applied": "applied a scheduled change to flag",
    "schedule.failed": "could not apply a scheduled change to flag",
    "change_request.opened": "opened a change request for flag",
    "change_request.updated": "edited a change request for flag",
    "change_request.approved": "approved a change request for flag",
    "change_request.applied": "applied a change request to flag",
    "change_request.scheduled": "scheduled a change request for flag",
    "change_request.rejected": "rejected a change request for flag",
    "change_request.cancelled": "cancelled a change request for flag",
    "change_request.failed": "could not apply a change request to flag",
    "environment.protection_changed": "changed the protection of an environment",
    "protection.bypassed": "BYPASSED the protection of an environment",
}


def slack_text(body: dict[str, Any]) -> str:
    """One line (and the comment, quoted) for a Slack-compatible incoming webhook."""
    who = body["actor"]["email"] or "Launch Sequence"
    kind = body["type"]
    if kind == "flag.toggled":
        on = (body.get("after") or {}).get("on")
        what = f"turned flag `{body['flag']}` {'on' if on else 'off'}"
    else:
        verb = _VERBS.get(kind, kind)
        name = body.get("flag") or body.get("segment")
        what = f"{verb} `{name}`" if name and kind != "sdk_key.rotated" else verb
    where = "/".join(p for p in (body.get("project"), body.get("environment")) if p)
    line = f"{who} {what}" + (f" in {body['organization']}/{where}" if where else "")
    comment = body.get("comment")
    return line + (f"\n> {comment}" if comment else "")
