"""Sign-up (also through an invitation link), log-in and log-out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from ..api.accounts import _set_session
from ..api.auth import SESSION_COOKIE, client_address
from ..services import (
    Conflict,
    Invalid,
    NotFound,
    SecondFactorRequired,
    Throttled,
    Unauthorized,
)
from ..services.second_factor import REMEMBER_MS
from .pages import Page, Redirect, page

__all__ = ["DEVICE_COOKIE", "ROUTES"]

#: A device remembered after its second factor (30 days); sent to the log-in pages only.
DEVICE_COOKIE = "launchseq_device"


def _safe_next(value: str | None) -> str:
    # Only paths on this site: never an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _logged_in(p: Page, token: str, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    _set_session(p.request, response, p.services, token)
    return response


@page(auth=False)
def signup(p: Page) -> Response:
    invitation = p.form.get("invitation") or p.query.get("invitation") or None
    offer: dict[str, Any] | None = None
    errors: dict[str, str] = {}
    if invitation:
        try:
            offer = p.services.invitations.peek(invitation)
        except NotFound as exc:
            errors["invitation"] = exc.message
            invitation = None
    if p.actor is not None and offer is not None and p.request.method == "GET":
        return p.render("accept.html", offer=offer, invitation=invitation)
    values = {"email": (offer or {}).get("email") or "", "name": "", "organization": ""}
    if p.request.method == "POST" and "invitation" not in errors:
        values = {
            "email": p.form.get("email", ""),
            "name": p.form.get("name", ""),
            "organization": p.form.get("organization", ""),
        }
        try:
            session = p.services.accounts.signup(
                email=values["email"],
                password=p.form.get("password", ""),
                name=values["name"] or None,
                organization=None if invitation else values["organization"] or None,
                invitation=invitation,
                address=client_address(p.request),
                user_agent=p.request.headers.get("user-agent"),
            )
        except Invalid as exc:
            errors[exc.field or "email"] = exc.message
        except Conflict as exc:
            errors["email"] = exc.message
        except NotFound as exc:
            errors["invitation"] = exc.message
        else:
            orgs = p.services.orgs.list_orgs(session.actor)
            return _logged_in(p, session.token, f"/o/{orgs[0]['key']}" if orgs else "/")
        p.status = 422
    return p.render(
        "signup.html",
        values=values,
        errors=errors,
        offer=offer,
        invitation=invitation,
        sso_providers=p.services.sso.providers(),
    )


@page()
def accept(p: Page) -> Response:
    org = p.services.invitations.accept(p.need_actor(), p.form.get("invitation"))
    raise Redirect(f"/o/{org['key']}")


@page(auth=False)
def login(p: Page) -> Response:
    target = _safe_next(p.form.get("next") or p.query.get("next"))
    values = {"email": p.form.get("email", "")}
    errors: dict[str, str] = {}
    retry_after: int | None = None
    if p.request.method == "POST":
        try:
            session = p.services.accounts.login(
                email=values["email"],
                password=p.form.get("password", ""),
                address=client_address(p.request),
                old_token=p.request.cookies.get(SESSION_COOKIE),
                user_agent=p.request.headers.get("user-agent"),
                device=p.request.cookies.get(DEVICE_COOKIE),
            )
        except Throttled as exc:
            errors["form"] = exc.message  # it says when to try again
            p.status = 429
            retry_after = exc.retry_after
        except SecondFactorRequired as exc:
            return _second_step(p, exc.ticket, target, {}, exc.methods)
        except Unauthorized as exc:
            errors["form"] = exc.message
            p.status = 401
        else:
            if target == "/":
                orgs = p.services.orgs.list_orgs(session.actor)
                target = f"/o/{orgs[0]['key']}" if orgs else "/"
            return _logged_in(p, session.token, target)
    elif p.actor is not None:
        raise Redirect(target)
    # `kept`: the log-in follows a form sent after the session ended, kept to come back.
    kept = (p.form.get("kept") or p.query.get("kept")) == "1"
    reset = p.query.get("reset") == "1" and p.request.method == "GET"
    if p.query.get("expired") == "1" and not errors:
        errors["form"] = "That log-in took too long; log in again."
    response = p.render(
        "login.html",
        values=values,
        errors=errors,
        next=target,
        kept=kept,
        reset=reset,
        sso_providers=p.services.sso.providers(),
        passkeys_on=p.services.passkeys.relying_party() is not None,
    )
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _second_step(
    p: Page, ticket: str, target: str, errors: dict[str, str], methods: tuple[str, ...]
) -> Response:
    return p.render(
        "second_factor.html",
        ticket=ticket,
        next=target,
        errors=errors,
        methods=methods,
        passkeys_on=p.services.passkeys.relying_party() is not None,
    )


@page(auth=False)
def second_factor(p: Page) -> Response:
    """The second step of a log-in: the code from the app (or a recovery code), or a passkey
    (`passkey`: the browser's assertion, from static/passkeys.js), and whether to remember
    this device for 30 days."""
    target = _safe_next(p.form.get("next"))
    ticket = p.form.get("ticket", "")
    errors: dict[str, str] = {}
    try:
        session = p.services.accounts.login_second_step(
            ticket=ticket,
            code=p.form.get("code", ""),
            passkey=p.form.get("passkey") or None,
            binding=p.bound_to,
            address=client_address(p.request),
            old_token=p.request.cookies.get(SESSION_COOKIE),
            user_agent=p.request.headers.get("user-agent"),
        )
    except Throttled as exc:
        errors["code"] = exc.message
        p.status = 429
    except Unauthorized as exc:
        if exc.code in ("invalid_passkey", "passkey_challenge_expired"):
            errors["passkey"] = exc.message
        elif exc.code == "invalid_second_factor":
            errors["code"] = "This code is not valid: try the current one, or a recovery code."
        else:
            raise Redirect("/login?expired=1") from None
        p.status = 401
    except Invalid as exc:  # passkeys are off on this server
        errors["passkey"] = exc.message
        p.status = 422
    else:
        if target == "/":
            orgs = p.services.orgs.list_orgs(session.actor)
            target = f"/o/{orgs[0]['key']}" if orgs else "/"
        response = _logged_in(p, session.token, target)
        if p.form.get("remember") == "1":
            device = p.services.second_factor.remember(session.actor.user_id)
            mode = p.services.rt.settings.secure_cookies
            response.set_cookie(
                DEVICE_COOKIE,
                device,
                max_age=REMEMBER_MS // 1000,
                path="/login",
                httponly=True,
                samesite="lax",
                secure=mode == "true" or (mode == "auto" and p.request.url.scheme == "https"),
            )
        return response
    try:
        user = p.services.accounts.tickets.user_of(ticket)
    except Unauthorized:
        raise Redirect("/login?expired=1") from None
    return _second_step(p, ticket, target, errors, p.services.accounts.methods(user))


@page()
def logout(p: Page) -> Response:
    token = p.request.cookies.get(SESSION_COOKIE)
    if token:
        p.services.accounts.logout(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@page()
def home(p: Page) -> Response:
    orgs = p.services.orgs.list_orgs(p.need_actor())
    if orgs:
        raise Redirect(f"/o/{quote(orgs[0]['key'])}")
    return p.render("error.html", title="No organization", message="You belong to none yet.")


ROUTES = [
    ("/", home, ["GET"]),
    ("/signup", signup, ["GET", "POST"]),
    ("/invitations/accept", accept, ["POST"]),
    ("/login", login, ["GET", "POST"]),
    ("/login/second-factor", second_factor, ["POST"]),
    ("/logout", logout, ["POST"]),
]
