"""Organization pages: the dashboard of projects, the audit log, and settings (the name,
members added by email or invited, personal API tokens)."""

from __future__ import annotations

import calendar
import datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response

from ..services import Conflict, Forbidden, Invalid, NotFound
from . import audit_view, flash, params
from .pages import Page, Redirect, page

__all__ = ["ROUTES"]


RECENT_FLAGS = 5


def _recent_flags(p: Page, org: str, project: str) -> list[dict[str, Any]]:
    """The flags changed last, newest first, each once with its latest change. Other entries of
    the project (keys rotated, environments renamed, segments) are not flag changes."""
    entries = p.services.audit.list_entries(
        p.need_actor(), org, project=project, flags_only=True, limit=50
    )["entries"]
    latest: dict[str, dict[str, Any]] = {}
    for entry in entries:
        latest.setdefault(entry["flag"], entry)
    return list(latest.values())[:RECENT_FLAGS]


def _project_summary(p: Page, org: str, project: dict[str, Any]) -> dict[str, Any]:
    actor = p.need_actor()
    flags = p.services.flags.list_flags(actor, org, project["key"])
    on = {
        env["key"]: sum(1 for f in flags if f["environments"].get(env["key"], {}).get("on"))
        for env in project["environments"]
    }
    recent = _recent_flags(p, org, project["key"])
    return {**project, "flag_count": len(flags), "on": on, "recent": recent}


@page()
def dashboard(p: Page) -> Response:
    org_key = p.param("org")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    errors: dict[str, str] = {}
    values = {"key": "", "name": ""}
    if p.request.method == "POST":
        values = {"key": p.form.get("key", "").strip(), "name": p.form.get("name", "").strip()}
        try:
            # No server keys: this page would show them to nobody; the environment page
            # offers to create each one, and shows it then.
            p.services.orgs.create_project(
                actor, org_key, key=values["key"], name=values["name"], server_keys=False
            )
        except (Invalid, Conflict) as exc:
            errors[getattr(exc, "field", None) or "key"] = exc.message
            p.status = 422
        else:
            raise Redirect(f"/o/{org_key}/p/{values['key']}/flags")
    projects = [
        _project_summary(p, org_key, pr) for pr in p.services.orgs.list_projects(actor, org_key)
    ]
    return p.render(
        "dashboard.html",
        org=org,
        projects=projects,
        errors=errors,
        values=values,
        deleted=p.query.get("deleted"),
    )


_AUDIT_FILTERS = ("project", "environment", "flag", "member", "action", "from", "to")
_DAY_MS = 86_400_000


def _day(raw: str, name: str) -> int | None:
    """A `YYYY-MM-DD` field as the Unix ms of that day's start (UTC); empty is None."""
    if not raw:
        return None
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError:
        raise Invalid("must be a date like 2026-12-07", field=name) from None
    return calendar.timegm(day.timetuple()) * 1000


@page()
def audit(p: Page) -> Response:
    """The audit log: a sentence per entry, filters that live in the URL, 50 per page."""
    org_key = p.param("org")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    before = params.optional_integer(p.query.get("before"), "before", lo=1, hi=params.MAX_ID)
    f = {name: p.query.get(name, "")[:320].strip() for name in _AUDIT_FILTERS}
    known_actions = {value for _, group in audit_view.ACTIONS for value, _ in group}
    if f["action"] and f["action"] not in known_actions:
        f["action"] = ""
    since, until = _day(f["from"], "from"), _day(f["to"], "to")
    entries = p.services.audit.list_entries(
        actor,
        org_key,
        project=f["project"] or None,
        environment=f["environment"] or None,
        flag=f["flag"] or None,
        member=f["member"] or None,
        action=f["action"] or None,
        since=since,
        until=until + _DAY_MS if until is not None else None,
        before=before,
        limit=50,
    )
    for entry in entries["entries"]:
        entry["says"] = audit_view.describe(entry)
        entry["diff"] = audit_view.diff_lines(entry["before"], entry["after"])
    kept = {k: v for k, v in f.items() if v}
    return p.render(
        "audit.html",
        org=org,
        page=entries,
        filters=f,
        filtered=bool(kept),
        actions=audit_view.ACTIONS,
        projects=p.services.orgs.list_projects(actor, org_key),
        members=p.services.orgs.list_members(actor, org_key),
        next_href="?" + urlencode({**kept, "before": entries["next"]}) if entries["next"] else None,
        first_href=("?" + urlencode(kept)) if before else None,
        now=p.services.rt.now(),
    )


# A service's field name -> the settings page's input, per action (the page has several forms).
_FIELDS = {
    "create-token": {"name": "token_name", "form": "token_name"},
    "add-member": {"role": "member_role", "email": "member_email"},
    "rename-org": {"name": "org_name", "form": "org_name"},
}


