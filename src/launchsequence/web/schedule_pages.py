"""Scheduled changes on the dashboard: "Schedule" beside Save on a flag's page (the form's
edits, as a patch of the fields they change, at a time with a comment), the flag's pending and
past schedules there, a project-wide list, and edit or cancel of a pending one.

Times are typed and shown in UTC (a `datetime-local` field read as UTC, said beside it).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ..services import Invalid
from . import params
from .pages import Page, Redirect, page

__all__ = ["ROUTES", "flag_schedules", "schedule_form_edits", "summary"]

_FIELDS = ("on", "off_variation", "prerequisites", "targets", "rules", "fallthrough",
           "client_side")  # fmt: skip
_NAMES = {
    "off_variation": "the off variation",
    "prerequisites": "prerequisites",
    "targets": "individual targets",
    "rules": "rules",
    "fallthrough": "the default rule",
    "client_side": "client-side availability",
}


def summary(changes: dict[str, Any]) -> str:
    """What a schedule does, in words: "Turn on", "Turn off and change rules", ..."""
    parts = []
    if "on" in changes:
        parts.append("Turn on" if changes["on"] else "Turn off")
    others = [_NAMES[f] for f in _FIELDS if f in changes and f != "on"]
    if others:
        words = ", ".join(others)
        parts.append(f"change {words}" if parts else f"Change {words}")
    return " and ".join(parts) or "No change"


def local_input(ms: int) -> str:
    """`ms` as a `datetime-local` value in UTC (to the second)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000))


def parse_input(value: str) -> int:
    """A `datetime-local` value ("2026-12-24T09:00" or with seconds), read as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("enter a date and time", field="schedule_at") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def schedule_form_edits(
    p: Page,
    org_key: str,
    project_key: str,
    flag_key: str,
    env: str,
    wanted: dict[str, Any],
    current: dict[str, Any],
) -> None:
    """Schedule what the flag page's form changes (`wanted`, the configuration it describes,
    against `current`), and its `schedule_on` ("1": turn on, "0": turn off, "": leave as it
    is), at the form's `schedule_at` with its `schedule_comment`; redirects to the flag page.
    Invalid (field `schedule`) when the form changes nothing."""
    changes = {f: wanted[f] for f in _FIELDS if f != "on" and wanted[f] != current[f]}
    turn = p.form.get("schedule_on", "")
    if turn in ("1", "0"):
        changes = {"on": turn == "1", **changes}
    elif turn:
        raise Invalid("choose on, off or leave it as it is", field="schedule")
    if not changes:
        raise Invalid(
            "choose to turn it on or off then, or edit its targeting, then schedule it",
            field="schedule",
        )
    body = {
        "environment": env,
        "at": parse_input(p.form.get("schedule_at", "")),
        "changes": changes,
        "comment": p.form.get("schedule_comment") or p.form.get("comment", ""),
    }
    made = p.services.schedules.create(p.need_actor(), org_key, project_key, flag_key, body)
    raise Redirect(
        f"/o/{org_key}/p/{project_key}/flags/{flag_key}?env={quote(env)}&scheduled={made['id']}"
    )


def flag_schedules(p: Page, org_key: str, project_key: str, flag_key: str, env: str) -> Any:
    """The flag's schedules in `env`, each with its `summary`, for the flag page."""
    rows = p.services.schedules.list_schedules(
        p.need_actor(), org_key, project_key, flag_key=flag_key, env_key=env
    )
    return [{**r, "summary": summary(r["changes"]), "at_input": local_input(r["at"])} for r in rows]


def _back(p: Page, org_key: str, project_key: str) -> str:
    """Where a schedule's form returns: the page it was on (a path of this project), else the
    project's list."""
    target = p.form.get("next", "")
    prefix = f"/o/{org_key}/p/{project_key}/"
    if target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return prefix + "schedules"


@page()
def schedule_action(p: Page) -> Response:
    """POST: `action` cancel, or edit (`at`, `comment`) of a pending schedule."""
    org_key, project_key = p.param("org"), p.param("project")
    schedule_id = params.row_id(str(p.request.path_params["schedule_id"]), "schedule_id")
    actor = p.need_actor()
    action = p.form.get("action")
    back = _back(p, org_key, project_key)
    if action == "cancel":
        p.services.schedules.cancel(actor, org_key, project_key, schedule_id)
        raise Redirect(back + ("&" if "?" in back else "?") + "schedule=cancelled")
    if action == "edit":
        body = {"at": parse_input(p.form.get("at", "")), "comment": p.form.get("comment", "")}
        p.services.schedules.edit(actor, org_key, project_key, schedule_id, body)
        raise Redirect(back + ("&" if "?" in back else "?") + "schedule=edited")
    raise Invalid("no such action", field="action")


@page()
def project_schedules(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    rows = p.services.schedules.list_schedules(actor, org_key, project_key)
    schedules = [
        {**r, "summary": summary(r["changes"]), "at_input": local_input(r["at"])} for r in rows
    ]
    return p.render(
        "schedules.html",
        org=org,
        project=project,
        schedules=schedules,
        done=p.query.get("schedule"),
        here=f"/o/{org_key}/p/{project_key}/schedules",
    )


ROUTES = [
    ("/o/{org}/p/{project}/schedules", project_schedules, ["GET"]),
    ("/o/{org}/p/{project}/schedules/{schedule_id}", schedule_action, ["POST"]),
]
