"""The admin app is built with every route prepared (`admin.prepare_routes`): FastAPI prepares
an included router's routes on the first request that reaches the router, and the first toggle
through a worker waited ~100 ms for the flags router's before its commit, so its subscribers
got the change that much later. The FastAPI pinned in constraints.txt must still prepare routes
this way: if an upgrade drops the methods, these tests say so."""

from __future__ import annotations

from typing import Any

import httpx

from launchsequence.admin import prepare_routes
from launchsequence.app import create_app
from tests.support.live import serving


def _included(app: Any) -> list[Any]:
    return [r for r in app.router.routes if callable(getattr(r, "effective_candidates", None))]


def test_every_router_is_prepared_when_the_admin_app_is_built(make_settings, clock):
    admin = create_app(make_settings(), clock=clock).admin
    routers = _included(admin)
    assert len(routers) >= 10  # the API's routers (flags, projects, webhooks, ...)
    # What request matching would otherwise prepare on first use is cached already.
    assert all(r._effective_candidates_version is not None for r in routers)
    assert prepare_routes(admin) >= 80  # cached: counted again, not rebuilt


def test_the_admin_api_answers_as_before(make_settings, clock):
    with serving(create_app(make_settings(), clock=clock)) as live:
        signup = httpx.post(
            f"{live.url}/api/v1/auth/signup",
            json={"email": "prepared@example.com", "password": "prepared-password"},
            timeout=30,
        )
        assert signup.status_code in (200, 201)
        missing = httpx.get(f"{live.url}/api/v1/orgs/nope/projects", timeout=30)
        assert missing.status_code == 401
