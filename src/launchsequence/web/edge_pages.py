"""Edge nodes of a project: its relay keys (created and shown once, after a redirect so that
a reload makes no other key; revoked) and the edges connected to this server now, with how far
behind each is."""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response

from ..services import Invalid, NotFound
from . import flash, params
from .pages import Page, Redirect, page

__all__ = ["ROUTES", "connected_edges"]


def connected_edges(p: Page, project_id: int, env_names: dict[int, str]) -> list[dict[str, Any]]:
    """The edges of the project connected to this process (each process of a core lists its
    own), with the version each environment was sent and how far that is behind."""
    edges = getattr(p.request.app.state, "edges", None)
    hubs = getattr(p.request.app.state, "hubs", None)
    if edges is None or hubs is None:
        return []
    current = hubs.loaded()
    rows = []
    for session in edges.for_project(project_id):
        envs = [
            {
                "environment": env_names.get(env_id, str(env_id)),
                "version": version,
                "behind": max(0, current.get(env_id, version) - version),
            }
            for env_id, version in sorted(session.sent.items())
        ]
        rows.append(
            {
                "edge_id": session.edge_id,
                "name": session.name,
                "address": session.address,
                "key_name": session.key_name,
                "connected_at": session.connected_at,
                "environments": envs,
                "behind": max((e["behind"] for e in envs), default=0),
                "seconds_since_sent": round(time.monotonic() - session.last_sent, 1),
            }
        )
    return rows


@page()
def edges(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    here = f"/o/{org_key}/p/{project_key}/edges"
    errors: dict[str, str] = {}
    name = ""
    revealed = None
    if p.request.method == "POST":
        action = p.form.get("action", "")
        if action == "create":
            name = p.form.get("name", "")
            try:
                created = p.services.relay_keys.create(actor, org_key, project_key, name)
            except Invalid as exc:
                errors["name"] = exc.message
                p.status = 422
            else:
                flash.put(p, here, {"name": created["name"], "key": created["key"]})
                raise Redirect(f"{here}#relay-keys")
        elif action == "revoke":
            try:  # "²" passes isdigit() but not int(); 10**40 is no row id either
                key_id = params.row_id(p.form.get("key_id", ""), "key_id")
            except Invalid:
                raise NotFound("no such relay key") from None
            p.services.relay_keys.revoke(actor, org_key, project_key, key_id)
            raise Redirect(f"{here}?revoked={key_id}#relay-keys")
        else:
            errors["form"] = "unknown action"
            p.status = 400
    else:
        data = flash.take(p, here)
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            revealed = data
    keys = p.services.relay_keys.list(actor, org_key, project_key)
    project_id = p.services.relay_keys.project_id(actor, org_key, project_key)
    env_ids = p.services.orgs.environment_ids(actor, org_key, project_key)
    names = {env_id: key for key, env_id in env_ids.items()}
    return p.render(
        "edges.html",
        org=org,
        project=project,
        keys=keys,
        errors=errors,
        name=name,
        revealed=revealed,
        revoked=p.query.get("revoked"),
        edges=connected_edges(p, project_id, names),
        base_url=(p.services.rt.settings.base_url or str(p.request.base_url)).rstrip("/"),
    )


ROUTES = [("/o/{org}/p/{project}/edges", edges, ["GET", "POST"])]
