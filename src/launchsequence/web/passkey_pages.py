"""Passkeys in the dashboard: the WebAuthn options the browser asks for (JSON, for
static/passkeys.js), and "Sign in with a passkey". Adding and removing one are actions of the
account page (profile_pages.py); using one as a second factor finishes on
/login/second-factor (account_pages.py).

Every route here is a POST with the CSRF token of the session, or of the browser's
pre-session cookie before log-in; the challenge handed out is bound to the same thing
(`binding`), so that it cannot be answered from another browser.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from ..api.auth import SESSION_COOKIE, client_address
from ..services import Actor, Invalid, ServiceError, Throttled, Unauthorized
from .account_pages import _logged_in, _safe_next
from .pages import Page, page

__all__ = ["ROUTES", "reauthenticate"]


def _error(exc: ServiceError, status: int) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message}}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _options(options: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"publicKey": options}, headers={"Cache-Control": "no-store"})


def reauthenticate(p: Page, actor: Actor, field: str, doing: str) -> None:
    """The person proves who they are again before adding or removing a passkey (a way in, or
    a second factor): their password, from the form's `field`; or, for an account made by
    single sign-on (no password), a sign-in within the last ten minutes. Invalid (field
    `password`, or `passkey` with code `sign_in_again`); Throttled as a log-in."""
    if p.services.passkeys.has_password(actor):
        p.services.recovery.confirm_password(
            actor, p.form.get(field, ""), address=client_address(p.request)
        )
    elif not p.services.passkeys.recently_signed_in(p.session_token):
        raise Invalid(
            f"sign in again (log out, then in), then {doing} within ten minutes",
            field="passkey",
            code="sign_in_again",
        )


@page()
def registration_options(p: Page) -> Response:
    """Options for `navigator.credentials.create()`. Adding a passkey gives a way in, so the
    person proves who they are again (`reauthenticate`)."""
    actor = p.need_actor()
    try:
        reauthenticate(p, actor, "password_passkey", "add the passkey")
        options = p.services.passkeys.registration_options(
            actor, binding=p.bound_to, name=p.form.get("passkey_name", "")
        )
        return _options(options)
    except Invalid as exc:
        return _error(exc, 422)
    except Throttled as exc:
        return _error(exc, 429)


@page(auth=False)
def authentication_options(p: Page) -> Response:
    """Options for `navigator.credentials.get()`: with a `ticket` (the second step of a
    log-in), for that user's passkeys; without, for a sign-in with a passkey alone."""
    ticket = p.form.get("ticket") or None
    try:
        return _options(p.services.accounts.passkey_options(binding=p.bound_to, ticket=ticket))
    except Unauthorized as exc:
        return _error(exc, 401)
    except Invalid as exc:
        return _error(exc, 422)


@page(auth=False)
def sign_in(p: Page) -> Response:
    """Finish "Sign in with a passkey": the browser's assertion, checked; then the
    dashboard, or the log-in page saying why not (429 with Retry-After when the address
    failed too often, as for a password)."""
    target = _safe_next(p.form.get("next"))
    retry_after = None
    try:
        session = p.services.accounts.login_with_passkey(
            binding=p.bound_to,
            credential=p.form.get("credential", ""),
            address=client_address(p.request),
            old_token=p.request.cookies.get(SESSION_COOKIE),
            user_agent=p.request.headers.get("user-agent"),
        )
    except (Unauthorized, Invalid, Throttled) as exc:
        if isinstance(exc, Throttled):
            p.status, retry_after = 429, exc.retry_after  # the message says when to try again
        else:
            p.status = 401 if isinstance(exc, Unauthorized) else 422
        response = p.render(
            "login.html",
            values={"email": ""},
            errors={"form": exc.message},
            next=target,
            kept=False,
            reset=False,
            sso_providers=p.services.sso.providers(),
            passkeys_on=p.services.passkeys.relying_party() is not None,
        )
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    if target == "/":
        orgs = p.services.orgs.list_orgs(session.actor)
        target = f"/o/{orgs[0]['key']}" if orgs else "/"
    return _logged_in(p, session.token, target)


ROUTES = [
    ("/account/passkeys/options", registration_options, ["POST"]),
    ("/login/passkey/options", authentication_options, ["POST"]),
    ("/login/passkey", sign_in, ["POST"]),
]
