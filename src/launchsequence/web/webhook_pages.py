"""Webhook pages: the organization's webhooks, one webhook's settings and its deliveries.

For admins and owners, as in the API (a webhook's URL may be a secret). The signing secret is
shown once, on the page the creation or rotation redirects to (a one-time flash).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..services import Invalid
from ..services.events import EVENT_TYPES
from . import flash, params
from .pages import Page, Redirect, page

__all__ = ["ROUTES"]

#: A service's field -> the form's input it shows beside.
_FIELDS = {"url": "url", "events": "events", "description": "description", "format": "format"}


def _body(p: Page) -> dict[str, Any]:
    """The webhook form as a service body."""
    chosen = [e for e in p.lists.get("events", []) if e]
    return {
        "url": p.form.get("url", "").strip(),
        "description": p.form.get("description", ""),
        "events": ["*"] if p.form.get("all_events") or not chosen else chosen,
        "format": p.form.get("format", "json"),
        "enabled": bool(p.form.get("enabled")),
    }


def _error(errors: dict[str, str], exc: Invalid) -> None:
    field = (exc.field or "form").split("[", 1)[0]
    errors[_FIELDS.get(field, "form")] = exc.message


@page()
def webhook_list(p: Page) -> Response:
    org_key = p.param("org")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    errors: dict[str, str] = {}
    # Only where the caller may add one (a project admin: their projects, not every project).
    scopes = p.services.webhooks.scopes(actor, org_key)
    first = "" if scopes["organization"] else next((s["key"] for s in scopes["projects"]), "")
    values: dict[str, Any] = {"url": "", "description": "", "events": ["*"], "format": "json",
                              "enabled": True, "project": first}  # fmt: skip
    if p.request.method == "POST":
        values = {**_body(p), "project": p.form.get("project", "")}
        body = {**values, "project": values["project"] or None}
        try:
            made = p.services.webhooks.create(actor, org_key, body)
        except Invalid as exc:
            _error(errors, exc)
            p.status = 422
        else:
            here = f"/o/{org_key}/webhooks/{made['id']}"
            flash.put(p, here, {"secret": made["secret"]})
            raise Redirect(here)
    hooks = p.services.webhooks.list(actor, org_key)
    return p.render(
        "webhooks.html",
        org=org,
        hooks=hooks,
        scopes=scopes,
        event_types=EVENT_TYPES,
        values=values,
        errors=errors,
        deleted=p.query.get("deleted"),
    )


@page()
def webhook_page(p: Page) -> Response:
    org_key = p.param("org")
    webhook_id = params.row_id(str(p.request.path_params["webhook_id"]), "webhook")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    here = f"/o/{org_key}/webhooks/{webhook_id}"
    errors: dict[str, str] = {}
    hook = p.services.webhooks.get(actor, org_key, webhook_id)
    values: dict[str, Any] = hook
    notice = None
    if p.request.method == "POST":
        action = p.form.get("action", "save")
        if action == "save":
            values = {**hook, **_body(p)}
            try:
                p.services.webhooks.update(actor, org_key, webhook_id, _body(p))
            except Invalid as exc:
                _error(errors, exc)
                p.status = 422
            else:
                raise Redirect(here + "?saved=1")
        elif action == "rotate":
            made = p.services.webhooks.rotate_secret(actor, org_key, webhook_id)
            flash.put(p, here, {"secret": made["secret"]})
            raise Redirect(here)
        elif action == "delete":
            p.services.webhooks.delete(actor, org_key, webhook_id)
            raise Redirect(f"/o/{org_key}/webhooks?deleted={webhook_id}")
        elif action == "resend":
            delivery = params.row_id(p.form.get("delivery_id"), "delivery_id")
            p.services.webhooks.resend(actor, org_key, webhook_id, delivery)
            raise Redirect(here + "?resent=1#deliveries")
    if p.query.get("saved"):
        notice = "Saved."
    elif p.query.get("resent"):
        notice = "Queued to be sent again: it shows at the top of the deliveries."
    shown = flash.take(p, here) if p.request.method == "GET" else None
    secret = shown.get("secret") if isinstance(shown, dict) else None
    before = params.optional_integer(p.query.get("before"), "before", lo=1, hi=params.MAX_ID)
    deliveries = p.services.webhooks.deliveries(actor, org_key, webhook_id, before=before)
    return p.render(
        "webhook.html",
        org=org,
        hook=hook,
        values=values,
        errors=errors,
        secret=secret if isinstance(secret, str) else None,
        notice=notice,
        page=deliveries,
        event_types=EVENT_TYPES,
    )


ROUTES = [
    ("/o/{org}/webhooks", webhook_list, ["GET", "POST"]),
    ("/o/{org}/webhooks/{webhook_id}", webhook_page, ["GET", "POST"]),
]