def _show_next(p: Page, org_key: str, secret: dict[str, str]) -> None:
    """Post/redirect/get: a new invitation link or API token goes to the next GET only, so a
    reload neither shows it again nor makes another."""
    here = f"/o/{org_key}/settings"
    flash.put(p, here, secret)
    raise Redirect(f"{here}#{'invitations' if 'invite_url' in secret else 'tokens'}")


def _shown(p: Page, org_key: str) -> dict[str, Any]:
    data = flash.take(p, f"/o/{org_key}/settings")
    if not isinstance(data, dict):
        return {}
    wanted = ("invite_url", "emailed_to", "token")
    return {k: v for k, v in data.items() if k in wanted and isinstance(v, str)}


def _id(p: Page, name: str) -> int:
    """The row a settings button acts on; its hidden field is only ever tampered with."""
    try:
        return params.row_id(p.form.get(name), name)
    except Invalid as exc:
        raise Invalid(exc.message) from None  # shown at the top of the page


@page()
def settings(p: Page) -> Response:
    org_key = p.param("org")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    shown: dict[str, Any] = {}
    if p.request.method == "GET":
        shown = _shown(p, org_key)
    if p.request.method == "POST":
        action = p.form.get("action", "")
        values = dict(p.form)
        try:
            if action == "invite":
                token, row = p.services.invitations.create(
                    actor, org_key, role=p.form.get("role"), email=p.form.get("email") or None
                )
                base = p.services.rt.settings.base_url.rstrip("/") or str(
                    p.request.base_url
                ).rstrip("/")
                shown_next = {"invite_url": f"{base}/signup?invitation={token}"}
                if row["emailed"]:
                    shown_next["emailed_to"] = row["email"]
                _show_next(p, org_key, shown_next)
            elif action == "add-member":
                member = p.services.orgs.add_member(
                    actor,
                    org_key,
                    email=p.form.get("member_email", ""),
                    role=p.form.get("member_role", ""),
                )
                raise Redirect(f"/o/{org_key}/settings?added={quote(member['email'])}#members")
            elif action == "rename-org":
                p.services.orgs.rename_org(actor, org_key, p.form.get("org_name", ""))
                raise Redirect(f"/o/{org_key}/settings?renamed=1")
            elif action == "second-factor":
                required = p.form.get("require_second_factor") == "1"
                p.services.second_factor.set_org_requirement(actor, org_key, required)
                raise Redirect(f"/o/{org_key}/settings#second-factor")
            elif action == "revoke-invitation":
                p.services.invitations.revoke(actor, org_key, _id(p, "id"))
                raise Redirect(f"/o/{org_key}/settings")
            elif action == "set-role":
                p.services.orgs.set_role(actor, org_key, _id(p, "user_id"), p.form.get("role", ""))
                raise Redirect(f"/o/{org_key}/settings")
            elif action == "remove-member":
                p.services.orgs.remove_member(actor, org_key, _id(p, "user_id"))
                raise Redirect(f"/o/{org_key}/settings")
            elif action == "create-token":
                token, _ = p.services.accounts.create_token(actor, p.form.get("token_name", ""))
                _show_next(p, org_key, {"token": token})
            elif action == "revoke-token":
                p.services.accounts.revoke_token(actor, _id(p, "id"))
                raise Redirect(f"/o/{org_key}/settings")
            else:
                errors["form"] = "unknown action"
        except Invalid as exc:
            field = exc.field or "form"
            if action in _FIELDS:
                field = _FIELDS[action].get(field, field)
            errors[field] = exc.message
            p.status = 422
        except NotFound as exc:
            if exc.code != "no_such_user":
                raise
            errors["member_email"] = exc.message
            p.status = 422
        except (Conflict, Forbidden) as exc:
            if action == "add-member" and exc.code == "already_member":
                errors["member_email"] = exc.message
            elif action == "add-member" and exc.code == "owner_only":
                errors["member_role"] = exc.message
            else:
                errors["form"] = exc.message
            p.status = 403 if isinstance(exc, Forbidden) else 409
    return p.render(
        "settings.html",
        org=org,
        members=p.services.orgs.list_members(actor, org_key),
        invitations=p.services.invitations.list(actor, org_key),
        tokens=p.services.accounts.list_tokens(actor),
        errors=errors,
        values=values,
        shown=shown,
        mail=p.services.mailer.configured,
        require_second_factor=p.services.second_factor.org_requirement(actor, org_key),
        me=actor,
        added=p.query.get("added"),
        renamed=p.query.get("renamed") == "1",
    )


ROUTES = [
    ("/o/{org}", dashboard, ["GET", "POST"]),
    ("/o/{org}/audit", audit, ["GET"]),
    ("/o/{org}/settings", settings, ["GET", "POST"]),
]
