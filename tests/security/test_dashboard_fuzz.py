"""Hostile values against every dashboard page and form: no answer is a server error (5xx).

The routes come from the app itself (every route the dashboard installs on it), so a new page
or form is fuzzed without touching this file; a new kind of path parameter fails the test until
`WORLD` names a real value for it. A real user, logged in, owns a real organization with a
second member, an invitation and an API token, and a project with a number flag (targets, a
rule, a rollout) and a segment, so that requests reach the handlers rather than stopping at 404.

- GET: each path parameter of each route, and each query parameter the route reads (seen in
  the links and GET forms of the pages, or in the source of the route's module), takes each
  hostile value in turn, the others staying valid.
- POST: each form the pages show, as a browser would submit it (with its CSRF token), takes a
  hostile value in each field in turn, the field repeated, and, for values made of parts
  (`remove-clause:0:1`, `flag env 1`), a hostile part. A POST route that no page shows a form
  for gets the fields its module reads. What a form changed is put back after its turn.

The corpus: digits of other scripts ("²" passes `str.isdigit()` and fails `int()`), integers
beyond 32 and 64 bits and beyond any integer type, negative numbers, empty, very long, NUL, a
lone surrogate percent-encoded, and values of the wrong type. Some 4,500 requests per
database (SQLite, then PostgreSQL): marked slow.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import ApiUser, signup
from tests.support.databases import postgres_database
from tests.support.forms import Form, page_forms
from tests.support.live import LiveServer, free_port

pytestmark = pytest.mark.slow

Pairs = list[tuple[str, str]]

HOSTILE = [
    "\u00b2", "\u0663", "\uff11",  # superscript two, Arabic-Indic three, full-width one
    "2147483648", "9223372036854775808", "1" * 40,  # beyond 32 bits, 64 bits, any integer
    "-1", "0", "1.5", "1e999", "NaN", "true", "[]", "{}", "a:b:c",
    "", " ", "x" * 5000, "\x00", "\ud800",  # the lone surrogate goes out as %ED%A0%80
]  # fmt: skip
PART_HOSTILE = ["\u00b2", "\u0663", "1" * 40, "-1", "", "\x00"]
PATH_HOSTILE = ["\u00b2", "1" * 40, "-1", "x" * 300, "\x00", "\ud800", "UPPER", "a b"]

# A real object for every kind of path parameter the dashboard has (the org is added).
# `provider`: no single sign-on provider is configured here, so its pages answer 404 (not 5xx).
WORLD = {
    "project": "default",
    "flag": "fuzz",
    "env": "production",
    "segment": "beta",
    "provider": "none-configured",
}

FLAG = {"key": "fuzz", "type": "number", "variations": [{"value": 1}, {"value": 2.5}, {"value": 3}]}
CONFIG = {
    "on": True,
    "off_variation": 0,
    "targets": [{"variation": 1, "values": ["user-1", "user-2"]}],
    "rules": [
        {
            "description": "adults in DE",
            "clauses": [
                {"attribute": "age", "op": "gt", "values": [18]},
                {"attribute": "country", "op": "in", "values": ["DE"]},
            ],
            "serve": {"variation": 2},
        }
    ],
    "fallthrough": {
        "rollout": {
            "weights": [{"variation": 0, "weight": 60000}, {"variation": 1, "weight": 40000}]
        }
    },
}
SEGMENT = {
    "included": ["user-3"],
    "rules": [{"clauses": [{"attribute": "age", "op": "lt", "values": [13]}]}],
}


def _q(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def encode(pairs: Pairs) -> str:
    """As a browser encodes a form, but a lone surrogate goes out as its (invalid) UTF-8."""
    return "&".join(f"{_q(k)}={_q(v)}" for k, v in pairs)


def mutations(pairs: Pairs, i: int) -> Iterator[Pairs]:
    """Pair `i` with each hostile value, repeated, and with each of its parts (the value split
    at ":" or " ") replaced."""
    name, value = pairs[i]
    before, after = pairs[:i], pairs[i + 1 :]
    for hostile in HOSTILE:
        yield [*before, (name, hostile), *after]
    yield [*before, (name, "\u00b2"), (name, value), *after]
    for sep in (":", " "):
        parts = value.split(sep)
        for k in range(len(parts) if len(parts) > 1 else 0):
            for hostile in PART_HOSTILE:
                yield [*before, (name, sep.join([*parts[:k], hostile, *parts[k + 1 :]])), *after]


class Fuzzer:
    """Sends requests with the user's session and keeps every answer that is a server error
    (or no answer at all)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.failures: list[str] = []
        self.sent = 0

    def send(
        self,
        method: str,
        path: str,
        query: Pairs | None = None,
        form: Pairs | None = None,
        what: str = "",
    ) -> int:
        """The answer's status (0 for none); `what` names the hostile part in a failure."""
        url = path + (f"?{encode(query)}" if query else "")
        body = None if form is None else encode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        self.sent += 1
        try:
            with self.client.stream(method, url, content=body, headers=headers) as answer:
                if not answer.headers.get("content-type", "").startswith("text/event-stream"):
                    answer.read()
                status = answer.status_code
        except httpx.TransportError as exc:
            self.failures.append(
                f"{type(exc).__name__}: [{what}] {method} {url[:200]} {body}"[:600]
            )
            return 0
        if status >= 500:
            self.failures.append(f"{status}: [{what}] {method} {url[:200]} {body}"[:600])
        return status


