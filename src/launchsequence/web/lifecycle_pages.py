"""Lifecycle on the dashboard: the flag page's usage and status sections (context built here,
drawn by `_flag_lifecycle.html` and `_flag_usage.html`), the lifecycle fields of the flag's
details form, and the cleanup view of a project."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..services.lifecycle_report import CHART_RANGES
from .pages import Page, page
from .usage_chart import chart

__all__ = ["ROUTES", "flag_page_context", "lifecycle_form"]

CHART_TITLES = {"24h": "Last 24 hours, by hour", "7d": "Last 7 days, by day",
                "30d": "Last 30 days, by day"}  # fmt: skip


def flag_page_context(
    p: Page, org_key: str, project_key: str, flag: dict[str, Any], env: str
) -> dict[str, Any]:
    """What the flag page's lifecycle and usage sections show: `lifecycle` (status, evidence,
    recent applications), `usage` (last evaluated per environment, `charts` by range,
    applications of the last 30 days) and `members` (choices for the owner)."""
    actor = p.need_actor()
    svc = p.services
    panel = svc.lifecycle.panel(actor, org_key, project_key, flag["key"], env)
    names = [v.get("name") or "" for v in flag["variations"]]
    charts = {
        key: {
            "key": key,
            "title": CHART_TITLES[key],
            **chart(
                key,
                f"Evaluations in {panel['environment']}, {CHART_TITLES[key].lower()}",
                panel["charts"].get(key, []),
                names,
            ),
        }
        for key in CHART_RANGES
    }
    return {
        "lifecycle": svc.lifecycle.flag_status(actor, org_key, project_key, flag["key"]),
        "usage": {**panel, "charts": charts},
        "members": [m["email"] for m in svc.orgs.list_members(actor, org_key)],
        "now_ms": svc.rt.now(),
    }


def lifecycle_form(p: Page) -> dict[str, Any]:
    """The lifecycle fields of the flag's details form, as `update_flag` takes them (only
    those the form holds)."""
    return {k: p.form.get(k, "") or None for k in ("owner", "kind", "removal_date") if k in p.form}


@page()
def cleanup(p: Page) -> Response:
    """Flags that look safe to remove, with the evidence, each linking to its page (archive
    there) and offering archive at once; archiving one still evaluated asks first."""
    org_key, project_key = p.param("org"), p.param("project")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key, project=project_key)
    project = p.services.orgs.get_project(actor, org_key, project_key)
    rows = p.services.lifecycle.cleanup(actor, org_key, project_key)
    s = p.services.rt.settings
    return p.render(
        "cleanup.html",
        org=org,
        project=project,
        rows=rows,
        now=p.services.rt.now(),
        days={"stale": s.lifecycle_stale_days, "launched": s.lifecycle_launched_days,
              "recent": s.lifecycle_recent_days},
        default_env=project["environments"][0]["key"] if project["environments"] else "",
    )  # fmt: skip


ROUTES = [
    ("/o/{org}/p/{project}/cleanup", cleanup, ["GET"]),
]
