"""The dashboard: server-rendered pages (Jinja2) over the same services as the REST API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from . import (
    account_pages,
    compare_pages,
    config_pages,
    edge_pages,
    events,
    first_steps,
    flag_pages,
    lifecycle_pages,
    manage_pages,
    org_pages,
    passkey_pages,
    profile_pages,
    project_member_pages,
    project_pages,
    recovery_pages,
    request_pages,
    schedule_pages,
    segment_pages,
    sso_pages,
    usage_pages,
    variation_pages,
    webhook_pages,
)

__all__ = ["install"]

STATIC = Path(__file__).parent / "static"


async def favicon(request: Request) -> FileResponse:
    """`/favicon.ico`, which browsers ask for on their own: the logo (SVG, which they take)."""
    return FileResponse(
        STATIC / "logo.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def install(app: FastAPI) -> None:
    """Add the dashboard's routes and `/static` to the admin app."""
    modules = (
        account_pages,
        profile_pages,
        recovery_pages,
        org_pages,
        project_pages,
        project_member_pages,
        manage_pages,
        flag_pages,
        compare_pages,
        first_steps,
        variation_pages,
        config_pages,
        segment_pages,
        edge_pages,
        schedule_pages,
        request_pages,
        webhook_pages,
        events,
        usage_pages,
        sso_pages,
        lifecycle_pages,
        passkey_pages,
    )
    for module in modules:
        for path, endpoint, methods in module.ROUTES:
            app.add_route(path, endpoint, methods=methods, include_in_schema=False)
    app.add_route("/favicon.ico", favicon, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