# --- what the dashboard serves, from the app ------------------------------------------------


def dashboard_routes(app: Any) -> list[Route]:
    """Every plain route of the admin app: the dashboard's (and the API's two documents)."""
    return [r for r in app.admin.routes if type(r) is Route and not isinstance(r, APIRoute)]


def fill(route: Route, values: dict[str, str], **hostile: str) -> str:
    """The route's path with `values` for its parameters (`hostile` ones percent-encoded)."""
    path = route.path
    for name in route.param_convertors:
        if name not in values:
            raise AssertionError(f"{route.path}: teach WORLD a real value for {{{name}}}")
        raw = hostile.get(name)
        path = path.replace(f"{{{name}}}", values[name] if raw is None else _q(raw))
    return path


_QUERY_READ = re.compile(r'(?:query|query_params|\bq)\.get\(\s*"([^"]+)"')
_FORM_READ = re.compile(r'(?:form|lists|\bf)\.get\(\s*f?"([^"{]+)"')


_HELPERS_READ = re.compile(r'\bfields\.get\(\s*"([^"]+)"')


def names_read(route: Route, pattern: re.Pattern[str]) -> set[str]:
    """The parameter names the module of the route's endpoint reads (by its source), and those
    its form helpers read for it (web/context_form.py reads the query or the form it is given
    as `fields`)."""
    module = inspect.getmodule(inspect.unwrap(route.endpoint))
    if module is None:
        return set()
    source = inspect.getsource(module)
    names = set(pattern.findall(source))
    if "context_form." in source:
        from launchsequence.web import context_form

        names |= set(_HELPERS_READ.findall(inspect.getsource(context_form)))
    return names


def route_of(routes: list[Route], path: str, method: str) -> Route | None:
    for route in routes:
        if route.path_regex.fullmatch(path) and method in (route.methods or ()):
            return route
    return None


# --- the world the requests act on ------------------------------------------------------------


def _ok(answer: httpx.Response, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.request.url, answer.status_code, answer.text)


