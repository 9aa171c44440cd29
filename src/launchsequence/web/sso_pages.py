"""Single sign-on pages: "Sign in with ..." (start), the provider's answer (callback), and an
organization's SSO settings.

The sign-in under way is kept in a short-lived cookie (`launchseq_sso`: HttpOnly, SameSite=Lax
so that it comes back with the provider's top-level redirect, path /login/sso, sealed by the
server): state, nonce and PKCE verifier, never a token.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from ..api.accounts import _set_session
from ..api.auth import SESSION_COOKIE, client_address
from ..services import Forbidden, Invalid, SsoRefused
from ..services.sso import FLOW_SECONDS, SSO_ROLES
from .account_pages import _safe_next
from .pages import Page, Redirect, page

__all__ = ["FLOW_COOKIE", "ROUTES"]

FLOW_COOKIE = "launchseq_sso"
_FLOW_PATH = "/login/sso"
#: The only parameters of the provider's answer that are read (RFC 6749, RFC 9207).
_ANSWER = ("code", "state", "iss", "error")


def _redirect_uri(p: Page, provider: str) -> str:
    base = p.services.rt.settings.base_url.rstrip("/") or str(p.request.base_url).rstrip("/")
    return f"{base}/login/sso/{provider}/callback"


def _secure(p: Page) -> bool:
    mode = p.services.rt.settings.secure_cookies
    return mode == "true" or (mode == "auto" and p.request.url.scheme == "https")


def _refused(p: Page, provider: str, exc: SsoRefused) -> Response:
    name = next((x["name"] for x in p.services.sso.providers() if x["id"] == provider), provider)
    p.status = 400 if exc.code not in ("not_allowed", "email_not_verified") else 403
    response = p.render(
        "sso_refused.html",
        provider_name=name,
        message=exc.message,
        code=exc.code,
        sso_providers=p.services.sso.providers(),
    )
    response.delete_cookie(FLOW_COOKIE, path=_FLOW_PATH)
    return response


@page(auth=False)
def start(p: Page) -> Response:
    """Off to the provider. A GET (a link): the log-in page's CSP allows forms to post only
    to this site, redirects included; starting changes nothing here but the flow cookie."""
    provider = p.param("provider")
    target = _safe_next(p.query.get("next"))
    try:
        url, sealed = p.services.sso.begin(
            provider, redirect_uri=_redirect_uri(p, provider), next_path=target
        )
    except SsoRefused as exc:
        return _refused(p, provider, exc)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        sealed,
        max_age=FLOW_SECONDS,
        path=_FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(p),
    )
    return response


@page(auth=False)
def callback(p: Page) -> Response:
    """GET from the provider's redirect: verify, sign in, land on the dashboard."""
    provider = p.param("provider")
    answer = {k: p.query[k] for k in _ANSWER if k in p.query}
    try:
        session, flow = p.services.sso.finish(
            provider,
            sealed_flow=p.request.cookies.get(FLOW_COOKIE),
            answer=answer,
            redirect_uri=_redirect_uri(p, provider),
            old_token=p.request.cookies.get(SESSION_COOKIE),
            address=client_address(p.request),
            user_agent=p.request.headers.get("user-agent"),
        )
    except SsoRefused as exc:
        return _refused(p, provider, exc)
    target = flow.next
    if target == "/":
        orgs = p.services.orgs.list_orgs(session.actor)
        target = f"/o/{orgs[0]['key']}" if orgs else "/"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=_FLOW_PATH)
    _set_session(p.request, response, p.services, session.token)
    return response


@page()
def settings(p: Page) -> Response:
    """An organization's single sign-on settings: read by members, changed by admins/owners."""
    org_key = p.param("org")
    actor = p.need_actor()
    org = p.services.orgs.get_org(actor, org_key)
    errors: dict[str, str] = {}
    values = p.services.sso.get_settings(actor, org_key)
    if p.request.method == "POST":
        domains = [d for d in p.form.get("allowed_domains", "").replace(",", "\n").split()]
        values = {
            "allowed_domains": domains,
            "default_role": p.form.get("default_role", ""),
            "required": p.form.get("required") == "1",
        }
        try:
            p.services.sso.update_settings(actor, org_key, **values)
        except Invalid as exc:
            errors[exc.field or "form"] = exc.message
            p.status = 422
        except Forbidden as exc:
            errors["form"] = exc.message
            p.status = 403
        else:
            raise Redirect(f"/o/{org_key}/settings/sso?saved=1")
    base = p.services.rt.settings.base_url.rstrip("/") or str(p.request.base_url).rstrip("/")
    return p.render(
        "sso_settings.html",
        org=org,
        values=values,
        errors=errors,
        roles=SSO_ROLES,
        providers=p.services.sso.providers(),
        callback_base=f"{base}/login/sso",
        saved=p.query.get("saved") == "1",
    )


ROUTES = [
    ("/login/sso/{provider}", start, ["GET"]),
    ("/login/sso/{provider}/callback", callback, ["GET"]),
    ("/o/{org}/settings/sso", settings, ["GET", "POST"]),
]
