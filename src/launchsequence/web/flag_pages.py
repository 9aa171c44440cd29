"""The flag list of a project (search, filters, pages of 50, a switch per environment) and flag
creation."""

from __future__ import annotations

import functools
import math
import re
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.responses import Response

from ..services import Conflict, Invalid
from ..services.access import refuse_read_only
from ..services.protection import PROTECTED
from . import first_steps, params
from .confirm import asks_confirmation, confirm_envs
from .pages import Page, Redirect, page

__all__ = ["PER_PAGE", "ROUTES", "flag_rows", "pagination"]

TYPES = ("boolean", "string", "number", "json")
PER_PAGE = 50
MAX_VARIATIONS = 100  # as the API: a default names one of at most 100 variations


#: The orders of the flag list: the URL's `sort` value -> (its label, the header it sorts).
SORTS = {
    "name": "Name, A to Z",
    "created": "Newest first",
    "changed": "Recently changed",
    "evaluated": "Recently evaluated",
}


def _filters(p: Page) -> dict[str, str]:
    q = p.query
    sort = q.get("sort", "")
    return {
        "q": q.get("q", "")[:200],
        "tag": q.get("tag", "")[:64],
        "state": q.get("state", "")[:80],
        "archived": "1" if q.get("archived") == "1" else "",
        # "" is the default order (name); an unknown order is the default too.
        "sort": sort if sort in SORTS and sort != "name" else "",
    }


