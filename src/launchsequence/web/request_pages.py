"""Change requests on the dashboard: "Request change" on a protected environment's flag page
(the form's edits, as a patch of the fields they change, with a comment), the project's list of
requests, and a request's page with its diff (line by line, as the audit log shows changes) and
the buttons its reader may use: approve, reject, cancel, apply now or at a time.

Every button is a plain form with the CSRF token: the pages work without scripts.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..services import Conflict, Forbidden, Invalid
from . import params
from .audit_view import diff_lines
from .pages import Page, Redirect, page
from .schedule_pages import local_input, parse_input, summary

__all__ = ["ROUTES", "request_form_edits"]

_FIELDS = ("on", "off_variation", "prerequisites", "targets", "rules", "fallthrough",
           "client_side")  # fmt: skip
_STATES = ("open", "approved", "scheduled", "applied", "rejected", "cancelled", "failed")


def request_form_edits(
    p: Page,
    org_key: str,
    project_key: str,
    flag_key: str,
    env: str,
    wanted: dict[str, Any],
    current: dict[str, Any],
) -> None:
    """Open a change request for what the flag page's form changes (`wanted` against
    `current`), with the form's `request_comment` (or `comment`); redirects to the request.
    Invalid (field `request`) when the form changes nothing."""
    changes = {f: wanted[f] for f in _FIELDS if wanted[f] != current[f]}
    if not changes:
        raise Invalid(
            "change something first (the On switch, targets, rules...), then request it",
            field="request",
        )
    body = {
        "flag": flag_key,
        "environment": env,
        "changes": changes,
        "comment": p.form.get("request_comment") or p.form.get("comment", ""),
    }
    made = p.services.change_requests.create(p.need_actor(), org_key, project_key, body)
    raise Redirect(f"/o/{org_key}/p/{project_key}/change-requests/{made['id']}?done=opened")


def _with_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "summary": summary(r["changes"])} for r in rows]


@page()
def project_requests(p: Page) -> Response:
    """GET: the project's change requests, newest first; `state` filters."""
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    state = p.query.get("state") or None
    if state is not None and state not in _STATES:
        raise Invalid(f"must be one of {', '.join(_STATES)}", field="state")
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    rows = p.services.change_requests.list_requests(actor, org_key, project_key, state=state)
    return p.render(
        "change_requests.html",
        org=org,
        project=project,
        requests=_with_summary(rows),
        state=state,
        states=_STATES,
    )


@page()
def request_page(p: Page) -> Response:
    """GET: one request with its diff and buttons. POST: `action` approve (of the `revision`
    shown), reject (`reason`), cancel, or apply (now, or at `apply_at` when `when` is
    "later")."""
    org_key, project_key = p.param("org"), p.param("project")
    request_id = params.row_id(str(p.request.path_params["request_id"]), "request_id")
    actor = p.need_actor()
    here = f"/o/{org_key}/p/{project_key}/change-requests/{request_id}"
    errors: dict[str, str] = {}
    if p.request.method == "POST":
        service = p.services.change_requests
        action = p.form.get("action", "")
        try:
            if action == "approve":
                revision = params.row_id(p.form.get("revision", ""), "revision")
                service.approve(actor, org_key, project_key, request_id, revision=revision)
            elif action == "reject":
                service.reject(actor, org_key, project_key, request_id, reason=p.form.get("reason"))
            elif action == "cancel":
                service.cancel(actor, org_key, project_key, request_id)
            elif action == "apply":
                at = None
                if p.form.get("when") == "later":
                    at = parse_input(p.form.get("apply_at", ""))
                service.apply(actor, org_key, project_key, request_id, at=at)
            else:
                raise Invalid("no such action", field="action")
        except (Invalid, Conflict, Forbidden) as exc:
            errors[action or "action"] = exc.message
            p.status = (
                403 if isinstance(exc, Forbidden) else 409 if isinstance(exc, Conflict) else 422
            )
        else:
            raise Redirect(f"{here}?done={action}")
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    request = p.services.change_requests.get(actor, org_key, project_key, request_id)
    diff = request["diff"]
    return p.render(
        "change_request.html",
        org=org,
        project=project,
        request={**request, "summary": summary(request["changes"])},
        lines=diff_lines(diff["before"], diff["after"], context=3),
        moved=diff["current"] is not None and diff["current"] != diff["before"],
        errors=errors,
        done=p.query.get("done"),
        apply_default=p.form.get("apply_at") or local_input(p.services.rt.now() + 3_600_000),
    )


ROUTES = [
    ("/o/{org}/p/{project}/change-requests", project_requests, ["GET"]),
    ("/o/{org}/p/{project}/change-requests/{request_id}", request_page, ["GET", "POST"]),
]
