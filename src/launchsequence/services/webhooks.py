"""Webhooks: per organization or project, managed by those who may change what they cover.

A webhook of the whole organization is managed by its admins and owners; a webhook of one
project by whoever may change that project (`access.project_access`: admins and owners of the
organization, and members made admin of that project, but not an admin made viewer there).

A webhook's URL may be a secret itself (a Slack incoming webhook), so viewers see none of it.
Its signing secret is generated here, shown in full when the webhook is created and when it is
rotated, and never again (GitHub's practice); it is stored sealed with the server's secret key,
as it must be read to sign. Another organization's webhook or delivery raises NotFound exactly
as a missing one does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..secrets import WEBHOOK_SECRET_PREFIX, new_secret, seal
from ..store import orgs as org_store
from ..store import webhooks as store
from .access import ChangeRights, change_rights, org_for, project_access, refuse_read_only
from .addresses import AddressRefused, allowed_addresses, check_url, resolve
from .errors import Invalid, NotFound
from .events import EVENT_TYPES
from .runtime import Actor, Runtime, record_audit

__all__ = ["FORMATS", "Webhooks", "public_delivery"]

#: `json`: the event body as documented; `slack`: `{"text": ...}` for Slack-compatible chats.
FORMATS = ("json", "slack")
MAX_DESCRIPTION = 200


def _public(hook: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": hook["id"],
        "url": hook["url"],
        "description": hook["description"],
        "project": hook.get("project"),
        "events": hook["events"],
        "format": hook["format"],
        "enabled": hook["enabled"],
        "disabled_reason": hook["disabled_reason"],
        "failing_since": hook["failing_since"],
        "secret_prefix": hook["secret_prefix"],
        "created_at": hook["created_at"],
        "updated_at": hook["updated_at"],
    }


def public_delivery(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event": {"id": row["event_uid"], "type": row["event_type"], "at": row["event_at"]},
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "last_attempt_at": row["last_attempt_at"],
        "response_status": row["response_status"],
        "response_excerpt": row["response_excerpt"],
        "error": row["error"],
        "duration_ms": row["duration_ms"],
        "created_at": row["created_at"],
        "completed_at": row["completed_at"],
    }


def _audit_view(hook: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a webhook: not its URL, which may be a secret itself."""
    return {
        "id": hook["id"],
        "host": check_url(hook["url"])[1],
        "project": hook.get("project"),
        "events": hook["events"],
        "format": hook["format"],
        "enabled": hook["enabled"],
    }


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > len(EVENT_TYPES) + 1:
        raise Invalid('must be a list of event types, or ["*"] for every event', field="events")
    out: list[str] = []
    for i, kind in enumerate(value):
        if kind != "*" and kind not in EVENT_TYPES:
            raise Invalid(f'must be one of {", ".join(EVENT_TYPES)} or "*"', field=f"events[{i}]")
        if kind not in out:
            out.append(kind)
    return ["*"] if "*" in out else out


