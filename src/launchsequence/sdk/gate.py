"""`SdkGate`: the SDK endpoints' protections and routing in one pure-ASGI layer.

An evaluation costs a few tens of microseconds; a stack of middleware (error pages, CORS,
security headers, body limit, exception handlers, router, route wrapper), each adding a frame
and often a wrapped `send`, cost as much again. The gate answers the usual SDK request itself:
a route matched, its method allowed, no `Origin` header (server SDKs, curl), and a body the
server's HTTP protocol already times and holds to its Content-Length (`BODY_TIMED`). For that
request it gives what the middleware gave, in one frame:

- a Content-Length over the limit: 413 `payload_too_large`, the connection closed;
- `SdkError` and `HTTPException` from the endpoint (or from reading its body): the JSON error
  the SDK app's handlers render (OFREP's own shape for its 400 and 404);
- any other exception: 500, and the exception goes on to the server, which logs it;
- the security headers on every answer (those the route set itself are kept).

Every other request (a browser's, with CORS; a chunked body; a body the server does not time;
a path or method no route takes) goes to `app`, the full Starlette application with the
middleware, unchanged: one behaviour for both, two costs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from ..httpserver import BODY_TIMED
from ..middleware import SECURITY_HEADERS, add_security_headers, refuse
from .common import SdkError

__all__ = ["SdkGate"]

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorRenderer = Callable[[Request, Exception], Awaitable[Response]]

_INTERNAL_ERROR = b"Internal Server Error"


class SdkGate:
    """The SDK application: `app` (Starlette, with its middleware) behind a fast path for the
    usual request. `routes` are `app`'s; only those whose endpoint is a coroutine function
    (`async def`, checked when the route is indexed) take the fast path: a plain function or
    an endpoint class goes through `app`, which runs it as Starlette does (a plain function
    in the thread pool). `sdk_error` and `http_error` render the errors as `app`'s exception
    handlers do."""

    def __init__(
        self,
        app: Any,
        *,
        max_body: int,
        sdk_error: ErrorRenderer,
        http_error: ErrorRenderer,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self._sdk_error = sdk_error
        self._http_error = http_error
        self._exact: dict[str, tuple[frozenset[str], Endpoint]] = {}
        self._patterns: list[Route] = []
        self._index()

    @property
    def routes(self) -> list[BaseRoute]:
        return list(self.app.routes)

    def add_route(self, path: str, endpoint: Endpoint, methods: list[str]) -> None:
        """Add a route to the application (and to the fast path)."""
        self.app.add_route(path, endpoint, methods=methods)
        self._index()

    def _index(self) -> None:
        self._exact.clear()
        self._patterns.clear()
        for route in self.app.routes:
            if not isinstance(route, Route) or route.methods is None:
                continue
            if not inspect.iscoroutinefunction(route.endpoint):
                continue  # `await endpoint(request)` would fail: Starlette's stack runs it
            if route.param_convertors:
                self._patterns.append(route)
            else:
                self._exact[route.path] = (frozenset(route.methods), route.endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        found = self._exact.get(path)
        if found is not None:
            methods, endpoint = found
            if scope["method"] not in methods:
                await self.app(scope, receive, send)
                return
        else:
            endpoint = self._match(scope)  # type: ignore[assignment]
            if endpoint is None:
                await self.app(scope, receive, send)
                return
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"origin" or name == b"transfer-encoding":
                # CORS for a browser, or a body of unknown length: the middleware's path.
                await self.app(scope, receive, send)
                return
        if length is not None:
            try:
                too_large = int(length) > self.max_body
            except ValueError:
                too_large = False
            if too_large:
                await refuse(send, security=True)
                return
            if BODY_TIMED not in (scope.get("extensions") or ()):
                await self.app(scope, receive, send)  # bodies timed by the middleware
                return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except SdkError as exc:
            response = await self._sdk_error(request, exc)
        except HTTPException as exc:
            response = await self._http_error(request, exc)
        except Exception:
            await _internal_error(send)
            raise
        add_security_headers(response.raw_headers)
        await response(scope, receive, send)

    def _match(self, scope: Scope) -> Endpoint | None:
        """The endpoint of the route with path parameters that takes this request (its
        parameters set in the scope), or None."""
        for route in self._patterns:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope["path_params"] = child["path_params"]
                endpoint: Endpoint = route.endpoint
                return endpoint
            if match is Match.PARTIAL:
                return None
        return None


async def _internal_error(send: Send) -> None:
    """What Starlette's error middleware answers (debug off), with the security headers."""
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(_INTERNAL_ERROR)),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
