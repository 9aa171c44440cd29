"""The first-steps checklist at the top of a project's flag list: create a flag, connect an
application with a snippet, see the first evaluation arrive. Ticked from what the project
holds (services/onboarding.py); while a step is left, scripts ask again every few seconds
(`X-Partial: first-steps` on the flag list, answered by `partial` with a few indexed reads),
so the last tick arrives without a reload, and stop once the checklist is gone. Gone once
every step is done, or dismissed (`POST .../first-steps`); viewers, who can do none of it,
never see it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from .pages import Page, Redirect, page

__all__ = ["ROUTES", "checklist", "partial"]


def checklist(p: Page, org_key: str, project_key: str) -> dict[str, Any] | None:
    """The checklist to show on the flag list, or None (dismissed, done before, or a
    viewer's)."""
    found: dict[str, Any] = p.services.onboarding.checklist(p.need_actor(), org_key, project_key)
    if found["closed"] or found["role"] == "viewer":
        return None
    found["done_count"] = sum(found["steps"].values())
    return found


def partial(p: Page, org_key: str, project_key: str) -> Response:
    """The checklist alone, for the scripts that ask again: with its last tick once complete,
    nothing (204) once closed or for a viewer, so that they stop asking."""
    steps = checklist(p, org_key, project_key)
    if steps is None:
        return Response(status_code=204)
    return p.render(
        "_first_steps.html",
        org={"key": org_key},
        project={"key": project_key, "name": steps["project"]},
        steps=steps,
        live=True,
    )


@page()
def dismiss(p: Page) -> Response:
    """Hide the project's checklist (for everyone in it); back to its flag list."""
    org_key, project_key = p.param("org"), p.param("project")
    p.services.onboarding.dismiss(p.need_actor(), org_key, project_key)
    raise Redirect(f"/o/{org_key}/p/{project_key}/flags?first_steps=dismissed")


ROUTES = [("/o/{org}/p/{project}/first-steps", dismiss, ["POST"])]
