"""Renaming and deleting a project. Deleting asks for the project's key to be typed, on a page
that says what goes with it; only owners and admins see these forms (the service refuses the
rest)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ..services import Invalid
from ..services.access import refuse_read_only
from .pages import Page, Redirect, page

__all__ = ["ROUTES", "live_by_environment"]


def live_by_environment(
    project: dict[str, Any], flags: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Environment key -> the keys of the active flags on there (only environments with
    some), in the project's order: what deleting would take from running applications."""
    live: dict[str, list[str]] = {}
    for env in project["environments"]:
        on = [
            f["key"]
            for f in flags
            if not f["archived"] and f["environments"].get(env["key"], {}).get("on")
        ]
        if on:
            live[env["key"]] = on
    return live


@page()
def project_settings(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    here = f"/o/{org_key}/p/{project_key}/settings"
    errors: dict[str, str] = {}
    values = {"name": project["name"], "confirm_key": ""}
    if p.request.method == "POST":
        refuse_read_only(org["role"])
        action = p.form.get("action", "")
        if action == "rename":
            values["name"] = p.form.get("name", "")
            try:
                p.services.orgs.rename_project(actor, org_key, project_key, values["name"])
            except Invalid as exc:
                errors["name"] = exc.message
                p.status = 422
            else:
                raise Redirect(f"{here}?renamed=1")
        elif action == "delete":
            values["confirm_key"] = p.form.get("confirm_key", "")
            if values["confirm_key"].strip() != project_key:
                errors["confirm_key"] = f"type {project_key} to confirm"
                p.status = 422
            else:
                # Typing the key, below the list of live flags, is the confirmation.
                p.services.orgs.delete_project(actor, org_key, project_key, force=True)
                raise Redirect(f"/o/{quote(org_key)}?deleted={quote(project_key)}")
        else:
            errors["form"] = "unknown action"
            p.status = 400
    flags = p.services.flags.list_flags(actor, org_key, project_key, archived=None)
    return p.render(
        "project_settings.html",
        org=org,
        project=project,
        flag_count=len(flags),
        live=live_by_environment(project, flags),
        errors=errors,
        values=values,
        renamed=p.query.get("renamed") == "1",
    )


ROUTES = [
    ("/o/{org}/p/{project}/settings", project_settings, ["GET", "POST"]),
]