class World:
    """Alice's organization (Bob a viewer in it, an invitation, an API token) and its project's
    number flag and segment, set up and put back through the API."""

    def __init__(self, url: str) -> None:
        self.alice: ApiUser = signup(url, "alice@example.com")
        signup(url, "bob@example.com").close()
        self.org = self.alice.org
        self.values = {**WORLD, "org": self.org}
        org = f"/api/v1/orgs/{self.org}"
        _ok(self.alice.post(f"{org}/projects/default/flags", json=FLAG), 201)
        hook = {"url": "http://127.0.0.1:9/fuzz", "events": ["flag.toggled"]}
        made = self.alice.post(f"{org}/webhooks", json=hook)
        _ok(made, 201)
        self.values["webhook_id"] = str(made.json()["id"])
        later = {"environment": "production", "at": "2030-01-01T00:00:00Z", "changes": {"on": True}}
        made = self.alice.post(f"{org}/projects/default/flags/fuzz/schedules", json=later)
        _ok(made, 201)
        self.values["schedule_id"] = str(made.json()["id"])
        # A change request (in staging, protected for it; production stays unprotected).
        staging = f"{org}/projects/default/environments/staging"
        _ok(self.alice.patch(staging, json={"protected": True}), 200)
        request = {"flag": "fuzz", "environment": "staging", "changes": {"on": True}}
        made = self.alice.post(f"{org}/projects/default/change-requests", json=request)
        _ok(made, 201)
        self.values["request_id"] = str(made.json()["id"])
        self.restore()

    def restore(self) -> None:
        """Put back what a form may have changed (only what the forms' valid parts can)."""
        org, alice = f"/api/v1/orgs/{self.org}", self.alice
        flag = f"{org}/projects/default/flags/fuzz"
        # The environments page's settings form may have protected production.
        production = f"{org}/projects/default/environments/production"
        _ok(alice.patch(production, json={"protected": False}), 200)
        _ok(alice.patch(flag, json={"archived": False, "variations": FLAG["variations"]}), 200)
        _ok(alice.put(f"{flag}/environments/production", json=CONFIG), 200)
        segment = f"{org}/projects/default/environments/production/segments/beta"
        _ok(alice.put(segment, json=SEGMENT), 200, 201)
        _ok(
            alice.post(f"{org}/members", json={"email": "bob@example.com", "role": "viewer"}),
            201,
            409,
        )
        if not alice.get(f"{org}/invitations").json()["invitations"]:
            _ok(alice.post(f"{org}/invitations", json={"role": "viewer"}), 201)
        if not alice.get("/api/v1/tokens").json()["tokens"]:
            _ok(alice.post("/api/v1/tokens", json={"name": "fuzz"}), 201)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with contextlib.ExitStack() as stack:
        database: dict[str, Any] = {}
        if request.param == "postgresql":
            database["database_url"] = stack.enter_context(postgres_database())
        # Log-in throttling raised: the fuzzer sends many wrong passwords from one address.
        # The public URL is http://localhost:PORT, which passkeys accept (services/passkeys.py):
        # their options, sign-in and account forms are served, and so fuzzed, too.
        port = free_port()
        settings = Settings(
            base_url=f"http://localhost:{port}",
            data_dir=str(tmp_path_factory.mktemp("dashboard-fuzz") / "data"),
            secret_key="test-secret",
            login_failures_per_address=100_000,
            login_failures_per_account=100_000,
            login_failures_per_client=100_000,
            webhook_allow_private_addresses="true",  # the world's webhook points at loopback
            **database,
        )
        server = LiveServer(create_app(settings), port=port).start()
        yield server
        server.stop()


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    made = World(server.url)
    yield made
    made.alice.close()


class Site:
    """What the pages show: for each GET route the query parameters it takes (with a value
    seen for each), and the POST forms (each with the page it is on)."""

    def __init__(self, routes: list[Route], fuzzer: Fuzzer, values: dict[str, str]) -> None:
        self.routes = routes
        self.fuzzer = fuzzer
        self.query: dict[str, dict[str, str]] = {
            r.path: dict.fromkeys(names_read(r, _QUERY_READ), "1") for r in routes
        }
        self.forms: list[tuple[str, Form]] = []
        seen: set[tuple[Any, ...]] = set()
        for route in routes:
            if "GET" not in (route.methods or ()):
                continue
            page = fill(route, values)
            for form in self.read(page):
                if signature(form) not in seen:
                    seen.add(signature(form))
                    self.forms.append((page, form))

    def read(self, page: str) -> list[Form]:
        """The page's POST forms; its links and GET forms are noted as query parameters."""
        with self.fuzzer.client.stream("GET", page) as answer:
            if answer.headers.get("content-type", "").startswith("text/event-stream"):
                return []
            text = answer.read().decode()
        for href in re.findall(r'href="([^"]*\?[^"]*)"', text):
            self._note(urljoin(page, href.replace("&amp;", "&")), [])
        forms = page_forms(text)
        for form in forms:
            form.action = urljoin(page, form.action or page)
            if form.method == "get":
                self._note(form.action, form.fields)
        return [f for f in forms if f.method == "post"]

    def _note(self, url: str, fields: Pairs) -> None:
        parts = urlsplit(url)
        route = route_of(self.routes, parts.path, "GET")
        if route is not None:
            for name, value in [*parse_qsl(parts.query, keep_blank_values=True), *fields]:
                self.query[route.path][name] = value


