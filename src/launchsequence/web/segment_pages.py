"""Segments of an environment: the list with a form to create one, and a segment's page
(included and excluded keys, rules), kept while its author logs in again.

In an environment that confirms changes (web/confirm.py), saving a segment asks first, as
saving a flag's configuration does: the flags whose rules use it serve by it at once. A save
without `confirmed=1` shows the page again with the edits kept and the question. Creating a
segment (empty, used by nothing) and deleting one (refused while a flag uses it) change
nothing any application is served, and do not ask."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..services import Conflict, Invalid
from ..services.access import refuse_read_only
from . import rules_form as rf
from .confirm import asks_confirmation
from .pages import Page, Redirect, page

__all__ = ["ROUTES"]


@page()
def segment_list(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    envs = [e["key"] for e in project["environments"]]
    env = p.form.get("env") or p.query.get("env") or (envs[0] if envs else "")
    errors: dict[str, str] = {}
    values = {"key": "", "name": ""}
    if p.request.method == "POST":
        values = {"key": p.form.get("key", "").strip(), "name": p.form.get("name", "").strip()}
        try:
            p.services.flags.write_segment(
                actor,
                org_key,
                project_key,
                env,
                values["key"],
                {"name": values["name"] or values["key"]},
                create=True,
            )
        except (Invalid, Conflict) as exc:
            errors[getattr(exc, "field", None) or "key"] = exc.message
            p.status = 422
        else:
            raise Redirect(f"/o/{org_key}/p/{project_key}/segments/{values['key']}?env={env}")
    segments = p.services.flags.list_segments(actor, org_key, project_key, env)
    return p.render(
        "segments.html",
        org=org,
        project=project,
        env=env,
        segments=segments,
        errors=errors,
        values=values,
    )


@page()
def segment_page(p: Page) -> Response:
    org_key, project_key, key = p.param("org"), p.param("project"), p.param("segment")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    # Edits sent after the session had ended, kept while the user logged in again.
    restored = p.take_draft() if p.request.method == "GET" else None
    if restored:
        p.lists = restored
        p.form = {k: v[0] for k, v in restored.items() if v}
    envs = [e["key"] for e in project["environments"]]
    env = p.form.get("env") or p.query.get("env") or (envs[0] if envs else "")
    segment = p.services.flags.get_segment(actor, org_key, project_key, env, key)
    errors: dict[str, str] = {}
    notice = None
    confirming = False
    stored = {
        "name": segment["name"],
        "description": segment["description"],
        "included": "\n".join(segment["included"]),
        "excluded": "\n".join(segment["excluded"]),
        "rules": rf.draft_rules(segment["rules"], 0, serve=False),
    }
    draft = stored
    if restored:
        draft = _segment_draft_from_form(p)
        notice = (
            "Restored your unsaved changes from before your session ended. They are not "
            "saved yet: check them, then save."
        )
    if p.request.method == "POST":
        draft = _segment_draft_from_form(p)
        action = p.form.get("action", "save")
        if action == "delete":
            try:
                p.services.flags.delete_segment(actor, org_key, project_key, env, key)
            except Conflict as exc:
                errors["form"] = f"Not deleted: {exc.message}. Take it out of their rules first."
                p.status = 409
            else:
                raise Redirect(f"/o/{org_key}/p/{project_key}/segments?env={env}")
        elif action != "save":
            rf.apply_action(draft["rules"], action, 0, serve=False)
        else:
            try:
                body = {
                    "name": draft["name"],
                    "description": draft["description"],
                    "included": rf.split_keys(draft["included"]),
                    "excluded": rf.split_keys(draft["excluded"]),
                    "rules": rf.rules_from_draft(draft["rules"], 0, serve=False),
                }
                if asks_confirmation(project, env) and p.form.get("confirmed") != "1":
                    refuse_read_only(org["role"])
                    confirming = True  # the page again, the edits kept, asking to confirm
                else:
                    p.services.flags.write_segment(
                        actor, org_key, project_key, env, key, body, create=False
                    )
            except Invalid as exc:
                field = exc.field or "form"
                errors[
                    field
                    if field in ("name", "description", "included", "excluded")
                    else rf.engine_field(field)
                ] = exc.message
                p.status = 422
            else:
                if not confirming:
                    raise Redirect(f"/o/{org_key}/p/{project_key}/segments/{key}?env={env}")
    return p.render(
        "segment.html",
        org=org,
        project=project,
        env=env,
        segment=segment,
        draft=draft,
        edited=draft != stored,
        notice=notice,
        errors=errors,
        operators=rf.OPERATORS,
        confirm_env=asks_confirmation(project, env),
        confirming=confirming,
        comment=p.form.get("comment", ""),
    )


def _segment_draft_from_form(p: Page) -> dict[str, Any]:
    f = p.form
    return {
        "name": f.get("name", ""),
        "description": f.get("description", ""),
        "included": f.get("included", ""),
        "excluded": f.get("excluded", ""),
        "rules": rf.draft_from_form(f, 0, serve=False),
    }


ROUTES = [
    ("/o/{org}/p/{project}/segments", segment_list, ["GET", "POST"]),
    ("/o/{org}/p/{project}/segments/{segment}", segment_page, ["GET", "POST"]),
]
