"""SDK-key authentication and answers shared by the /sdk and /ofrep endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response

from ..realtime.hub import Hub
from ..realtime.hubs import Hubs
from ..realtime.keys import SdkKey
from ..realtime.source import SourceUnavailable
from ..secrets import SERVER_KEY_PREFIX

__all__ = [
    "JSONAnswer",
    "SdkError",
    "authenticate",
    "json_response",
    "loads",
    "read_body",
    "read_json",
    "refuse_server_key_in_url",
    "sdk_error_response",
    "store_errors",
]

_JSON = "application/json"


class SdkError(Exception):
    """An SDK request that cannot be answered; rendered as the usual error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class JSONAnswer(Response):
    """A JSON answer, its headers built directly: what `Response` would send for these bytes,
    without its generic header handling, which costs as much as encoding a small answer."""

    media_type = _JSON

    def __init__(
        self, content: bytes, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = content
        self.raw_headers = [
            (b"content-length", b"%d" % len(content)),
            (b"content-type", b"application/json"),
        ]
        if headers:
            self.raw_headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONAnswer(orjson.dumps(data), status, headers)


def sdk_error_response(exc: SdkError) -> Response:
    return json_response(
        {"error": {"code": exc.code, "message": exc.message}}, exc.status, exc.headers
    )


def presented_key(request: HTTPConnection, *, query: bool = False) -> tuple[str | None, bool]:
    """The key the request carries, and whether it came in the URL (`?key=`, read only where
    `query` allows it: client streams, as EventSource cannot send headers). The first
    `Authorization` header, unless empty, wins over the first `X-API-Key`."""
    authorization = api_key = None
    for name, value in request.scope["headers"]:  # the raw headers: no Headers object built
        if name == b"authorization":
            if authorization is None:
                authorization = value
        elif name == b"x-api-key" and api_key is None:
            api_key = value
    if authorization:
        scheme, _, credential = authorization.decode("latin-1").partition(" ")
        return (credential.strip() if scheme.lower() == "bearer" else None), False
    if api_key is not None:
        return api_key.decode("latin-1"), False
    if query:
        key = request.query_params.get("key")
        return key, key is not None
    return None, False


_UNAUTHORIZED = SdkError(401, "unauthorized", "missing, unknown or expired SDK key",
                         {"WWW-Authenticate": "Bearer"})  # fmt: skip
#: A server key is a secret: a URL is written to logs and histories. Refused, even where the
#: same request also authenticates properly, so that the leak is found and the key rotated.
_KEY_IN_URL = SdkError(401, "secret_key_in_url",
                       "a server key must not be sent in a URL, where logs keep it: send it in "
                       "the Authorization header ('Authorization: Bearer <key>'), and rotate "
                       "this one; only client keys may travel as ?key=",
                       {"WWW-Authenticate": "Bearer"})  # fmt: skip
_SERVER_KEY_MARK = SERVER_KEY_PREFIX.encode()
_STORE_DOWN = SdkError(503, "unavailable",
                       "the flag source (the database, or an edge's upstream) is unreachable "
                       "and this key is not known to this server "
                       "yet; try again shortly", {"Retry-After": "5"})  # fmt: skip


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Around a source read the SDK paths make only on a cache miss (a key or a hub not yet
    loaded): an unreachable source answers 503 `unavailable`, not 500. The source logs the
    outage itself, once."""
    try:
        yield
    except SourceUnavailable:
        raise _STORE_DOWN from None


def refuse_server_key_in_url(request: HTTPConnection) -> None:
    """401 `secret_key_in_url` when the query string carries a server key, under any name."""
    if _SERVER_KEY_MARK in request.scope.get("query_string", b""):
        raise _KEY_IN_URL


async def authenticate(
    request: HTTPConnection, hubs: Hubs, *, server_only: bool, query: bool = False
) -> tuple[SdkKey, Hub]:
    """The key and its environment's hub. 401 for a wrong, revoked or expired key, with no hint
    of which; 401 `secret_key_in_url` for a server key in the URL; 403 for a client key where a
    server key is needed."""
    refuse_server_key_in_url(request)
    secret, in_url = presented_key(request, query=query)
    if not secret:
        raise _UNAUTHORIZED
    found = hubs.keys.cached(secret)
    if found is False:
        with store_errors():
            found = await asyncio.to_thread(hubs.keys.load, secret)
    if not isinstance(found, SdkKey) or not found.valid(hubs.clock()):
        raise _UNAUTHORIZED
    if in_url and found.kind != "client":
        raise _KEY_IN_URL
    if server_only and found.kind != "server":
        raise SdkError(403, "forbidden", "this endpoint needs the environment's server key")
    hub = hubs.loaded_hub(found.env_id)
    if hub is None:
        with store_errors():
            hub = await hubs.aget(found.env_id)
    if hub is None:
        raise _UNAUTHORIZED
    return found, hub


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes) -> Any:
    """JSON text as Python values; ValueError when it is not JSON.

    A string escape of a lone UTF-16 surrogate (`"\\ud800"`) is valid JSON (RFC 8259 allows it,
    and JavaScript's JSON.stringify writes it for such strings): orjson refuses it, so such a
    document is read by the standard library instead, which keeps the surrogate as Python does
    (the engine buckets it as spec/evaluation.md says). Nothing else is accepted that orjson
    refuses (no NaN or Infinity).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
        return json.loads(data, parse_constant=_no_constant)


async def read_body(request: Request) -> bytes:
    """The request's body, read from `receive` directly (Starlette's `body()` goes through an
    async generator per chunk); ClientDisconnect if the client went away first."""
    receive = request.receive
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def read_json(request: Request) -> Any:
    body = await read_body(request)
    try:
        return loads(body) if body else {}
    except ValueError:
        raise SdkError(400, "invalid_json", "the body is not valid JSON") from None
