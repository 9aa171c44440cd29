"""Environments compared and promoted on the dashboard: a project's flags across two
environments, one flag part by part with its lines side by side, and a form that copies the
chosen parts from one environment to the other (the same service call as the API's copy).
Bulk actions on the flags chosen in the flag list are here too: each flag through the same
service call as a single change, every flag's outcome shown.

Everything works without scripts: GET forms pick the environments, POST forms (with the CSRF
token) copy and act.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from ..services import Invalid, PreconditionFailed
from ..services.bulk import ACTIONS
from ..services.config_text import PART_LABELS, PARTS
from . import params
from .confirm import asks_confirmation, confirmation_page
from .pages import Page, Redirect, page

__all__ = ["ROUTES"]

#: The largest configuration version a form may name (as the API's If-Match: 12 digits).
MAX_VERSION = 10**12 - 1


def _pair(p: Page) -> tuple[str | None, str | None]:
    """The environments the URL (or the copy form) names; None where it names none."""
    source = p.form.get("from") or p.query.get("from") or None
    target = p.form.get("to") or p.query.get("to") or None
    return source, target


@page()
def project_compare(p: Page) -> Response:
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    source, target = _pair(p)
    comparison = p.services.promotion.compare_project(actor, org_key, project_key, source, target)
    query = urlencode({"from": comparison["from"], "to": comparison["to"]})
    return p.render(
        "compare.html", org=org, project=project, comparison=comparison, query=query,
        labels=PART_LABELS,
    )  # fmt: skip


@page()
def flag_compare(p: Page) -> Response:
    """GET: the comparison. POST: copy the checked `part`s from `from` to `to`, at the
    target's `version` as shown (a change made meanwhile is shown, not overwritten). Into an
    environment that confirms changes, a copy without `confirmed=1` changes nothing: the
    answer is a page naming the parts that asks to confirm."""
    org_key, project_key, flag_key = p.param("org"), p.param("project"), p.param("flag")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    source, target = _pair(p)
    error = ""
    chosen: list[str] | None = None
    if p.request.method == "POST":
        chosen = [x for x in p.lists.get("part", []) if x in PARTS]
        try:
            version = params.optional_integer(
                p.form.get("version"), "version", lo=1, hi=MAX_VERSION
            )
            if not chosen:
                raise Invalid("check at least one part to copy", field="parts")
            if source is None or target is None:
                raise Invalid("choose the two environments", field="to")
            if asks_confirmation(project, target) and p.form.get("confirmed") != "1":
                name = next(e["name"] for e in project["environments"] if e["key"] == target)
                return confirmation_page(
                    p, org, project, target,
                    title=f"Copy into {name}?",
                    what=f"These parts of {flag_key} in {source} replace those in {name}, "
                    f"for every application using {name}, at once.",
                    items=[PART_LABELS[x] for x in chosen], button=f"Copy into {name}",
                    back=f"/o/{org_key}/p/{project_key}/flags/{flag_key}/compare?"
                    + urlencode({"from": source, "to": target}),
                )  # fmt: skip
            done = p.services.promotion.copy(
                actor, org_key, project_key, flag_key, from_key=source, to_key=target,
                parts=chosen, if_match=version,
            )  # fmt: skip
        except Invalid as exc:
            error, p.status = exc.message, 422
        except PreconditionFailed:
            error = (
                f"{target} changed while you were looking: the comparison below is as it is "
                "now. Check it, then copy again."
            )
            p.status = 412
        else:
            if "request" in done:  # a protected target: the copy waits for approval
                opened = done["request"]["id"]
                raise Redirect(f"/o/{org_key}/p/{project_key}/change-requests/{opened}?done=opened")
            parts = ",".join(done["changed"]) or "none"
            query = urlencode({"from": source, "to": target, "copied": parts})
            raise Redirect(f"/o/{org_key}/p/{project_key}/flags/{flag_key}/compare?{query}")
    comparison = p.services.promotion.compare_flag(
        actor, org_key, project_key, flag_key, source, target
    )
    copied = [x for x in p.query.get("copied", "").split(",") if x in PARTS]
    return p.render(
        "compare_flag.html",
        org=org,
        project=project,
        c=comparison,
        error=error,
        checked=chosen if chosen is not None else comparison["differing_parts"],
        copied=copied,
        copied_none=p.query.get("copied") == "none",
        labels=PART_LABELS,
    )


def _back(p: Page, org_key: str, project_key: str) -> str:
    """The flag list as it was (its filters and page), else the plain list."""
    target = p.form.get("back", "")
    prefix = f"/o/{org_key}/p/{project_key}/flags"
    if target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return prefix


@page()
def bulk(p: Page) -> Response:
    """POST: `action` ("on:<env>", "off:<env>", "archive", "add_tag", "remove_tag") on each
    checked `flag`, with `tag` for the tag actions. Answers a page of every flag's outcome.
    Turning flags on or off in an environment that confirms changes without `confirmed=1`
    changes nothing: the answer is a page listing the flags that asks to confirm."""
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    action, _, env = p.form.get("action", "").partition(":")
    flags = p.lists.get("flag", [])
    back = _back(p, org_key, project_key)
    context: dict[str, Any] = {"org": org, "project": project, "back": back}
    try:
        if not flags:
            raise Invalid("select one or more flags in the list first", field="flags")
        turning = action in ("on", "off") and asks_confirmation(project, env)
        if turning and p.form.get("confirmed") != "1":
            name = next(e["name"] for e in project["environments"] if e["key"] == env)
            count = f"{len(flags)} flag{'' if len(flags) == 1 else 's'}"
            return confirmation_page(
                p, org, project, env,
                title=f"Turn {count} {action} in {name}?",
                what=f"Turned {action}, each flag below changes for every application using "
                f"{name}, at once.",
                items=flags, button=f"Turn {count} {action} in {name}", back=back,
            )  # fmt: skip
        outcome = p.services.bulk.run(
            actor, org_key, project_key, action=action, flags=flags,
            environment=env or None, tag=p.form.get("tag", "").strip() or None,
        )  # fmt: skip
    except Invalid as exc:
        p.status = 422
        return p.render("bulk_result.html", outcome=None, error=exc.message, **context)
    if outcome["failed"] and not outcome["succeeded"]:
        p.status = 422
    env_name = next((e["name"] for e in project["environments"] if e["key"] == env), env)
    return p.render(
        "bulk_result.html", outcome=outcome, label=ACTIONS[outcome["action"]],
        env_name=env_name, error="", **context,
    )  # fmt: skip


ROUTES = [
    ("/o/{org}/p/{project}/compare", project_compare, ["GET"]),
    ("/o/{org}/p/{project}/flags/{flag}/compare", flag_compare, ["GET", "POST"]),
    ("/o/{org}/p/{project}/bulk", bulk, ["POST"]),
]
