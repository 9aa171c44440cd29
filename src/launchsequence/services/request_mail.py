"""Mail about change requests: the members who may approve one hear of it when it is opened
or edited, if the server sends mail (optional: the dashboard lists requests either way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..store import orgs as org_store
from .mail import Mailer
from .protection import may_change
from .runtime import Runtime

__all__ = ["approvers_of", "mail_approvers"]


def approvers_of(
    conn: Connection, org: dict[str, Any], project: dict[str, Any], author_id: int
) -> list[str]:
    """Emails of the members who may approve a request by `author_id`."""
    return [
        m["email"]
        for m in org_store.list_members(conn, org["id"])
        if m["id"] != author_id and may_change(conn, org, project, m["id"])
    ]


def mail_approvers(
    mailer: Mailer | None,
    rt: Runtime,
    to: list[str],
    org_key: str,
    request: dict[str, Any],
    what: str,
) -> None:
    """Queue one message per address (after the commit: `send` returns at once); nothing
    when no SMTP server is configured."""
    if mailer is None or not mailer.configured or not to:
        return
    base = rt.settings.base_url.rstrip("/")
    link = f"{base}/o/{org_key}/p/{request['project']}/change-requests/{request['id']}"
    subject = (
        f"Change request #{request['id']} {what}: {request['flag']} in {request['environment']}"
    )
    body = (
        f"{request['author']} asks to change flag {request['flag']} in "
        f"{org_key}/{request['project']}/{request['environment']}.\n\n"
        f"{request['comment'] or '(no comment)'}\n\n"
        f"It needs {request['approvals_required']} approval(s). Review it here:\n{link}\n"
    )
    for address in to:
        mailer.send(to=address, subject=subject, body=body, kind="change-request")
