"""A project's members: each with their organization role and the role that counts in this
project, and (for the organization's admins and owners) a select to give them another role
here. Works without scripts: each row is a form with its CSRF token."""

from __future__ import annotations

from starlette.responses import Response

from ..services import Conflict, Forbidden, Invalid
from . import params
from .pages import Page, Redirect, page

__all__ = ["ROUTES"]

#: The select's value for "no project role: the organization role counts here".
ORG_ROLE = "org"


@page()
def project_members(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    here = f"/o/{org_key}/p/{project_key}/members"
    errors: dict[str, str] = {}
    if p.request.method == "POST":
        try:
            user_id = params.row_id(p.form.get("user_id"), "user_id")
        except Invalid as exc:
            raise Invalid(exc.message) from None  # a tampered hidden field: top of the page
        role = p.form.get("role", "")
        try:
            if role == ORG_ROLE:
                p.services.project_roles.remove_role(actor, org_key, project_key, user_id)
            else:
                p.services.project_roles.set_role(actor, org_key, project_key, user_id, role)
        except (Invalid, Conflict) as exc:
            errors["form"] = exc.message
            p.status = 409 if isinstance(exc, Conflict) else 422
        except Forbidden as exc:
            if exc.code != "owner_only":
                raise
            errors["form"] = exc.message
            p.status = 403
        else:
            raise Redirect(f"{here}?changed={user_id}#member-{user_id}")
    project = p.services.orgs.get_project(actor, org_key, project_key)
    members = p.services.project_roles.list_members(actor, org_key, project_key)
    changed = p.query.get("changed", "")
    return p.render(
        "project_members.html",
        org=org,
        project=project,
        members=members,
        manager=org["org_role"] != "viewer",
        changed=next((m for m in members if str(m["user_id"]) == changed), None),
        errors=errors,
    )


ROUTES = [
    ("/o/{org}/p/{project}/members", project_members, ["GET", "POST"]),
]
