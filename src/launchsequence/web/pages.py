"""What every dashboard page shares: templates, the logged-in user, CSRF and Origin checks on
every POST, and service errors turned into pages (404 for another organization's objects)."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..api.auth import SESSION_COOKIE, check_origin
from ..services import Actor, Forbidden, NotFound, ServiceError, Services, Unauthorized
from ..services.drafts import DRAFT_KEEP_MS
from ..services.runtime import with_comment
from . import context_form, params, rules_form

__all__ = ["ANON_COOKIE", "DRAFT_COOKIE", "Page", "Redirect", "page", "render"]

ANON_COOKIE = "launchseq_anon"
#: The id of a form kept while its author logs in again, scoped to the page it was sent to.
DRAFT_COOKIE = "launchseq_draft"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(ms: int | None) -> str:
    if not ms:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _iso(ms: int | None) -> str:
    """`ms` as an ISO 8601 instant, for `<time datetime>`."""
    if not ms:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _ago(ms: int | None, now: int) -> str:
    """`ms` (Unix ms) as people say it relative to `now`: "just now", "5 minutes ago", ..."""
    if not ms:
        return "never"
    seconds = max(0, (now - ms) // 1000)
    for size, unit in ((86_400 * 365, "year"), (86_400 * 30, "month"), (86_400, "day"),
                       (3_600, "hour"), (60, "minute")):  # fmt: skip
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"


#: Shown for a stored value no JSON encoder can write (a row that got in before values were
#: bounded): the page shows the rest, and says why the flag is set aside.
UNSHOWABLE = "(this value cannot be shown: it cannot be written as JSON)"


def _pretty(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return UNSHOWABLE


def _compact(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return UNSHOWABLE


_templates.filters["when"] = _when
_templates.filters["ago"] = _ago
_templates.filters["iso"] = _iso
_templates.filters["pretty"] = _pretty
_templates.filters["compact"] = _compact
_templates.globals["rollout_split"] = rules_form.rollout_split
_templates.globals["context_rows"] = context_form.context_rows
_templates.globals["context_types"] = context_form.TYPES


class Redirect(Exception):
    """Raised by a page handler to answer 303 See Other (post/redirect/get)."""

    def __init__(self, url: str) -> None:
        self.url = url


@dataclass
class Page:
    """One request to a page: who asks, what they sent, and how to answer."""

    request: Request
    services: Services
    actor: Actor | None
    csrf: str | None
    form: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200
    # Cookies to set on the answer, rendered page or redirect: (name, value, max_age, path);
    # max_age 0 deletes. HttpOnly and SameSite=Strict, Secure as the session cookie is.
    cookies: list[tuple[str, str, int, str]] = field(default_factory=list)

    @property
    def query(self) -> Any:
        return self.request.query_params

    def param(self, name: str) -> str:
        """The key in the path named `name`; NotFound if no object can have it."""
        return params.key(str(self.request.path_params[name]), name)

    def render(self, template: str, **context: Any) -> HTMLResponse:
        return render(self, template, status=self.status, **context)

    def need_actor(self) -> Actor:
        assert self.actor is not None
        return self.actor

    @property
    def session_token(self) -> str:
        """The logged-in session's cookie value (what one-time flashes are bound to)."""
        return self.request.cookies.get(SESSION_COOKIE, "")

    @property
    def bound_to(self) -> str:
        """What this request's CSRF token is bound to, and so any WebAuthn challenge it is
        handed: the session, or before log-in the browser's pre-session cookie."""
        if self.actor is not None:
            return self.session_token
        return "anon:" + self.request.cookies.get(ANON_COOKIE, "")

    def take_draft(self) -> dict[str, list[str]] | None:
        """The form this user sent to this page after their session had ended, kept while they
        logged in again: once (the answer deletes the cookie), and to no one else."""
        draft_id = self.request.cookies.get(DRAFT_COOKIE)
        if not draft_id or self.actor is None:
            return None
        self.cookies.append((DRAFT_COOKIE, "", 0, self.request.url.path))
        return self.services.drafts.restore(self.actor, draft_id, self.request.url.path)

    def apply_cookies(self, response: Response) -> Response:
        mode = self.services.rt.settings.secure_cookies
        secure = mode == "true" or (mode == "auto" and self.request.url.scheme == "https")
        for name, value, max_age, path in self.cookies:
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                path=path,
                httponly=True,
                samesite="strict",
                secure=secure,
            )
        return response


