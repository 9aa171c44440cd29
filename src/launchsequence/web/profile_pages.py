"""One's own account: the profile (name, email, password, personal API tokens) and the list
of one's sessions, each of which can be ended."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..api.auth import client_address
from ..services import Invalid, NotFound, Throttled
from . import flash, params
from .pages import Page, Redirect, page
from .passkey_pages import reauthenticate

__all__ = ["ROUTES"]

HERE = "/account"
SESSIONS = "/account/sessions"
#: Where a "try again later" shows, by action: beside the password that action asked for.
_THROTTLED_FIELD = {"2fa-disable": "password_2fa", "passkey-remove": "password_passkey_remove"}


def _id(p: Page, name: str) -> int:
    try:
        return params.row_id(p.form.get(name), name)
    except Invalid as exc:
        raise Invalid(exc.message) from None


@page()
def profile(p: Page) -> Response:
    actor = p.need_actor()
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    shown: dict[str, Any] = {}
    notice = {
        "changed": p.query.get("changed"),
        "second_factor": p.query.get("second_factor"),
        "passkey": p.query.get("passkey"),
    }
    setup: dict[str, str] | None = None
    if p.request.method == "GET":
        data = flash.take(p, HERE)
        if isinstance(data, dict) and isinstance(data.get("token"), str):
            shown["token"] = data["token"]
        if isinstance(data, dict) and isinstance(data.get("codes"), list):
            shown["codes"] = [c for c in data["codes"] if isinstance(c, str)]
    else:
        action = p.form.get("action", "")
        values = {
            "token_name": p.form.get("token_name", ""),
            "passkey_name": p.form.get("passkey_name", ""),
        }
        try:
            if action == "change-password":
                if p.form.get("password", "") != p.form.get("password_again", ""):
                    raise Invalid("the two new passwords differ", field="password_again")
                ended = p.services.recovery.change_password(
                    actor,
                    session_token=p.session_token,
                    current=p.form.get("current_password", ""),
                    new=p.form.get("password", ""),
                    address=client_address(p.request),
                )
                raise Redirect(f"{HERE}?changed={ended}#password")
            if action == "2fa-begin":
                setup = p.services.second_factor.begin(actor)
            elif action == "2fa-enable":
                try:
                    codes = p.services.second_factor.enable(
                        actor, p.form.get("setup", ""), p.form.get("code", "")
                    )
                except Invalid:
                    setup = p.services.second_factor.resume(actor, p.form.get("setup"))
                    raise
                flash.put(p, HERE, {"codes": codes})
                raise Redirect(f"{HERE}#second-factor")
            elif action == "2fa-disable":
                p.services.recovery.confirm_password(
                    actor, p.form.get("password_2fa", ""), address=client_address(p.request)
                )
                p.services.second_factor.disable(actor, p.form.get("code_2fa", ""))
                raise Redirect(f"{HERE}?second_factor=off#second-factor")
            if action == "passkey-add":
                # The browser's new credential, made by static/passkeys.js with options from
                # /account/passkeys/options (where the password was asked again).
                if not p.form.get("credential"):
                    raise Invalid(
                        "your browser sent no passkey: adding one needs JavaScript and a "
                        "browser that supports passkeys",
                        field="passkey",
                    )
                p.services.passkeys.register(
                    actor,
                    binding=p.bound_to,
                    credential=p.form.get("credential"),
                    name=p.form.get("passkey_name", ""),
                )
                raise Redirect(f"{HERE}?passkey=added#passkeys")
            if action == "passkey-remove":
                # A passkey may be the account's second factor: asked again, as for turning
                # the authenticator app off.
                passkey_id = _id(p, "id")
                reauthenticate(p, actor, "password_passkey_remove", "remove the passkey")
                p.services.passkeys.remove(actor, passkey_id)
                raise Redirect(f"{HERE}?passkey=removed#passkeys")
            if action == "create-token":
                token, _ = p.services.accounts.create_token(actor, p.form.get("token_name", ""))
                flash.put(p, HERE, {"token": token})
                raise Redirect(f"{HERE}#tokens")
            if action == "revoke-token":
                p.services.accounts.revoke_token(actor, _id(p, "id"))
                raise Redirect(f"{HERE}#tokens")
            elif not action.startswith("2fa-"):
                errors["form"] = "unknown action"
        except Invalid as exc:
            field = exc.field or "form"
            if action == "2fa-disable":
                field = {"password": "password_2fa", "code": "code_2fa"}.get(field, field)
            if action == "passkey-add":
                field = {"name": "passkey_name"}.get(field, field)
            if action == "passkey-remove":
                field = {"password": "password_passkey_remove", "passkey": "passkey_remove"}.get(
                    field, field
                )
            errors[{"name": "token_name"}.get(field, field)] = exc.message
            p.status = 422
        except Throttled as exc:
            errors[_THROTTLED_FIELD.get(action, "current_password")] = exc.message
            p.status = 429
    return p.render(
        "account.html",
        me=actor,
        tokens=p.services.accounts.list_tokens(actor),
        session_count=len(p.services.sessions.list(actor, p.session_token)),
        errors=errors,
        values=values,
        shown=shown,
        notice=notice,
        second_factor=p.services.second_factor.status(actor),
        setup=setup,
        passkeys=p.services.passkeys.list(actor),
        passkeys_off=p.services.passkeys.unavailable_reason(),
        has_password=p.services.passkeys.has_password(actor),
    )


@page()
def sessions(p: Page) -> Response:
    actor = p.need_actor()
    if p.request.method == "POST":
        action = p.form.get("action", "")
        if action == "end":
            session_id = _id(p, "id")
            current = [s for s in p.services.sessions.list(actor, p.session_token) if s["current"]]
            p.services.sessions.end(actor, session_id)
            if current and current[0]["id"] == session_id:
                raise Redirect("/login")  # logged out here, as the log-out button does
            raise Redirect(f"{SESSIONS}?ended=1")
        if action == "end-others":
            ended = p.services.sessions.end_others(actor, p.session_token)
            raise Redirect(f"{SESSIONS}?ended={ended}")
        raise NotFound("unknown action")
    return p.render(
        "sessions.html",
        me=actor,
        sessions=p.services.sessions.list(actor, p.session_token),
        ended=params.optional_integer(p.query.get("ended"), "ended", lo=0, hi=params.MAX_ID),
    )


ROUTES = [
    (HERE, profile, ["GET", "POST"]),
    (SESSIONS, sessions, ["GET", "POST"]),
]