class Webhooks:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def check_destination(self, url: Any) -> str:
        """`url` if webhooks may send there now (blocking: it resolves the host); Invalid
        (field `url`, code `address_refused`) if it resolves to a refused address or none."""
        _, host, port = check_url(url)
        try:
            allowed_addresses(
                resolve(host, port),
                host,
                allow_private=self.rt.settings.webhook_allow_private_addresses == "true",
            )
        except AddressRefused as exc:
            raise Invalid(str(exc), field="url", code="address_refused") from None
        return str(url)

    @staticmethod
    def _hook(conn: Connection, org: dict[str, Any], webhook_id: int) -> dict[str, Any]:
        hook = store.get_webhook(conn, org_id=org["id"], webhook_id=webhook_id)
        if hook is None:
            raise NotFound("no such webhook")
        return hook

    @staticmethod
    def _rights(
        conn: Connection, actor: Actor, org_key: str
    ) -> tuple[dict[str, Any], ChangeRights]:
        """The organization and the caller's change rights; Forbidden (`read_only`) at once
        for a member who may change nothing anywhere, before anything is looked up."""
        org = org_for(conn, actor, org_key)
        rights = change_rights(conn, actor, org)
        if not rights.anywhere:
            refuse_read_only("viewer")
        return org, rights

    def _managed(
        self, conn: Connection, actor: Actor, org_key: str, webhook_id: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The organization and its webhook, if the caller may manage it: NotFound for
        another organization's (as for a missing one), Forbidden (`read_only`) for one of
        the whole organization for an organization viewer, or of a project where the caller
        is a viewer."""
        org, rights = self._rights(conn, actor, org_key)
        hook = self._hook(conn, org, webhook_id)
        if not rights.allows(hook["project"]):
            refuse_read_only("viewer")
        return org, hook

    @staticmethod
    def _scope(
        conn: Connection, actor: Actor, org_key: str, project_key: Any
    ) -> tuple[dict[str, Any], int | None]:
        """The organization and the id of the project a new webhook is for (None: the whole
        organization), if the caller may manage webhooks there."""
        if project_key is None:
            return org_for(conn, actor, org_key, write=True), None
        if not isinstance(project_key, str):
            raise Invalid("must be a project key", field="project")
        org, project = project_access(conn, actor, org_key, project_key, write=True)
        return org, int(project["id"])

    def list(
        self, actor: Actor, org_key: str, *, project: str | None = None
    ) -> list[dict[str, Any]]:
        """The webhooks the caller may manage: all of the organization's for its admins and
        owners (but those of projects where they are viewers), those of the projects where a
        member is admin; with `project`, that project's only."""
        with self.rt.db.connect() as conn:
            if project:
                org, project_id = self._scope(conn, actor, org_key, project)
                hooks = store.list_webhooks(conn, org_id=org["id"], project_id=project_id)
                return [_public(h) for h in hooks]
            org, rights = self._rights(conn, actor, org_key)
            hooks = store.list_webhooks(conn, org_id=org["id"])
        return [_public(h) for h in hooks if rights.allows(h["project"])]

    def scopes(self, actor: Actor, org_key: str) -> dict[str, Any]:
        """Where the caller may add a webhook, by the rule `create` applies: `organization`
        (every project: the organization's admins and owners) and `projects` (key and name of
        each project where their role there may change things), for a form to offer only
        those. Forbidden (`read_only`) as `list` for a member who may change nothing."""
        with self.rt.db.connect() as conn:
            org, rights = self._rights(conn, actor, org_key)
            projects = org_store.list_projects(conn, org["id"])
        return {
            "organization": rights.allows(None),
            "projects": [
                {"key": p["key"], "name": p["name"]} for p in projects if rights.allows(p["key"])
            ],
        }

    def get(self, actor: Actor, org_key: str, webhook_id: int) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            return _public(self._managed(conn, actor, org_key, webhook_id)[1])

    def create(self, actor: Actor, org_key: str, body: dict[str, Any]) -> dict[str, Any]:
        """A new webhook and, once only, its secret (`secret`)."""
        with self.rt.db.connect() as conn:  # who may, before the URL is looked up
            self._scope(conn, actor, org_key, body.get("project"))
        url = self.check_destination(body.get("url"))
        events = _events(body.get("events", ["*"]))
        fmt = body.get("format", "json")
        if fmt not in FORMATS:
            raise Invalid("must be json or slack", field="format")
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise Invalid("must be true or false", field="enabled")
        description = _description(body.get("description", ""))
        secret = new_secret(WEBHOOK_SECRET_PREFIX, 24)
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            project_key = body.get("project")
            org, project_id = self._scope(conn, actor, org_key, project_key)
            webhook_id = store.create_webhook(
                conn,
                {
                    "org_id": org["id"],
                    "project_id": project_id,
                    "url": url,
                    "description": description,
                    "secret": seal(self.rt.settings.secret_key, secret),
                    "secret_prefix": secret[:10],
                    "events": events,
                    "format": fmt,
                    "enabled": enabled,
                    "created_by": actor.user_id,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            hook = self._hook(conn, org, webhook_id)
            record_audit(conn, self.rt, org_id=org["id"], actor=actor, action="webhook.created",
                         resource=f"webhook {webhook_id}", project=project_key,
                         after=_audit_view(hook))  # fmt: skip
        return {**_public(hook), "secret": secret}

    def update(
        self, actor: Actor, org_key: str, webhook_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Change url, events, format, enabled or description. Enabling a disabled webhook
        clears why it was disabled and resumes its pending deliveries."""
        with self.rt.db.connect() as conn:
            self._managed(conn, actor, org_key, webhook_id)
        changes: dict[str, Any] = {}
        if "url" in body:
            changes["url"] = self.check_destination(body["url"])
        if "events" in body:
            changes["events"] = _events(body["events"])
        if "format" in body:
            if body["format"] not in FORMATS:
                raise Invalid("must be json or slack", field="format")
            changes["format"] = body["format"]
        if "description" in body:
            changes["description"] = _description(body["description"])
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise Invalid("must be true or false", field="enabled")
            changes["enabled"] = body["enabled"]
            if body["enabled"]:
                changes.update(disabled_reason=None, failing_since=None)
        with self.rt.write_db.begin() as conn:
            org, before = self._managed(conn, actor, org_key, webhook_id)
            if changes:
                store.update_webhook(conn, webhook_id, {**changes, "updated_at": self.rt.now()})
            hook = self._hook(conn, org, webhook_id)
            if changes:
                record_audit(conn, self.rt, org_id=org["id"], actor=actor,
                             action="webhook.updated", resource=f"webhook {webhook_id}",
                             project=hook["project"], before=_audit_view(before),
                             after=_audit_view(hook))  # fmt: skip
        return _public(hook)

    def delete(self, actor: Actor, org_key: str, webhook_id: int) -> None:
        with self.rt.write_db.begin() as conn:
            org, hook = self._managed(conn, actor, org_key, webhook_id)
            store.delete_webhook(conn, webhook_id)
            record_audit(conn, self.rt, org_id=org["id"], actor=actor, action="webhook.deleted",
                         resource=f"webhook {webhook_id}", project=hook["project"],
                         before=_audit_view(hook))  # fmt: skip

    def rotate_secret(self, actor: Actor, org_key: str, webhook_id: int) -> dict[str, Any]:
        """A new signing secret, shown here once; the old one signs nothing more."""
        secret = new_secret(WEBHOOK_SECRET_PREFIX, 24)
        with self.rt.write_db.begin() as conn:
            org, hook = self._managed(conn, actor, org_key, webhook_id)
            store.update_webhook(
                conn,
                webhook_id,
                {
                    "secret": seal(self.rt.settings.secret_key, secret),
                    "secret_prefix": secret[:10],
                    "updated_at": self.rt.now(),
                },
            )
            record_audit(conn, self.rt, org_id=org["id"], actor=actor,
                         action="webhook.secret_rotated", resource=f"webhook {webhook_id}",
                         project=hook["project"], after=_audit_view(hook))  # fmt: skip
            hook = self._hook(conn, org, webhook_id)
        return {**_public(hook), "secret": secret}

    def deliveries(
        self,
        actor: Actor,
        org_key: str,
        webhook_id: int,
        *,
        before: int | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """A page of the webhook's deliveries, newest first, and the cursor of the next."""
        if not 1 <= limit <= 500:
            raise Invalid("must be 1 to 500", field="limit")
        with self.rt.db.connect() as conn:
            self._managed(conn, actor, org_key, webhook_id)
            rows = store.list_deliveries(
                conn, webhook_id=webhook_id, before_id=before, limit=limit + 1
            )
        out = [public_delivery(r) for r in rows[:limit]]
        return {"deliveries": out, "next": out[-1]["id"] if len(rows) > limit else None}

    def resend(
        self, actor: Actor, org_key: str, webhook_id: int, delivery_id: int
    ) -> dict[str, Any]:
        """Send a delivery's event again: a new delivery, queued behind any pending one for
        the same flag. The webhook's signature and format are today's."""
        with self.rt.write_db.begin() as conn:
            self._managed(conn, actor, org_key, webhook_id)
            old = store.get_delivery(conn, webhook_id=webhook_id, delivery_id=delivery_id)
            if old is None:
                raise NotFound("no such delivery")
            new_id = store.add_delivery(
                conn,
                webhook_id=webhook_id,
                event_id=old["event_id"],
                order_key=old["order_key"],
                now=self.rt.now(),
            )
            row = store.get_delivery(conn, webhook_id=webhook_id, delivery_id=new_id)
        assert row is not None
        return public_delivery(row)


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise Invalid(f"must be at most {MAX_DESCRIPTION} characters", field="description")
    return value.strip()
