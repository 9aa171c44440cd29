"""Sign-up, log-in, log-out, the current user, and personal API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ..services import Actor
from ..services.shapes import LoginIn, SignupIn, TokenIn
from .auth import (
    SESSION_COOKIE,
    CurrentActor,
    ServicesDep,
    check_origin,
    client_address,
)
from .models import Me, NewToken, TokenList, answer
from .numbers import RowId
from .routing import StrictJSONRoute

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["accounts"], route_class=StrictJSONRoute)


def _set_session(request: Request, response: Response, services: Any, token: str) -> None:
    mode = services.rt.settings.secure_cookies
    secure = mode == "true" or (mode == "auto" and request.url.scheme == "https")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=services.rt.settings.session_absolute_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def _me(actor: Actor, csrf: str | None, orgs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "user": {"id": actor.user_id, "email": actor.email, "name": actor.name},
        "organizations": orgs,
    }
    if csrf is not None:
        out["csrf_token"] = csrf
    return out


@router.post(
    "/auth/signup",
    status_code=201,
    summary="Create an account and log in",
    responses=answer(Me, "Signed up and logged in (the session cookie is set)", 201),
)
def signup(body: SignupIn, request: Request, response: Response, services: ServicesDep) -> Any:
    """Creates the user, their organization with project `default` (environments
    `production` and `staging`), and a session. The answer carries the CSRF token that every
    cookie-authenticated unsafe request must send as `X-CSRF-Token`."""
    check_origin(request, services.rt.settings.base_url)
    session = services.accounts.signup(
        email=body.email,
        password=body.password,
        name=body.name,
        invitation=body.invitation,
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        organization=body.organization,
    )
    _set_session(request, response, services, session.token)
    return _me(session.actor, session.csrf, services.orgs.list_orgs(session.actor))


@router.post(
    "/auth/login",
    summary="Log in",
    responses=answer(Me, "Logged in (a new session cookie is set)"),
)
def login(body: LoginIn, request: Request, response: Response, services: ServicesDep) -> Any:
    """Starts a new session (ending any the client had). Wrong email and wrong password give
    the same 401; repeated failures give 429 with Retry-After. A user with a second factor
    sends `code` too: without it the answer is 401 `second_factor_required`, with a wrong
    one 401 `invalid_second_factor`."""
    check_origin(request, services.rt.settings.base_url)
    session = services.accounts.login(
        email=body.email,
        password=body.password,
        address=client_address(request),
        old_token=request.cookies.get(SESSION_COOKIE),
        user_agent=request.headers.get("user-agent"),
        code=body.code,
    )
    _set_session(request, response, services, session.token)
    return _me(session.actor, session.csrf, services.orgs.list_orgs(session.actor))


@router.post("/auth/logout", status_code=204, summary="Log out")
def logout(request: Request, actor: CurrentActor, services: ServicesDep) -> Response:
    """Ends the session on the server: its cookie stops working at once, anywhere."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and actor.via == "session":
        services.accounts.logout(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", summary="The current user", responses=answer(Me, "The current user"))
def me(request: Request, actor: CurrentActor, services: ServicesDep) -> Any:
    token = request.cookies.get(SESSION_COOKIE)
    csrf = services.accounts.csrf_for(token) if actor.via == "session" and token else None
    return _me(actor, csrf, services.orgs.list_orgs(actor))


@router.get(
    "/tokens",
    summary="List your personal API tokens",
    responses=answer(TokenList, "Your tokens, without their secret part"),
)
def list_tokens(actor: CurrentActor, services: ServicesDep) -> Any:
    return {"tokens": services.accounts.list_tokens(actor)}


@router.post(
    "/tokens",
    status_code=201,
    summary="Create a personal API token",
    responses=answer(NewToken, "The new token, in full", 201),
)
def create_token(body: TokenIn, actor: CurrentActor, services: ServicesDep) -> Any:
    """The token is in this answer and nowhere else, ever: the server keeps only a digest."""
    token, row = services.accounts.create_token(actor, body.name)
    return {**row, "token": token}


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a personal API token")
def revoke_token(token_id: RowId, actor: CurrentActor, services: ServicesDep) -> Response:
    services.accounts.revoke_token(actor, token_id)
    return Response(status_code=204)
