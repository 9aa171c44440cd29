"""Editing a flag's variations: names, values of the flag's type, adding and removing one, and
the defaults for new environments. Values change in place (rules keep pointing at the same
variation); a variation that some environment serves cannot be removed, and the error says
where it is used. A new value for a variation that an environment which confirms changes
serves asks first (web/confirm.py): the page again, the edits kept, naming those
environments; the save applies with `confirmed=1`."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from ..services import Conflict, Invalid
from ..services.access import refuse_read_only
from ..services.flags import variation_changes
from ..services.variations import variation_uses
from . import params
from .confirm import asks_confirmation
from .flag_pages import parse_value
from .pages import UNSHOWABLE, Page, Redirect, page

__all__ = ["ROUTES"]

MAX_ROWS = 100


def _shown(flag_type: str, value: Any) -> str:
    """A stored value as typed in the form (strings as they are, the rest as JSON)."""
    if flag_type == "string":
        return str(value)
    try:
        if flag_type == "json":
            return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        return orjson.dumps(value).decode()
    except TypeError:  # a row stored before values were bounded: show the rest of the page
        return UNSHOWABLE


def _saved_rows(flag: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"name": v.get("name", ""), "value": _shown(flag["type"], v["value"])}
        for v in flag["variations"]
    ]


def _uses(p: Page, org: str, project: dict[str, Any], flag: dict[str, Any]) -> list[list[str]]:
    """Per saved variation, where each environment serves it ("production: rule 1")."""
    out: list[list[str]] = [[] for _ in flag["variations"]]
    for env in project["environments"]:
        config = p.services.flags.get_config(
            p.need_actor(), org, project["key"], flag["key"], env["key"]
        )
        for i in range(len(out)):
            uses = variation_uses(config, i)
            if uses:
                out[i].append(f"{env['key']}: {', '.join(uses)}")
    return out


def _asking(
    p: Page, org: str, project: dict[str, Any], flag: dict[str, Any], wanted: list[Any]
) -> list[str]:
    """The names of the environments that confirm changes (web/confirm.py) and serve a saved
    variation whose value `wanted` (the values to save, in order) changes: saving then asks
    first, as a saved configuration there does. A new name, a new variation or new defaults
    (for environments made later) change nothing served, and do not ask."""
    changed = [
        i for i, v in enumerate(flag["variations"]) if i < len(wanted) and wanted[i] != v["value"]
    ]
    names = []
    for env in project["environments"]:
        if not changed or not asks_confirmation(project, env["key"]):
            continue
        config = p.services.flags.get_config(
            p.need_actor(), org, project["key"], flag["key"], env["key"]
        )
        if any(variation_uses(config, i) for i in changed):
            names.append(env["name"])
    return names


def _field(exc: Invalid) -> str:
    field = exc.field or "variations"
    if field.startswith("variations[") and field.endswith("].name"):
        return field
    if field.startswith("variations[") and not field.endswith("].value"):
        return field.split("]")[0] + "]"
    return field


@page()
def variations(p: Page) -> Response:
    org_key, project_key, flag_key = p.param("org"), p.param("project"), p.param("flag")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    flag = p.services.flags.get_flag(actor, org_key, project_key, flag_key)
    here = f"/o/{org_key}/p/{project_key}/flags/{flag_key}/variations"
    flag_type = flag["type"]
    saved = len(flag["variations"])
    rows = _saved_rows(flag)
    defaults = {k: str(v) for k, v in flag["defaults"].items()}
    errors: dict[str, str] = {}
    confirming: list[str] = []  # the environments a save asks to confirm for
    notice = {"removed": "Removed the variation.", "saved": "Saved the variations."}.get(
        p.query.get("done", "")
    )
    if p.request.method == "POST":
        refuse_read_only(org["role"])
        names = p.lists.get("variation_name", [])[:MAX_ROWS]
        values = p.lists.get("variation_value", [])[:MAX_ROWS]
        typed = [{"name": n, "value": v} for n, v in zip(names, values, strict=False)]
        if flag_type == "boolean":
            # Names only: the values stay true and false, in their order.
            typed = [{**row, "value": rows[i]["value"]} for i, row in enumerate(typed[:saved])]
        if len(typed) < saved:
            typed += rows[len(typed) :]
        rows = typed
        defaults = {
            "on_variation": p.form.get("on_variation", defaults["on_variation"]),
            "off_variation": p.form.get("off_variation", defaults["off_variation"]),
        }
        action = p.form.get("action", "save")
        if p.form.get("stamp") != str(flag["updated_at"]):
            errors["form"] = (
                "someone else changed this flag while you were editing: its current variations "
                "are shown, make your change again"
            )
            rows = _saved_rows(flag)
            defaults = {k: str(v) for k, v in flag["defaults"].items()}
            p.status = 409
        elif action == "add" and flag_type != "boolean":
            if len(rows) < MAX_ROWS:
                rows.append({"name": "", "value": ""})
        elif action.startswith("remove:") and flag_type != "boolean":
            index = action.partition(":")[2]
            found = params.index(index, MAX_ROWS)
            i = -1 if found is None else found
            if i >= saved and i < len(rows):
                rows.pop(i)  # not saved yet: only the form forgets it
            elif 0 <= i < saved:
                try:
                    p.services.flags.remove_variation(actor, org_key, project_key, flag_key, i)
                except Invalid as exc:
                    errors[_field(exc)] = exc.message
                    p.status = 422
                except Conflict as exc:  # a waiting change names it (variation_pending)
                    errors[f"variations[{i}]"] = exc.message
                    p.status = 409
                else:
                    raise Redirect(f"{here}?done=removed")
        elif action == "save":
            try:
                body = {
                    "variations": [
                        {
                            "value": parse_value(flag_type, row["value"], f"variations[{i}].value"),
                            "name": row["name"].strip(),
                        }
                        for i, row in enumerate(rows)
                    ],
                    # Not an index: -1, which the service refuses naming the field.
                    "defaults": {
                        k: -1 if (found := params.index(v, MAX_ROWS)) is None else found
                        for k, v in defaults.items()
                        if k in ("on_variation", "off_variation")
                    },
                }
                wanted = [v["value"] for v in variation_changes(flag, body)["variations"]]
                asking = _asking(p, org_key, project, flag, wanted)
                if not asking or p.form.get("confirmed") == "1":
                    p.services.flags.update_flag(actor, org_key, project_key, flag_key, body)
            except Invalid as exc:
                errors[_field(exc)] = exc.message
                p.status = 422
            except Conflict as exc:  # a protected environment names a changed value
                errors["form"] = exc.message
                p.status = 409
            else:
                if not asking or p.form.get("confirmed") == "1":
                    raise Redirect(f"{here}?done=saved")
                confirming = asking  # the page again, the edits kept, asking to confirm
    return p.render(
        "variations.html",
        org=org,
        project=project,
        flag=flag,
        rows=rows,
        saved=saved,
        uses=_uses(p, org_key, project, flag),
        defaults=defaults,
        errors=errors,
        notice=notice,
        confirming=confirming,
        comment=p.form.get("comment", ""),
    )


ROUTES = [
    ("/o/{org}/p/{project}/flags/{flag}/variations", variations, ["GET", "POST"]),
]