def signature(form: Form) -> tuple[Any, ...]:
    """Forms that differ only in the row they act on (one per member, token, ...) are one."""
    hidden_action = dict(form.fields).get("action", "")
    return (urlsplit(form.action).path, hidden_action, tuple(n for n, _ in form.fields))


@pytest.fixture(scope="module")
def site(server: LiveServer, world: World) -> Site:
    return Site(dashboard_routes(server.app), Fuzzer(world.alice.http), world.values)


def test_every_page_answers_hostile_path_and_query_values_without_a_server_error(
    site: Site, world: World
) -> None:
    fuzzer = Fuzzer(world.alice.http)
    gets = [r for r in site.routes if "GET" in (r.methods or ())]
    for route in gets:
        page = fill(route, world.values)
        for name in route.param_convertors:
            for hostile in PATH_HOSTILE:
                fuzzer.send("GET", fill(route, world.values, **{name: hostile}))
        for name, value in sorted(site.query[route.path].items()):
            for pairs in mutations([(name, value)], 0):
                fuzzer.send("GET", page, pairs)
    assert len(gets) >= 15, "the dashboard's pages were not found in the app"
    assert {"page", "before", "env", "context"} <= {n for q in site.query.values() for n in q}
    assert not fuzzer.failures, f"{len(fuzzer.failures)} of {fuzzer.sent}:\n" + "\n".join(
        fuzzer.failures[:30]
    )


def kind(text: str) -> str:
    """Fields and buttons that differ only in a number (`r0.c1.values`, `remove:2`) are one
    kind: the fuzzer sends hostile values to the first of each kind."""
    return re.sub(r"[0-9]+", "#", text)


def _submit(fuzzer: Fuzzer, site: Site, page: str, form: Form, button: int | None) -> None:
    """The form sent with button `button` (or none): with the first, each field hostile in
    turn and the button's value; with the others, the button's value alone. After an answer
    that changed something (303, 204) the form is read again: it may name a new version."""
    path = urlsplit(form.action).path
    extra = [] if button is None else [form.buttons[button]]
    base = [*form.fields, *extra]
    first = 0 if not button else len(form.fields)
    done = {"csrf_token"}
    for i in range(first, len(base)):
        if kind(base[i][0]) in done:
            continue
        done.add(kind(base[i][0]))
        for pairs in mutations(base, i):
            if fuzzer.send("POST", path, form=pairs, what=base[i][0]) in (204, 303):
                again = [f for f in site.read(page) if signature(f) == signature(form)]
                if again:
                    base = [*again[0].fields, *extra]


def test_every_form_answers_hostile_fields_without_a_server_error(site: Site, world: World) -> None:
    fuzzer = Fuzzer(world.alice.http)
    forms = sorted(site.forms, key=lambda pf: urlsplit(pf[1].action).path == "/logout")
    posted: set[str] = set()
    for page, form in forms:
        path = urlsplit(form.action).path
        route = route_of(site.routes, path, "POST")
        assert route is not None, f"a form on {page} posts to {path}, which nothing serves"
        posted.add(route.path)
        kinds: dict[str, int] = {}
        for n, (name, value) in enumerate(form.buttons):
            kinds.setdefault(kind(f"{name}={value}"), n)
        for button in kinds.values() if form.buttons else [None]:
            _submit(fuzzer, site, page, form, button)
        for name in route.param_convertors:
            for hostile in PATH_HOSTILE:
                fuzzer.send("POST", fill(route, world.values, **{name: hostile}), form=form.fields)
        world.restore()
    # A POST route no page shows a form for gets the fields its module reads.
    csrf = dict(site.forms[0][1].fields)["csrf_token"]
    for route in site.routes:
        if "POST" in (route.methods or ()) and route.path not in posted:
            names = sorted(names_read(route, _FORM_READ))
            base = [("csrf_token", csrf), *((name, "1") for name in names)]
            for i in range(1, len(base)):
                for pairs in mutations(base, i):
                    fuzzer.send("POST", fill(route, world.values), form=pairs)
    assert len(forms) >= 20, "the dashboard's forms were not found"
    # Passkeys are on (the public URL allows them): their form was among those fuzzed.
    assert any(("action", "passkey-add") in f.fields for _, f in forms), "passkeys are off"
    assert not fuzzer.failures, f"{len(fuzzer.failures)} of {fuzzer.sent}:\n" + "\n".join(
        fuzzer.failures[:30]
    )
