"""`build_admin(state, operations)`: the admin app, the REST API under `/api/v1`, the dashboard
and their reference, as one FastAPI application.

The core builds it on the first request that needs it (`app.LazyAdmin`), not at start: FastAPI,
pydantic, Jinja2 and the services they call are most of the core's start-up time and memory, and
a core that serves only SDKs never needs them (docs/benchmarks.md). Importing this module imports
all of that; only `app.LazyAdmin` imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.responses import PlainTextResponse

from . import __version__, web
from .api import (
    accounts,
    change_requests,
    code_refs,
    flags,
    lifecycle,
    orgs,
    project_members,
    projects,
    promotion,
    relay_keys,
    schedules,
    sso,
    transfer,
    usage,
    webhooks,
)
from .api.errors import ERROR_RESPONSES, install_error_handlers
from .api.responses import JSONBytes
from .web import api_docs

__all__ = ["OPERATIONS", "build_admin", "prepare_routes"]

_ROUTERS = (
    accounts,
    orgs,
    projects,
    project_members,
    relay_keys,
    flags,
    transfer,
    usage,
    webhooks,
    sso,
    schedules,
    code_refs,
    lifecycle,
    promotion,
    change_requests,
)

#: The operations endpoints, served by the core without the admin app (`app.py`) and listed in
#: the admin app's OpenAPI document: (path, summary, response class).
OPERATIONS: tuple[tuple[str, str, type[Any]], ...] = (
    ("/healthz", "The process is alive", JSONBytes),
    ("/readyz", "The database answers and is intact", JSONBytes),
    ("/metrics", "Prometheus metrics", PlainTextResponse),  # documented as it is served
)


def build_admin(state: State, operations: dict[str, Callable[..., Any]]) -> FastAPI:
    """The admin app over `state` (the core's `app.state`: services, settings, hubs, ...).

    `operations` maps each path of `OPERATIONS` to its endpoint; the core routes those paths
    itself, so here they only document the API. Builds no lifespan: the core runs it."""
    app = FastAPI(
        title="Launch Sequence",
        version=__version__,
        summary="Feature flags: targeting, rollouts and real-time delivery.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the server-rendered reference below: Swagger UI breaks the CSP
        redoc_url=None,
        default_response_class=JSONBytes,
        responses=ERROR_RESPONSES,
    )
    app.state = state
    install_error_handlers(app)
    for module in _ROUTERS:
        app.include_router(module.router)
    web.install(app)
    api_docs.install(app, "/api/v1/docs")
    for path, summary, response_class in OPERATIONS:
        app.add_api_route(
            path,
            operations[path],
            methods=["GET"],
            tags=["operations"],
            summary=summary,
            response_class=response_class,
        )
    prepare_routes(app)
    return app


def prepare_routes(app: FastAPI) -> int:
    """Prepare every included router's routes now; the number prepared.

    FastAPI prepares an included router's routes (each parameter's pydantic validator) on the
    first request that reaches the router, so the first request into a router waited for all
    of them: the first toggle through a worker spent ~100 ms in the flags router's 43 before
    its commit, and every subscriber got the change that much later. Here that is done while
    the app is built (off the event loop, ~0.2 s for all of them, before `app.py` freezes what
    exists). This calls FastAPI's `effective_candidates` and `effective_low_priority_routes`
    of its included routers, the ones its request matching calls (cached, under their lock);
    where a router has no such methods (another FastAPI), there is nothing to prepare."""
    prepared = 0
    pending: list[Any] = list(app.router.routes)
    while pending:
        route = pending.pop()
        candidates = getattr(route, "effective_candidates", None)
        if not callable(candidates):
            continue
        for candidate in candidates():
            if callable(getattr(candidate, "effective_candidates", None)):
                pending.append(candidate)
            else:
                prepared += 1
        low_priority = getattr(route, "effective_low_priority_routes", None)
        if callable(low_priority):
            low_priority()
    return prepared
