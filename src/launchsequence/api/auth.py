"""Who is calling the admin API: a personal API token, or a session cookie plus CSRF token."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote_to_bytes, urlsplit

from fastapi import Depends, Request

from ..secrets import SESSION_PREFIX, TOKEN_PREFIX
from ..services import Actor, Forbidden, Invalid, Services, Unauthorized
from ..services.runtime import with_comment

__all__ = [
    "COMMENT_HEADER",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CurrentActor",
    "ServicesDep",
    "check_origin",
    "client_address",
    "current_actor",
    "get_services",
]

SESSION_COOKIE = "launchseq_session"
CSRF_HEADER = "x-csrf-token"
#: Why: kept with the audit entry of every change the request makes, sent with its webhooks.
#: Percent-decoded (UTF-8), so that any text survives HTTP's header rules: send `%` as `%25`.
COMMENT_HEADER = "x-launchsequence-comment"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: Request, base_url: str) -> None:
    """Refuse a browser request that says it comes from another site (Origin or Referer)."""
    origin = request.headers.get("origin")
    claimed = origin if origin is not None else request.headers.get("referer")
    if claimed is None:
        return  # not a browser, or one that says nothing: the CSRF token still decides
    expected = {_origin_of(str(request.base_url))}
    if base_url:
        expected.add(_origin_of(base_url))
    if claimed == "null" or _origin_of(claimed) not in expected:
        raise Forbidden("cross-site request refused", code="csrf_failed")


#: What a personal API token or a session token looks like inside a query string.
_TOKEN_MARKS = (TOKEN_PREFIX.encode(), SESSION_PREFIX.encode())


def current_actor(request: Request, services: ServicesDep) -> Actor:
    """The caller, with the comment of the X-LaunchSequence-Comment header if any.

    Bearer tokens need no CSRF token; cookie sessions do on unsafe methods.
    A token in the query string is refused (401 `token_in_url`), even next to a proper
    header: URLs are written to logs, so it has leaked and must be revoked."""
    query = request.scope.get("query_string", b"")
    if query and any(mark in query for mark in _TOKEN_MARKS):
        raise Unauthorized(
            "an API token must not be sent in a URL, where logs keep it: send it in the "
            "Authorization header ('Authorization: Bearer <token>'), and revoke this one",
            code="token_in_url",
        )
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        return _commented(request, services.accounts.authenticate_token(token.strip()))
    session = request.cookies.get(SESSION_COOKIE)
    actor = services.accounts.authenticate_session(session)
    if request.method not in SAFE_METHODS:
        check_origin(request, services.rt.settings.base_url)
        assert session is not None
        if not services.accounts.check_csrf(session, request.headers.get(CSRF_HEADER)):
            raise Forbidden(
                "missing or wrong CSRF token: send the X-CSRF-Token header", code="csrf_failed"
            )
    actor = _commented(request, actor)
    request.state.actor = actor
    return actor


def _commented(request: Request, actor: Actor) -> Actor:
    raw = request.headers.get(COMMENT_HEADER)
    if raw is None:
        return actor
    try:
        # Raw UTF-8 arrives read as Latin-1: its bytes, then the percent-escapes, are UTF-8.
        text = unquote_to_bytes(raw.encode("latin-1")).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise Invalid("must be UTF-8 text, percent-encoded", field="comment") from None
    return with_comment(actor, text)


CurrentActor = Annotated[Actor, Depends(current_actor)]
