"""The Starlette application serving /sdk/v1 and /ofrep/v1."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..middleware import BodyLimit, SecurityHeaders
from ..realtime.hubs import Hubs
from . import jsfiles, ofrep, routes, usage
from .common import SdkError, json_response, sdk_error_response
from .gate import SdkGate
from .streams import StreamApp


def build_stream_app(hubs: Hubs, clock: Callable[[], int], *, secret: str) -> StreamApp:
    return StreamApp({**routes.stream_handlers(hubs), **ofrep.stream_handlers(hubs, clock, secret)})


__all__ = ["CORS_REQUEST_HEADERS", "build_sdk_app", "build_stream_app"]

CORS_REQUEST_HEADERS = [
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "If-None-Match",
    "Last-Event-ID",
    "X-LaunchSequence-SDK",  # sent by the JavaScript SDK on every fetch (evaluate, fetch streams)
    "X-LaunchSequence-Application",  # the host application's name, for usage (docs/usage.md)
    "X-LaunchSequence-Instance",
]


class _CrossOrigin(CORSMiddleware):
    """Starlette's CORS handling, skipped for requests without an `Origin` header (server SDKs,
    curl): they need none of it, and it wraps every answer's `send`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, _ in scope["headers"]:
                if name == b"origin":
                    break
            else:
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def build_sdk_app(
    hubs: Hubs,
    clock: Callable[[], int],
    *,
    secret: str,
    max_body: int,
    body_timeout: float = 30.0,
    base_url: str = "",
    usage_posts_per_minute: int = 600,
) -> SdkGate:
    """The SDK endpoints (not the streams): a Starlette application with CORS, security
    headers and the body limit, behind `SdkGate`, which answers the usual request itself."""

    async def sdk_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SdkError)
        if request.url.path.startswith("/ofrep/") and exc.status in (400, 404):
            return json_response({"errorCode": exc.code, "errorDetails": exc.message}, exc.status)
        return sdk_error_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {
            404: "not_found",
            405: "method_not_allowed",
            408: "request_timeout",
            413: "payload_too_large",
        }.get(exc.status_code, "error")
        return json_response(
            {"error": {"code": code, "message": str(exc.detail).lower()}},
            exc.status_code,
            dict(exc.headers or {}),
        )

    app = Starlette(
        routes=[
            *routes.routes(hubs, clock),
            *ofrep.routes(hubs, clock, secret, base_url),
            *jsfiles.routes(),
            *usage.routes(hubs, clock, usage.RateLimit(usage_posts_per_minute)),
        ],
        exception_handlers={SdkError: sdk_error, HTTPException: http_error},
    )
    app.add_middleware(BodyLimit, limit=max_body, timeout=body_timeout)
    app.add_middleware(SecurityHeaders)
    # Web pages on other origins call these with the (public) client key. Keys travel in
    # headers, never cookies, so any origin may call: no ambient credential can be abused.
    app.add_middleware(
        _CrossOrigin,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=["ETag", "Retry-After"],
        max_age=86_400,
    )
    return SdkGate(app, max_body=max_body, sdk_error=sdk_error, http_error=http_error)