@functools.lru_cache(maxsize=20_000)
def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sorts `flag-2` before `flag-10` (digits compare as numbers), case-insensitively.
    Remembered: a long list sorts the same keys on every load."""
    return tuple(
        (0, int(part)) if part.isascii() and part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", text.casefold())
        if part
    )


def _sorted(flags: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    by_name = sorted(flags, key=lambda f: natural_key(f["key"]))
    if sort == "created":
        return sorted(by_name, key=lambda f: f["created_at"], reverse=True)
    if sort == "changed":
        return sorted(by_name, key=lambda f: f["changed_at"], reverse=True)
    if sort == "evaluated":  # never evaluated last
        return sorted(by_name, key=lambda f: f["last_evaluated"] or 0, reverse=True)
    return by_name


def flag_rows(p: Page, org: str, project: str, f: dict[str, str]) -> list[dict[str, Any]]:
    flags = p.services.flags.list_flags(
        p.need_actor(),
        org,
        project,
        archived=bool(f["archived"]),
        tag=f["tag"] or None,
        search=f["q"] or None,
        summary=True,
    )
    # Each flag's last evaluation (to sort by); statuses are added for the page shown only.
    last = p.services.lifecycle.last_evaluated(p.need_actor(), org, project)
    for x in flags:
        x["last_evaluated"] = last.get(x["key"])
    state, _, env = f["state"].partition(":")
    if state in ("on", "off") and env:
        want = state == "on"
        flags = [x for x in flags if x["environments"].get(env, {}).get("on", False) == want]
    return _sorted(flags, f.get("sort", ""))


def pagination(total: int, requested: str | None, filters: dict[str, str]) -> dict[str, Any]:
    """Which slice of `total` rows page `requested` shows, and its links (filters kept).

    A page number out of range shows the nearest page; one that is not a whole number is
    Invalid. Links are 1, the pages around the current one and the last, with None for a gap.
    """
    last = max(1, math.ceil(total / PER_PAGE))
    current = params.clamped(requested, "page", lo=1, hi=last, default=1)
    kept = {k: v for k, v in filters.items() if v}

    def href(n: int) -> str:
        return "?" + urlencode({**kept, "page": str(n)} if n > 1 else kept)

    numbers = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    links: list[dict[str, Any] | None] = []
    for n in numbers:
        if links and links[-1] is not None and n - links[-1]["number"] > 1:
            links.append(None)
        links.append({"number": n, "href": href(n)})
    start = (current - 1) * PER_PAGE
    return {
        "current": current,
        "last": last,
        "start": start,
        "end": min(start + PER_PAGE, total),
        "total": total,
        "links": links,
        "previous": href(current - 1) if current > 1 else None,
        "next": href(current + 1) if current < last else None,
    }


@page()
def flag_list(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    partial = p.request.headers.get("x-partial")
    if partial == "first-steps":
        return first_steps.partial(p, org_key, project_key)
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    f = _filters(p)
    everything_matching = flag_rows(p, org_key, project_key, f)
    pages = pagination(len(everything_matching), p.query.get("page"), f)
    flags = everything_matching[pages["start"] : pages["end"]]
    statuses = p.services.lifecycle.statuses(actor, org_key, project_key, [x["key"] for x in flags])
    for x in flags:
        x["lifecycle"] = statuses.get(x["key"])
    back = p.request.url.path + (f"?{p.request.url.query}" if p.request.url.query else "")
    filtered = any(v for k, v in f.items() if k != "sort")
    context = {
        "org": org,
        "project": project,
        "flags": flags,
        "filters": f,
        "filtered": filtered,
        "sorts": SORTS,
        "sort_links": {
            key: "?" + urlencode({k: v for k, v in {**f, "sort": key}.items() if v and v != "name"})
            for key in SORTS
        },
        "pages": pages,
        "back": back,
        "confirm_envs": confirm_envs(project),
        "env_names": {e["key"]: e["name"] for e in project["environments"]},
        "now": p.services.rt.now(),
    }
    if partial == "rows":
        return p.render("_flag_rows.html", **context)
    context["steps"] = first_steps.checklist(p, org_key, project_key)
    context["dismissed"] = p.query.get("first_steps") == "dismissed"
    everything = everything_matching
    if filtered:
        everything = p.services.flags.list_flags(
            actor, org_key, project_key, archived=None, summary=True
        )
    tags = sorted({t for x in everything for t in x["tags"]})
    return p.render("flags.html", tags=tags, **context)


@page()
def toggle(p: Page) -> Response:
    """A switch was pressed: `toggle` is "<flag> <environment> <1|0>". In an environment that
    confirms changes, a press without `confirmed=1` changes nothing: the answer is a page
    asking to confirm (409 to a script's request, which then sends the form itself)."""
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    flag_key, env, on = [*p.form.get("toggle", "").split(" "), "", "", ""][:3]
    partial = p.request.headers.get("x-partial")
    if p.form.get("request") == "1":
        # A protected environment's switch proposes the toggle as a change request.
        body = {"flag": flag_key, "environment": env, "changes": {"on": on == "1"},
                "comment": p.form.get("request_comment") or p.form.get("comment", "")}  # fmt: skip
        made = p.services.change_requests.create(actor, org_key, project_key, body)
        raise Redirect(f"/o/{org_key}/p/{project_key}/change-requests/{made['id']}?done=opened")
    if p.form.get("confirmed") != "1":
        project = p.services.orgs.get_project(actor, org_key, project_key)
        if asks_confirmation(project, env):
            org = p.services.orgs.get_org(actor, org_key, project=project_key)
            refuse_read_only(org["role"])
            if partial:
                return Response(status_code=409)
            return p.render(
                "confirm_toggle.html",
                org=org,
                project=project,
                flag=p.services.flags.get_flag(actor, org_key, project_key, flag_key),
                env=next(e for e in project["environments"] if e["key"] == env),
                on=on == "1",
                toggle=p.form.get("toggle", ""),
                back=_back(p, org_key, project_key),
                comment=p.form.get("comment", ""),
            )
    try:
        config = p.services.flags.write_config(
            actor, org_key, project_key, flag_key, env, {"on": on == "1"}, if_match=None,
            replace=False,
        )  # fmt: skip
    except Conflict as exc:
        if exc.code != PROTECTED or partial:
            raise
        # A switch of a protected environment (in the list): its flag page offers the request.
        raise Redirect(
            f"/o/{org_key}/p/{project_key}/flags/{flag_key}?"
            + urlencode({"env": env})
            + "#flag-status"
        ) from None
    if partial == "row":
        org = p.services.orgs.get_org(actor, org_key, project=project_key)
        project = p.services.orgs.get_project(actor, org_key, project_key)
        flag = p.services.flags.get_flag(actor, org_key, project_key, flag_key)
        now = p.services.rt.now()
        row = {**flag, "changed_at": now}  # this very toggle is its last change
        statuses = p.services.lifecycle.statuses(actor, org_key, project_key, [flag_key])
        row["lifecycle"] = statuses.get(flag_key)
        return p.render(
            "_flag_rows.html", org=org, project=project, flags=[row], filters={}, now=now
        )
    if partial == "none":
        # The flag page tells its own switch from someone else's change by this version.
        return Response(status_code=204, headers={"X-Config-Version": str(config["version"])})
    raise Redirect(_back(p, org_key, project_key))


def _back(p: Page, org_key: str, project_key: str) -> str:
    """Where a switch's form returns: its `back` field, if a page of the same project."""
    back = p.form.get("back", "")
    if not back.startswith(f"/o/{org_key}/p/{project_key}/"):
        back = f"/o/{org_key}/p/{project_key}/flags"
    return back


def parse_value(flag_type: str, raw: str, field: str) -> Any:
    """A variation value typed in a form, read as the flag's type (Invalid names the field)."""
    if flag_type == "string":
        return raw
    if flag_type == "number":
        value = params.number(raw)
        if value is None:
            raise Invalid("must be a number", field=field)
        if not math.isfinite(value):
            raise Invalid("must be a finite number", field=field)
        return value
    if flag_type == "json":
        # orjson, as the API reads bodies: the standard library's parser accepts NaN, lone
        # surrogates and integers of any size, which no answer can write back.
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Invalid(
                f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", field=field
            ) from None
    return raw == "true"


def _default(raw: str) -> int:
    index = params.index(raw, MAX_VARIATIONS)
    return -1 if index is None else index


def _variation_rows(p: Page, flag_type: str) -> list[dict[str, str]]:
    names = p.lists.get("variation_name", [])
    values = p.lists.get("variation_value", [])
    rows = [{"name": n, "value": v} for n, v in zip(names, values, strict=False)]
    if flag_type == "boolean":
        return (
            [{"name": "On", "value": "true"}, {"name": "Off", "value": "false"}]
            if not rows or len(rows) != 2
            else rows
        )
    return rows


@page()
def new_flag(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    errors: dict[str, str] = {}
    flag_type = p.form.get("type") or p.query.get("type") or "boolean"
    if flag_type not in TYPES:
        flag_type = "boolean"
    values = {
        "name": p.form.get("name", ""),
        "key": p.form.get("key", ""),
        "description": p.form.get("description", ""),
        "tags": p.form.get("tags", ""),
        "type": flag_type,
        "on_variation": p.form.get("on_variation", "0"),
        "off_variation": p.form.get("off_variation", "1"),
        "client_side": p.form.get("client_side", ""),
    }
    variations = _variation_rows(p, flag_type)
    if not variations:
        variations = [{"name": "", "value": ""}, {"name": "", "value": ""}]
    action = p.form.get("action", "create")
    if p.request.method == "POST" and action == "add-variation":
        variations.append({"name": "", "value": ""})
    elif p.request.method == "POST" and action.startswith("remove-variation:"):
        index = action.partition(":")[2]
        i = params.index(index, len(variations))
        if i is not None and len(variations) > 1:
            variations.pop(i)
    elif p.request.method == "POST" and action == "change-type":
        variations = (
            _variation_rows(p, flag_type)
            if flag_type == "boolean"
            else [{"name": "", "value": ""}, {"name": "", "value": ""}]
        )
    elif p.request.method == "POST":
        try:
            parsed = [
                {
                    "value": parse_value(flag_type, v["value"], f"variations[{i}].value"),
                    "name": v["name"].strip(),
                }
                for i, v in enumerate(variations)
            ]
            body: dict[str, Any] = {
                "key": values["key"].strip(),
                "name": values["name"].strip(),
                "description": values["description"],
                "tags": [t for t in re.split(r"[\s,]+", values["tags"]) if t],
                "type": flag_type,
                "variations": parsed,
                "client_side": bool(values["client_side"]),
                # Not a variation's index: -1, which the service refuses naming the field.
                "defaults": {
                    name: _default(values[name]) for name in ("on_variation", "off_variation")
                },
            }
            p.services.flags.create_flag(actor, org_key, project_key, body)
        except Invalid as exc:
            field = exc.field or "form"
            if field.startswith("tags["):
                field = "tags"
            errors[field] = exc.message
            p.status = 422
        except Conflict as exc:
            errors["key"] = exc.message
            p.status = 409
        else:
            raise Redirect(f"/o/{org_key}/p/{project_key}/flags/{body['key']}")
    return p.render(
        "new_flag.html",
        org=org,
        project=project,
        values=values,
        variations=variations,
        errors=errors,
        types=TYPES,
    )


ROUTES = [
    ("/o/{org}/p/{project}/flags", flag_list, ["GET"]),
    ("/o/{org}/p/{project}/flags/new", new_flag, ["GET", "POST"]),
    ("/o/{org}/p/{project}/toggle", toggle, ["POST"]),
]
