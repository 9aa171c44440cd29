"""Environments and their SDK keys: the client key shown, the server key shown once (at
creation or rotation), rotation behind a confirmation, and usage snippets."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..services import Conflict, Invalid
from .pages import Page, Redirect, page

__all__ = ["ROUTES"]


def _base_url(p: Page) -> str:
    return (p.services.rt.settings.base_url or str(p.request.base_url)).rstrip("/")


@page()
def environments(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    errors: dict[str, str] = {}
    values = {"key": "", "name": ""}
    revealed: dict[str, Any] | None = None
    if p.request.method == "POST":
        action = p.form.get("action", "")
        if action == "create":
            values = {"key": p.form.get("key", "").strip(), "name": p.form.get("name", "").strip()}
            try:
                env = p.services.orgs.create_environment(
                    actor, org_key, project_key, key=values["key"], name=values["name"] or None
                )
            except (Invalid, Conflict) as exc:
                errors[getattr(exc, "field", None) or "key"] = exc.message
                p.status = 422
            else:
                server = next(k for k in env["sdk_keys"] if k["kind"] == "server")
                revealed = {"environment": env["key"], "kind": "server", "key": server["key"]}
                values = {"key": "", "name": ""}
        elif action == "rotate":
            if p.form.get("confirm") != "yes":
                raise Redirect(
                    f"/o/{org_key}/p/{project_key}/environments/{p.form.get('env', '')}"
                    f"/rotate?kind={p.form.get('kind', '')}"
                )
            env_key = p.form.get("env", "")
            rotated = p.services.orgs.rotate_sdk_key(
                actor, org_key, project_key, env_key, kind=p.form.get("kind", "")
            )
            revealed = {"environment": env_key, "kind": rotated["kind"], "key": rotated["key"]}
    project = p.services.orgs.get_project(actor, org_key, project_key)
    return p.render(
        "environments.html",
        org=org,
        project=project,
        base_url=_base_url(p),
        errors=errors,
        values=values,
        revealed=revealed,
    )


@page()
def confirm_rotate(p: Page) -> Response:
    org_key, project_key, env_key = p.param("org"), p.param("project"), p.param("env")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    env = p.services.orgs.get_environment(actor, org_key, project_key, env_key)
    kind = "client" if p.query.get("kind") == "client" else "server"
    grace = p.services.rt.settings.sdk_key_grace_seconds
    return p.render("rotate.html", org=org, project=project, env=env, kind=kind, grace=grace)


ROUTES = [
    ("/o/{org}/p/{project}/environments", environments, ["GET", "POST"]),
    ("/o/{org}/p/{project}/environments/{env}/rotate", confirm_rotate, ["GET"]),
]
