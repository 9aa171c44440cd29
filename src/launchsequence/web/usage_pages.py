"""The applications page: which applications and SDK versions asked an environment for flags
in the last 7 days, when each was last seen, and how many streams are open now."""

from __future__ import annotations

from starlette.responses import Response

from .pages import Page, page

__all__ = ["ROUTES"]


@page()
def applications(p: Page) -> Response:
    org_key, project_key, env_key = p.param("org"), p.param("project"), p.param("env")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    env = p.services.orgs.get_environment(actor, org_key, project_key, env_key)
    seen = p.services.usage.applications(actor, org_key, project_key, env_key)
    return p.render("applications.html", org=org, project=project, env=env, seen=seen)


ROUTES = [
    ("/o/{org}/p/{project}/environments/{env}/applications", applications, ["GET"]),
]
