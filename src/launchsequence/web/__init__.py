"""The dashboard: server-rendered pages (Jinja2) over the same services as the REST API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from . import (
    account_pages,
    config_pages,
    events,
    flag_pages,
    manage_pages,
    org_pages,
    profile_pages,
    project_pages,
    recovery_pages,
    variation_pages,
)

__all__ = ["install"]

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the dashboard's routes and `/static` to the admin app."""
    modules = (
        account_pages,
        profile_pages,
        recovery_pages,
        org_pages,
        project_pages,
        manage_pages,
        flag_pages,
        variation_pages,
        config_pages,
        events,
    )
    for module in modules:
        for path, endpoint, methods in module.ROUTES:
            app.add_route(path, endpoint, methods=methods, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