def render(p: Page, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    orgs: list[dict[str, Any]] = []
    draft_owner = None
    if p.actor is not None:
        orgs = p.services.orgs.list_orgs(p.actor)
        draft_owner = p.services.drafts.owner_tag(p.actor, p.session_token)
    html = _templates.get_template(template).render(
        user=p.actor,
        csrf=p.csrf,
        draft_owner=draft_owner,
        orgs=orgs,
        path=p.request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _error_page(p: Page, status: int, title: str, message: str) -> HTMLResponse:
    return render(p, "error.html", status=status, title=title, message=message)


def _unavailable_page(request: Request) -> HTMLResponse:
    """The database cannot be reached: an HTML answer (the API answers JSON), rendered without
    reading anything from it. Nothing was changed."""
    html = _templates.get_template("error.html").render(
        user=None,
        csrf=None,
        orgs=[],
        path=request.url.path,
        title="Temporarily unavailable",
        message="The database cannot be reached right now, so nothing was changed. "
        "Flags keep being served to your applications. Try again in a few seconds.",
    )
    return HTMLResponse(
        html, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "5"}
    )


def page(*, auth: bool = True) -> Callable[[Callable[..., Response]], Callable[..., Any]]:
    """Wrap a blocking page handler `fn(p: Page) -> Response` as an endpoint.

    Logged-in pages send anonymous users to the log-in page. Every POST must carry the
    session's CSRF token in the `csrf_token` field and no foreign Origin (403 otherwise).
    The handler runs in a worker thread: services are blocking.
    """

    def wrap(fn: Callable[..., Response]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            services: Services = request.app.state.services
            form: dict[str, str] = {}
            lists: dict[str, list[str]] = {}
            if request.method == "POST":
                data = await request.form()
                for k, v in data.multi_items():
                    if isinstance(v, str):
                        lists.setdefault(k, []).append(v)
                        form.setdefault(k, v)
            try:
                return await run_in_threadpool(_run, fn, request, services, form, lists, auth)
            except DBAPIError as exc:
                if isinstance(exc, OperationalError) or exc.connection_invalidated:
                    return _unavailable_page(request)
                raise

        return endpoint

    return wrap


def _keep_draft(p: Page, token: str) -> str | None:
    """A form that carries its owner's tag, sent from this site with the CSRF token of the
    session that just ended: kept for that user (the draft id), so that logging in again
    brings it back. Anything else is dropped as before."""
    owner = p.form.get("draft_owner")
    if not owner:
        return None
    try:
        check_origin(p.request, p.services.rt.settings.base_url)
    except Forbidden:
        return None
    if not p.services.accounts.check_csrf(token, p.form.get("csrf_token")):
        return None
    return p.services.drafts.keep(
        session_token=token, owner_tag=owner, path=p.request.url.path, form=p.lists
    )


def _run(
    fn: Callable[..., Response],
    request: Request,
    services: Services,
    form: dict[str, str],
    lists: dict[str, list[str]],
    auth: bool,
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    actor: Actor | None = None
    if token:
        try:
            actor = services.accounts.authenticate_session(token)
        except Unauthorized:
            actor = None
    # Anonymous forms (log-in, sign-up) are bound to a random pre-session cookie instead.
    anonymous = request.cookies.get(ANON_COOKIE) or ""
    new_anonymous = None
    if actor is None and not anonymous:
        anonymous = new_anonymous = secrets.token_urlsafe(24)
    bound = token if actor is not None else "anon:" + anonymous
    assert bound is not None
    p = Page(request, services, actor, services.accounts.csrf_for(bound), form, lists)
    if auth and actor is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        kept = _keep_draft(p, token) if request.method == "POST" and token else None
        if kept is None:
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        p.cookies.append((DRAFT_COOKIE, kept, DRAFT_KEEP_MS // 1000, request.url.path))
        return p.apply_cookies(
            RedirectResponse(f"/login?next={quote(target)}&kept=1", status_code=303)
        )
    try:
        if request.method == "POST":
            check_origin(request, services.rt.settings.base_url)
            if new_anonymous is not None or not services.accounts.check_csrf(
                bound, form.get("csrf_token")
            ):
                raise Forbidden(
                    "this form expired or did not come from this site: reload the page and "
                    "try again",
                    code="csrf_failed",
                )
        params.check_text(request.query_params.multi_items())
        params.check_text((k, v) for k, values in lists.items() for v in values)
        if actor is not None and form.get("comment"):
            # Every form where a change is saved may carry a comment: the audit log keeps it.
            p.actor = with_comment(actor, form["comment"])
        response = p.apply_cookies(fn(p))
        if new_anonymous is not None:
            response.set_cookie(ANON_COOKIE, new_anonymous, httponly=True, samesite="lax", path="/")
        return response
    except Redirect as r:
        return p.apply_cookies(RedirectResponse(r.url, status_code=303))
    except NotFound as exc:
        return _error_page(p, 404, "Not found", exc.message)
    except Forbidden as exc:
        return _error_page(p, 403, "Not allowed", exc.message)
    except Unauthorized:
        return RedirectResponse("/login", status_code=303)
    except ServiceError as exc:
        return _error_page(p, 400, "Something is wrong", exc.message)
