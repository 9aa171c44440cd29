"""Environments and their SDK keys: the client key shown, the server key shown once (at
creation or rotation, after a redirect so that a reload makes no other key), rotation behind a
confirmation, settings (name, confirm changes), deleting after typing the key, and usage
snippets."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ..services import Conflict, Forbidden, Invalid
from ..services.access import refuse_read_only
from ..services.environment_settings import SETTINGS
from . import flash, params
from .manage_pages import live_by_environment
from .pages import Page, Redirect, page
from .snippets import SERVER_KEY_VARIABLE, choose_flag, snippets_for

__all__ = ["ROUTES"]


def _base_url(p: Page) -> str:
    """The configured public URL, else the one the browser reached (behind a proxy listed in
    `trusted_proxies`, its X-Forwarded-Proto counts: uvicorn applies it to the request)."""
    return (p.services.rt.settings.base_url or str(p.request.base_url)).rstrip("/")


def _usage(
    p: Page, org_key: str, project: dict[str, Any], revealed: dict[str, Any] | None
) -> dict[str, Any]:
    """Per environment key: the flags the snippets show and the snippets themselves (with the
    server key in full only for the environment whose new key is being shown)."""
    actor = p.need_actor()
    flags = p.services.flags.list_flags(actor, org_key, project["key"])
    entries = p.services.audit.list_entries(
        actor, org_key, project=project["key"], flags_only=True, limit=50
    )["entries"]
    recent = [e["flag"] for e in entries if e.get("flag")]
    base_url = _base_url(p)
    usage: dict[str, Any] = {}
    for env in project["environments"]:
        flag = choose_flag(flags, recent, env["key"], client_side=False)
        client_flag = choose_flag(flags, recent, env["key"], client_side=True)
        server_key = None
        if revealed and revealed["environment"] == env["key"] and revealed["kind"] == "server":
            server_key = revealed["key"]
        client_key = next(
            (k["key"] for k in env["sdk_keys"] if k["kind"] == "client" and not k["expires_at"]),
            "",
        )
        snippets = []
        if flag is not None:
            snippets = snippets_for(
                base_url=base_url,
                env_name=env["name"],
                flag=flag,
                client_flag=client_flag or flag,
                client_key=client_key,
                server_key=server_key,
            )
        usage[env["key"]] = {
            "flag": flag,
            "client_flag": client_flag,
            "snippets": snippets,
            "server_key_shown": server_key is not None,
            "has_server_key": any(
                k["kind"] == "server" and not k["expires_at"] for k in env["sdk_keys"]
            ),
        }
    return usage


def _settings_from_form(form: dict[str, str]) -> dict[str, Any]:
    """An environment's settings form as `Orgs.update_environment`'s `changes`, each setting
    of `environment_settings.SETTINGS` read by its kind: text and numbers when sent; a checkbox
    when sent, and as unticked (false) in the full settings form (it sends `settings_form`),
    where an unticked box sends nothing. A number that is not one is Invalid naming it."""
    full = form.get("settings_form") == "1"
    changes: dict[str, Any] = {}
    for name, setting in SETTINGS.items():
        raw = form.get(name)
        if setting.kind == "checkbox" and (full or raw is not None):
            changes[name] = raw == "1"
        elif raw is None and not full:
            continue
        elif setting.kind == "number":
            lo, hi = setting.bounds
            changes[name] = params.integer(raw, name, lo=lo, hi=hi)
        else:
            changes[name] = raw or ""
    return changes


@page()
def environments(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    here = f"/o/{org_key}/p/{project_key}/environments"
    errors: dict[str, str] = {}
    values = {"key": "", "name": ""}
    editing: dict[str, dict[str, str]] = {}  # env key -> its settings form as sent, refused
    revealed: dict[str, Any] | None = None
    if p.request.method == "POST":
        refuse_read_only(org["role"])  # before any field is read: a viewer learns nothing more
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
                _reveal_next(p, here, env["key"], "server", server["key"], created=True)
        elif action in ("settings", "rename"):
            env_key = p.form.get("env", "")
            try:
                changes = _settings_from_form(p.form)
                p.services.orgs.update_environment(actor, org_key, project_key, env_key, changes)
            except Invalid as exc:
                errors[f"env-{env_key}-{exc.field or 'name'}"] = exc.message
                editing[env_key] = dict(p.form)
                p.status = 422
            except Forbidden as exc:
                if exc.code != "protection_owner_only":
                    raise
                errors[f"env-{env_key}-protected"] = exc.message
                editing[env_key] = dict(p.form)
                p.status = 403
            else:
                raise Redirect(f"{here}?saved={quote(env_key)}#env-{quote(env_key)}")
        elif action == "rotate":
            if p.form.get("confirm") != "yes":
                raise Redirect(
                    f"{here}/{quote(p.form.get('env', ''))}"
                    f"/rotate?kind={quote(p.form.get('kind', ''))}"
                )
            env_key = p.form.get("env", "")
            rotated = p.services.orgs.rotate_sdk_key(
                actor, org_key, project_key, env_key, kind=p.form.get("kind", "")
            )
            _reveal_next(p, here, env_key, rotated["kind"], rotated["key"], created=False)
        elif action == "create_server_key":
            env_key = p.form.get("env", "")
            try:
                made = p.services.orgs.create_server_key(actor, org_key, project_key, env_key)
            except Conflict as exc:
                errors["form"] = exc.message
                p.status = 409
            else:
                _reveal_next(p, here, env_key, "server", made["key"], created=False)
        else:
            errors["form"] = "unknown action"
            p.status = 400
    else:
        revealed = _revealed(p, here)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    return p.render(
        "environments.html",
        org=org,
        project=project,
        usage=_usage(p, org_key, project, revealed),
        variable=SERVER_KEY_VARIABLE,
        errors=errors,
        values=values,
        editing=editing,
        revealed=revealed,
        saved=p.query.get("saved"),
        deleted=p.query.get("deleted"),
    )


def _reveal_next(p: Page, here: str, env_key: str, kind: str, key: str, *, created: bool) -> None:
    """Post/redirect/get: the new key goes to the next GET only, so a reload makes no other."""
    payload = {"environment": env_key, "kind": kind, "key": key, "created": created}
    flash.put(p, here, payload)
    raise Redirect(f"{here}#env-{quote(env_key)}")


def _revealed(p: Page, here: str) -> dict[str, Any] | None:
    data = flash.take(p, here)
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        return None
    return data


@page()
def confirm_delete(p: Page) -> Response:
    """Deleting an environment: a page that names it and asks for its key to be typed."""
    org_key, project_key, env_key = p.param("org"), p.param("project"), p.param("env")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    refuse_read_only(org["role"])
    env = p.services.orgs.get_environment(actor, org_key, project_key, env_key)
    here = f"/o/{org_key}/p/{project_key}/environments"
    errors: dict[str, str] = {}
    typed = ""
    if p.request.method == "POST":
        typed = p.form.get("confirm_key", "")
        if typed.strip() != env_key:
            errors["confirm_key"] = f"type {env_key} to confirm"
            p.status = 422
        else:
            # Typing the key, below the list of live flags, is the confirmation.
            p.services.orgs.delete_environment(actor, org_key, project_key, env_key, force=True)
            raise Redirect(f"{here}?deleted={quote(env_key)}")
    every = p.services.flags.list_flags(actor, org_key, project_key, archived=None)
    flags = len(every)
    live = live_by_environment(project, every).get(env_key, [])
    return p.render(
        "confirm_delete.html",
        org=org,
        project=project,
        what="environment",
        name=env["name"],
        key=env_key,
        consequences=[
            f"the configuration of its {flags} flag{'' if flags == 1 else 's'} in this "
            "environment, and its segments",
            "its SDK keys: applications using them get 401 at once",
        ],
        live=live,
        cancel=f"{here}#env-{quote(env_key)}",
        errors=errors,
        typed=typed,
    )


@page()
def confirm_rotate(p: Page) -> Response:
    org_key, project_key, env_key = p.param("org"), p.param("project"), p.param("env")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    env = p.services.orgs.get_environment(actor, org_key, project_key, env_key)
    kind = "client" if p.query.get("kind") == "client" else "server"
    grace = p.services.rt.settings.sdk_key_grace_seconds
    return p.render("rotate.html", org=org, project=project, env=env, kind=kind, grace=grace)


ROUTES = [
    ("/o/{org}/p/{project}/environments", environments, ["GET", "POST"]),
    ("/o/{org}/p/{project}/environments/{env}/rotate", confirm_rotate, ["GET"]),
    ("/o/{org}/p/{project}/environments/{env}/delete", confirm_delete, ["GET", "POST"]),
]
