"""A forgotten password: ask for a reset link by email, then follow it to choose a new one.

The link (`/reset?token=lsr_...`) is followed once: its first load checks the token, moves it
into an HttpOnly cookie limited to `/reset` (SameSite=Lax, so that it is sent on the
navigation from a mail client; 30 minutes at most) and redirects to plain `/reset`. So no page
is ever rendered at a URL that holds the token: nothing on it (a link, an image, a script) can
carry the token off in a Referer (which the server also limits to this origin), the browser's
address bar and history show the bare `/reset` after the redirect, and the access log
redacts `token=` and `lsr_...` on the one request that carries it.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from ..api.auth import client_address
from ..services import Invalid, NotFound, Throttled, Unavailable
from ..services.recovery import RESET_TTL_MS
from .pages import Page, page

__all__ = ["RESET_COOKIE", "ROUTES"]

RESET_COOKIE = "launchseq_reset"
RESET_PATH = "/reset"


def _reset_cookie(p: Page, response: Response, token: str, max_age: int) -> Response:
    mode = p.services.rt.settings.secure_cookies
    secure = mode == "true" or (mode == "auto" and p.request.url.scheme == "https")
    response.set_cookie(
        RESET_COOKIE,
        token,
        max_age=max_age,
        path=RESET_PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


@page(auth=False)
def forgot(p: Page) -> Response:
    mail = p.services.mailer.configured
    values = {"email": p.form.get("email", "") or p.query.get("email", "")}
    errors: dict[str, str] = {}
    sent = False
    if p.request.method == "POST" and mail:
        try:
            p.services.recovery.request_reset(values["email"], address=client_address(p.request))
        except Invalid as exc:
            errors["email"] = exc.message
            p.status = 422
        except Throttled as exc:
            errors["form"] = exc.message
            p.status = 429
        except Unavailable as exc:
            errors["form"] = exc.message
            p.status = 503
        else:
            sent = True
    return p.render("forgot.html", mail=mail, values=values, errors=errors, sent=sent)


def _invalid(p: Page, message: str) -> Response:
    p.status = 404
    response = p.render("reset.html", invalid=message, email=None, errors={})
    response.delete_cookie(RESET_COOKIE, path=RESET_PATH)
    return response


@page(auth=False)
def reset(p: Page) -> Response:
    in_url = p.query.get("token")
    if in_url is not None:
        # First load from the emailed link: keep the token in a cookie, off the URL.
        try:
            p.services.recovery.check_reset(in_url)
        except NotFound as exc:
            return _invalid(p, exc.message)
        response = RedirectResponse(RESET_PATH, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        return _reset_cookie(p, response, in_url, RESET_TTL_MS // 1000)
    token = p.request.cookies.get(RESET_COOKIE)
    if not token:
        return _invalid(p, "Open the link from the password-reset email, or ask for a new one.")
    try:
        email = p.services.recovery.check_reset(token)
    except NotFound as exc:
        return _invalid(p, exc.message)
    errors: dict[str, str] = {}
    if p.request.method == "POST":
        new = p.form.get("password", "")
        try:
            if new != p.form.get("password_again", ""):
                raise Invalid("the two passwords differ", field="password_again")
            p.services.recovery.complete_reset(token, new)
        except Invalid as exc:
            errors[exc.field or "password"] = exc.message
            p.status = 422
        except NotFound as exc:
            return _invalid(p, exc.message)
        else:
            response = RedirectResponse("/login?reset=1", status_code=303)
            response.delete_cookie(RESET_COOKIE, path=RESET_PATH)
            return response
    return p.render("reset.html", invalid=None, email=email, errors=errors)


ROUTES = [
    ("/forgot", forgot, ["GET", "POST"]),
    (RESET_PATH, reset, ["GET", "POST"]),
]
