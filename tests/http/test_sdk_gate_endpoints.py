"""The SDK gate's fast path takes only `async def` endpoints: a plain function added to the
SDK application answers through Starlette's stack (run in its thread pool) instead of a 500,
with the security headers either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from launchsequence.app import create_app
from tests.support.live import serving


def test_a_plain_function_endpoint_answers_through_the_sdk_app(
    make_settings: Callable[..., Any], clock: Any
) -> None:
    app = create_app(make_settings(), clock=clock)

    def plain(request: Request) -> Response:
        return JSONResponse({"answered_by": "plain", "method": request.method})

    async def coroutine(request: Request) -> Response:
        return JSONResponse({"answered_by": "coroutine"})

    app.sdk.add_route("/sdk/v1/probe-plain", plain, methods=["GET", "POST"])
    app.sdk.add_route("/sdk/v1/probe-async", coroutine, methods=["GET"])
    with serving(app) as server:
        for body in (None, b"{}"):
            answer = httpx.request(
                "GET" if body is None else "POST",
                f"{server.url}/sdk/v1/probe-plain",
                content=body,
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["answered_by"] == "plain"
            assert answer.headers["x-content-type-options"] == "nosniff"
        fast = httpx.get(f"{server.url}/sdk/v1/probe-async", timeout=10)
        assert fast.status_code == 200 and fast.json() == {"answered_by": "coroutine"}
        assert fast.headers["x-content-type-options"] == "nosniff"
