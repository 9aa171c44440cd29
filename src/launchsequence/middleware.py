"""ASGI middleware: request body limits (size and time) and security headers on every answer."""

from __future__ import annotations

import asyncio

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .httpserver import BODY_TIMED

__all__ = ["SECURITY_HEADERS", "BodyLimit", "SecurityHeaders", "add_security_headers", "refuse"]

_TOO_LARGE = orjson.dumps(
    {"error": {"code": "payload_too_large", "message": "the request body is too large"}}
)


_TOO_SLOW = orjson.dumps(
    {"error": {"code": "request_timeout", "message": "the request body arrived too slowly"}}
)


class _TooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, because
    FastAPI turns any other exception raised while reading the body into a 400; this one
    reaches the app's handler, which answers 413 `payload_too_large`."""

    def __init__(self) -> None:
        super().__init__(413, "the request body is too large")


class _TooSlow(HTTPException):
    """Raised from `receive` when the body is not whole by its deadline (a slow client, or one
    holding a connection open on purpose): answered 408 `request_timeout`."""

    def __init__(self) -> None:
        super().__init__(408, "the request body arrived too slowly")


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413, by Content-Length or while streaming, and
    bodies that are not whole `timeout` seconds after the app first asks for them with 408.
    Once the body is whole, `receive` is passed through untouched (streaming answers wait on
    it for the client's disconnect).

    Under `launchseq serve`, whose HTTP protocol times bodies itself (it marks the scope's
    `extensions` with `BODY_TIMED`), only the size is checked here, and a body whose
    Content-Length is within the limit passes untouched: the HTTP parser holds the client to
    that length."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timed = BODY_TIMED in (scope.get("extensions") or ())
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_large = int(value) > self.limit
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(send)
                    return
                if timed:  # neither too large nor too slow: the server sees to both
                    await self.app(scope, receive, send)
                    return
                break
        else:
            if not any(name == b"transfer-encoding" for name, _ in scope["headers"]):
                # No Content-Length and not chunked: HTTP/1.1 says there is no body, so
                # nothing can be too large or too slow.
                await self.app(scope, receive, send)
                return
        seen = 0
        started = False
        whole = False
        timed_out = False
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal seen, whole, timed_out, deadline
            if whole:
                return await receive()
            if timed:
                message = await receive()
            else:
                if deadline is None:
                    deadline = asyncio.get_running_loop().time() + self.timeout
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    timed_out = True
                    raise _TooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
                whole = not message.get("more_body", False)
            else:
                whole = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if timed_out:  # the answer to a body too slow: do not wait for the rest
                    headers = [h for h in message.get("headers", []) if h[0] != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)
        except _TooSlow:
            if not started:
                await self._refuse(send, 408, _TOO_SLOW)

    @staticmethod
    async def _refuse(send: Send, status: int = 413, body: bytes = _TOO_LARGE) -> None:
        await refuse(send, status, body)


SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]

_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def add_security_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Append the security headers to an answer's headers (names in lower case, as Starlette's
    responses keep them), in place; a header the route set itself is kept, not doubled."""
    for name, _ in headers:
        if name in _SECURITY_NAMES:
            present = {n for n, _ in headers}
            headers.extend([h for h in SECURITY_HEADERS if h[0] not in present])
            return
    headers.extend(SECURITY_HEADERS)


async def refuse(
    send: Send, status: int = 413, body: bytes = _TOO_LARGE, *, security: bool = False
) -> None:
    """Answer a request refused before the application read it (413 by default), and close
    the connection: what the client sent (or is still sending) is not read. `security`: add
    the security headers (where no middleware outside adds them)."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if security:
        headers += SECURITY_HEADERS
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds the headers every answer carries (CSP without inline scripts, no framing, ...)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if any(name.lower() in _SECURITY_NAMES for name, _ in headers):
                    present = {name.lower() for name, _ in headers}
                    headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                else:  # the usual case: none of them set by the route
                    headers += SECURITY_HEADERS
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
