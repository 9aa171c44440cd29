"""The email to a webhook's creator when the sender disables it for failing.

Sent only when mail is configured (LAUNCHSEQ_SMTP_HOST); otherwise the webhook's page and the
API say it is disabled and why, as they always do. It goes to the creator only while they
are still an owner or admin where it belongs (of its project for a project's webhook, their
project role counting; else of the organization: only they may see webhooks: a URL can be a
secret), and it names the receiver's host, never the whole URL, which may hold a token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from ..store import accounts as account_store
from ..store import orgs as org_store
from ..store import webhooks as webhook_store
from .access import role_in_project
from .mail import Mailer
from .runtime import Runtime

__all__ = ["disabled_email_body", "notify_disabled"]

log = logging.getLogger("launchsequence.webhooks")


def disabled_email_body(org_key: str, host: str, reason: str, link: str | None) -> str:
    where = f"Its page, with its deliveries:\n\n{link}\n\n" if link else ""
    return (
        f"A webhook of organization {org_key} that sends to {host} has been disabled, as "
        f"it kept failing:\n\n{reason}\n\n"
        "Its events wait and are sent once you enable it again, after fixing the receiver.\n\n"
        f"{where}You get this because you created the webhook."
    )


def _creator_role(conn: Connection, hook: dict[str, Any]) -> str | None:
    """The creator's role where the webhook belongs: in its project (their project role
    counts) for a project's webhook, else in the organization; None for a former member."""
    if hook.get("project_id") is None:
        member = org_store.get_membership(conn, org_id=hook["org_id"], user_id=hook["created_by"])
        return None if member is None else str(member["role"])
    return role_in_project(
        conn, org_id=hook["org_id"], project_id=hook["project_id"], user_id=hook["created_by"]
    )


def notify_disabled(rt: Runtime, mailer: Mailer) -> Callable[[dict[str, Any]], None]:
    """The sender's `on_disabled`: email the webhook's creator (see the module's doc). Called
    in a worker thread after the commit that disabled it; never raises."""

    def notify(hook: dict[str, Any]) -> None:
        if not mailer.configured or hook.get("created_by") is None:
            return
        try:
            with rt.db.connect() as conn:
                user = account_store.get_user(conn, hook["created_by"])
                role = _creator_role(conn, hook)
                org_key = webhook_store.org_key(conn, hook["org_id"])
        except Exception:  # noqa: BLE001 - the database may be away; the page still says it
            log.warning("could not look up the creator of disabled webhook %d", hook["id"])
            return
        if user is None or user["disabled_at"] is not None:
            return
        if role not in ("owner", "admin"):
            return
        base = rt.settings.base_url.rstrip("/")
        link = f"{base}/o/{org_key}/webhooks/{hook['id']}" if base else None
        host = urlsplit(hook["url"]).hostname or "its receiver"
        mailer.send(
            to=user["email"],
            subject=f"Webhook to {host} disabled ({org_key})",
            body=disabled_email_body(org_key, host, hook.get("disabled_reason") or "", link),
            kind="webhook-disabled",
        )

    return notify
