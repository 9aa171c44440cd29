"""Single sign-on against a real OpenID provider (tests/oidc/provider.js) on loopback: the
whole redirect flow over HTTP, each refusal the issue names, linking, first sign-in into the
organizations that allow the domain, and "SSO required" for password log-in."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import create_engine, select

from launchsequence.app import create_app
from launchsequence.store.tables import sso_links
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer, free_port
from tests.support.oidc import CLIENT_SECRET, OidcProvider, oidc_provider, walk_to_callback

__all__ = ["oidc_provider"]  # the session fixture, used here

PROVIDERS = ("main", "claims", "nonce", "audience", "issuer")
PASSWORD = "correct horse"


@pytest.fixture
def live_sso(make_settings, clock, oidc_provider: OidcProvider) -> Iterator[LiveServer]:
    settings = make_settings(oidc_providers=oidc_provider.settings(*PROVIDERS))
    server = LiveServer(create_app(settings, clock=clock)).start()
    yield server
    server.stop()


def browser() -> httpx.Client:
    """A person's browser: its own cookie jar, redirects followed by the walk."""
    return httpx.Client(timeout=30, follow_redirects=False)


def sso(live: LiveServer, provider: str, login: str, http: httpx.Client | None = None) -> str:
    """Start a sign-in with `provider` and log in there as `login`: the callback URL."""
    http = http or browser()
    return walk_to_callback(http, f"{live.url}/login/sso/{provider}", login, live.url)


def finish(http: httpx.Client, callback: str) -> httpx.Response:
    return http.get(callback)


def signed_in(http: httpx.Client, live: LiveServer) -> str | None:
    """The email the browser is signed in as, or None."""
    me = http.get(f"{live.url}/api/v1/me")
    return me.json()["user"]["email"] if me.status_code == 200 else None


def refusal(answer: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of a refusal page."""
    found = re.search(r'role="alert" data-code="([a-z_]+)">([^<]*)<', answer.text)
    assert found, answer.text[:500]
    return answer.status_code, found.group(1), found.group(2)


def without(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name]
    return urlunsplit(parts._replace(query=urlencode(query)))


def replaced(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, value if k == name else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def allow(owner: ApiUser, domains: list[str], role: str = "viewer", required: bool = False):
    answer = owner.put(
        f"/api/v1/orgs/{owner.org}/sso",
        json={"allowed_domains": domains, "default_role": role, "required": required},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_login_page_offers_each_provider(live_sso):
    page = httpx.get(f"{live_sso.url}/login?next=/o/x")
    for name in PROVIDERS:
        assert f'href="/login/sso/{name}?next=/o/x"' in page.text
        assert f"Sign in with Test IdP {name}" in page.text
    assert "Sign in with Test IdP main" in httpx.get(f"{live_sso.url}/signup").text


def test_an_existing_account_with_the_verified_email_signs_in_and_is_linked(live_sso, tmp_path):
    bob = signup(live_sso.url, "bob@acme.test")
    http = browser()
    start = http.get(f"{live_sso.url}/login/sso/main")
    flow_cookie = start.headers["set-cookie"]
    assert "launchseq_sso=" in flow_cookie and "httponly" in flow_cookie.lower()
    assert "samesite=lax" in flow_cookie.lower() and "Path=/login/sso" in flow_cookie
    authorize = urlsplit(start.headers["location"])
    query = dict(parse_qsl(authorize.query))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["state"] != query["nonce"]
    assert query["scope"] == "openid email profile" and "code_verifier" not in query

    callback = walk_to_callback(http, f"{live_sso.url}/login/sso/main", "bob", live_sso.url)
    landed = finish(http, callback)
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == f"/o/{bob.org}"
    assert signed_in(http, live_sso) == "bob@acme.test"
    # The flow cookie is gone with the answer: the callback cannot be replayed.
    assert finish(http, callback).status_code == 400

    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'launchsequence.db'}")
    with engine.connect() as conn:
        links = conn.execute(select(sso_links.c.provider, sso_links.c.subject)).all()
    engine.dispose()
    assert [tuple(link) for link in links] == [("main", "bob")]

    # Signed in again later, by the link: the same account.
    again = browser()
    assert finish(again, sso(live_sso, "main", "bob", again)).status_code == 303
    assert signed_in(again, live_sso) == "bob@acme.test"


def test_a_new_person_joins_the_organizations_that_allow_their_domain(live_sso):
    owner = signup(live_sso.url, "owner@acme.test")
    other = signup(live_sso.url, "other@else.test")
    assert allow(owner, ["ACME.test", "acme.test"], role="admin")["allowed_domains"] == [
        "acme.test"
    ]
    allow(other, ["else.test"])
    http = browser()
    # `claims`: this provider puts the email in the ID token itself (no userinfo call).
    landed = finish(http, sso(live_sso, "claims", "alice", http))
    assert landed.status_code == 303 and landed.headers["location"] == f"/o/{owner.org}"
    assert signed_in(http, live_sso) == "alice@acme.test"
    orgs = http.get(f"{live_sso.url}/api/v1/orgs").json()["organizations"]
    assert [(o["key"], o["role"]) for o in orgs] == [(owner.org, "admin")]
    members = owner.get(f"/api/v1/orgs/{owner.org}/members").json()["members"]
    assert {"email": "alice@acme.test", "name": "Alice Acme", "role": "admin"} in [
        {k: m[k] for k in ("email", "name", "role")} for m in members
    ]
    actions = [
        (e["action"], e["actor"])
        for e in owner.get(f"/api/v1/orgs/{owner.org}/audit").json()["entries"]
    ]
    assert ("member.joined_by_sso", "alice@acme.test") in actions
    assert ("org.sso_changed", "owner@acme.test") in actions
    # An account made by single sign-on has no password that works.
    for password in ("", "!sso", PASSWORD):
        login = httpx.post(
            f"{live_sso.url}/api/v1/auth/login",
            json={"email": "alice@acme.test", "password": password},
        )
        assert login.status_code == 401


def test_a_domain_no_organization_allows_is_refused_without_an_account(live_sso):
    signup(live_sso.url, "owner@acme.test")  # allows nothing
    http = browser()
    answer = finish(http, sso(live_sso, "main", "olga", http))
    status, code, message = refusal(answer)
    assert (status, code) == (403, "not_allowed")
    assert "cannot open an account here" in message
    assert signed_in(http, live_sso) is None
    assert (
        httpx.post(
            f"{live_sso.url}/api/v1/auth/login",
            json={"email": "olga@elsewhere.test", "password": PASSWORD},
        ).status_code
        == 401
    )


def test_an_unverified_email_is_refused_the_same_whether_or_not_an_account_exists(live_sso):
    signup(live_sso.url, "uma@acme.test")  # uma has an account; ursula has none
    answers = []
    for login in ("uma", "ursula"):
        http = browser()
        answer = finish(http, sso(live_sso, "main", login, http))
        assert signed_in(http, live_sso) is None
        answers.append(refusal(answer))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (403, "email_not_verified")
    assert "has not verified your email" in answers[0][2]


Tamper = Callable[[str], str]

REFUSALS: dict[str, tuple[str, Tamper, str, str]] = {
    # name: (provider, change to the callback URL, code, words the person reads)
    "wrong issuer named in the answer": ("issuer", lambda u: u, "wrong_issuer", "issuer"),
    "wrong issuer in the ID token": (
        "issuer",
        lambda u: without(u, "iss"),
        "wrong_issuer",
        "issuer mismatch",
    ),
    "wrong audience": ("audience", lambda u: u, "wrong_audience", "audience mismatch"),
    "wrong nonce": ("nonce", lambda u: u, "wrong_nonce", "nonce mismatch"),
    "wrong state": ("main", lambda u: replaced(u, "state", "forged"), "bad_state", "not started"),
    "missing state": ("main", lambda u: without(u, "state"), "bad_state", "not started"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_forged_or_mixed_up_answer_is_refused(live_sso, case):
    bob = signup(live_sso.url, "bob@acme.test")  # the account the answer would open
    provider, tamper, code, words = REFUSALS[case]
    http = browser()
    answer = finish(http, tamper(sso(live_sso, provider, "bob", http)))
    status, got, message = refusal(answer)
    assert (status, got) == (400, code), message
    assert words in message
    assert "lss_" not in answer.headers.get("set-cookie", "")
    assert signed_in(http, live_sso) is None
    assert bob.get("/api/v1/me").status_code == 200  # the real session is untouched


def test_an_answer_delivered_to_another_browser_is_refused(live_sso):
    signup(live_sso.url, "bob@acme.test")
    callback = sso(live_sso, "main", "bob")
    stranger = browser()  # has no flow cookie: a login-CSRF attempt with bob's code
    status, code, _ = refusal(finish(stranger, callback))
    assert (status, code) == (400, "bad_state")
    assert signed_in(stranger, live_sso) is None


def test_an_expired_id_token_is_refused(live_sso, clock):
    signup(live_sso.url, "bob@acme.test")
    http = browser()
    callback = sso(live_sso, "main", "bob", http)
    # The provider's ID tokens live 60 s; this server's clock is now 3 minutes ahead (more
    # than the 60 s leeway past that), still within the 10 minutes a sign-in may take.
    clock.jump(180)
    status, code, message = refusal(finish(http, callback))
    assert (status, code) == (400, "expired")
    assert "has expired" in message
    assert signed_in(http, live_sso) is None


def test_a_sign_in_left_too_long_at_the_provider_is_refused(live_sso, clock):
    signup(live_sso.url, "bob@acme.test")
    http = browser()
    callback = sso(live_sso, "main", "bob", http)
    clock.jump(11 * 60)
    assert refusal(finish(http, callback))[:2] == (400, "bad_state")


def test_sso_required_refuses_a_members_password_and_not_an_owners(live_sso):
    owner = signup(live_sso.url, "owner@acme.test")
    bob = signup(live_sso.url, "bob@acme.test")
    added = owner.post(
        f"/api/v1/orgs/{owner.org}/members", json={"email": bob.email, "role": "admin"}
    )
    assert added.status_code == 201
    allow(owner, [], required=True)

    def api_login(email: str, password: str = PASSWORD) -> httpx.Response:
        return httpx.post(
            f"{live_sso.url}/api/v1/auth/login", json={"email": email, "password": password}
        )

    refused = api_login("bob@acme.test")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "sso_required"
    # A wrong password still says only that: nothing about SSO, nothing about the account.
    wrong = api_login("bob@acme.test", "not the password")
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    # The log-in page says why, next to the button to use instead.
    http = httpx.Client(base_url=live_sso.url, timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text)
    assert csrf
    page = http.post(
        "/login",
        data={"csrf_token": csrf.group(1), "email": "bob@acme.test", "password": PASSWORD},
    )
    assert page.status_code == 401
    assert "requires single sign-on" in page.text
    assert "Sign in with Test IdP main" in page.text
    # Break-glass: an owner keeps their password.
    assert api_login("owner@acme.test").status_code == 200
    # Bob signs in with SSO instead.
    sso_browser = browser()
    assert finish(sso_browser, sso(live_sso, "main", "bob", sso_browser)).status_code == 303
    assert signed_in(sso_browser, live_sso) == "bob@acme.test"
    # Lifting the requirement gives the password back.
    allow(owner, [], required=False)
    assert api_login("bob@acme.test").status_code == 200


def test_no_secret_code_or_token_reaches_the_logs(live_sso, caplog):
    caplog.set_level(logging.DEBUG)
    signup(live_sso.url, "bob@acme.test")
    http = browser()
    callback = sso(live_sso, "main", "bob", http)
    answer = dict(parse_qsl(urlsplit(callback).query))
    assert finish(http, callback).status_code == 303
    refused = browser()
    finish(refused, sso(live_sso, "nonce", "bob", refused))
    # What the server logged (its threads): the test's own client logs the URLs it requests.
    here = threading.get_ident()
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if r.thread != here)
    assert "sso: sign-in with nonce refused: wrong_nonce" in logged
    session = http.cookies["launchseq_session"]
    for secret in (CLIENT_SECRET, answer["code"], answer["state"], session):
        assert secret not in logged


def test_a_provider_can_name_another_email_verified_claim(make_settings, clock, oidc_provider):
    """Entra ID attests emails in `xms_edov`: a provider configured so reads only that claim,
    and this test provider does not send it: refused, though its `email_verified` is true."""
    config = json.loads(oidc_provider.settings("main"))
    config[0]["email_verified_claim"] = "xms_edov"
    server = LiveServer(
        create_app(make_settings(oidc_providers=json.dumps(config)), clock=clock)
    ).start()
    try:
        signup(server.url, "bob@acme.test")
        http = browser()
        answer = finish(http, sso(server, "main", "bob", http))
        assert refusal(answer)[:2] == (403, "email_not_verified")
    finally:
        server.stop()


def test_a_provider_unreachable_or_naming_another_issuer_is_refused_at_the_start(
    make_settings, clock, oidc_provider
):
    config = json.loads(oidc_provider.settings("main", "claims"))
    config[0]["issuer"] = f"http://127.0.0.1:{free_port()}/gone"  # nothing listens there
    config[1]["issuer"] += "/"  # its discovery document names the issuer without the slash
    server = LiveServer(
        create_app(make_settings(oidc_providers=json.dumps(config)), clock=clock)
    ).start()
    try:
        for provider, code in (("main", "provider_unreachable"), ("claims", "wrong_issuer")):
            answer = httpx.get(f"{server.url}/login/sso/{provider}")
            assert refusal(answer)[:2] == (400, code)
            assert "launchseq_sso=" not in answer.headers.get("set-cookie", "").replace(
                'launchseq_sso=""', ""
            )
        assert httpx.get(f"{server.url}/login/sso/nobody").status_code == 404
    finally:
        server.stop()


def test_the_settings_are_for_admins_and_owners_and_checked(live_sso):
    owner = signup(live_sso.url, "owner@acme.test")
    viewer = signup(live_sso.url, "viewer@acme.test")
    owner.post(f"/api/v1/orgs/{owner.org}/members", json={"email": viewer.email, "role": "viewer"})
    base = f"/api/v1/orgs/{owner.org}/sso"
    assert viewer.get(base).json() == {
        "allowed_domains": [],
        "default_role": "viewer",
        "required": False,
    }
    body = {"allowed_domains": ["acme.test"], "default_role": "admin", "required": True}
    denied = viewer.put(base, json=body)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "read_only"
    for bad in (
        {**body, "allowed_domains": ["not a domain"]},
        {**body, "allowed_domains": ["@"]},
        {**body, "default_role": "owner"},
        {**body, "required": "yes"},
        {**body, "allowed_domains": [f"d{n}.test" for n in range(51)]},
    ):
        answer = owner.put(base, json=bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert owner.get(base).json()["allowed_domains"] == []

    # The settings page: a form with CSRF, read-only for the viewer.
    http = httpx.Client(base_url=live_sso.url, timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text)
    assert csrf
    http.post(
        "/login",
        data={"csrf_token": csrf.group(1), "email": "owner@acme.test", "password": PASSWORD},
    )
    page = http.get(f"/o/{owner.org}/settings/sso")
    assert page.status_code == 200
    assert f"{live_sso.url}/login/sso/main/callback" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    form = {"allowed_domains": "acme.test\nexample.org", "default_role": "admin", "required": "1"}
    forged = http.post(f"/o/{owner.org}/settings/sso", data=form)
    assert forged.status_code == 403
    assert owner.get(base).json()["allowed_domains"] == []
    saved = http.post(f"/o/{owner.org}/settings/sso", data={**form, "csrf_token": token.group(1)})
    assert saved.status_code == 303
    assert owner.get(base).json() == {
        "allowed_domains": ["acme.test", "example.org"],
        "default_role": "admin",
        "required": True,
    }
    viewer_page = viewer.get(f"/o/{owner.org}/settings/sso")
    assert "Only admins and owners can change these" in viewer_page.text


def test_an_sso_sign_in_counts_as_the_second_factor_an_organization_requires(live_sso, clock):
    """The decision (docs/accounts.md, "Single sign-on and the second factor"): in an
    organization that uses single sign-on, the provider is trusted with the person's second
    factor. A member with none of their own is refused the organization after a password
    log-in and through their API token, and let in after signing in with SSO, but only once
    the organization uses SSO; one who has TOTP is not asked for a code after SSO."""
    from tests.http.test_second_factor import csrf_of, enable, log_in

    owner = signup(live_sso.url, "owner@acme.test", PASSWORD)
    bob = signup(live_sso.url, "bob@acme.test", PASSWORD)
    added = owner.post(
        f"/api/v1/orgs/{owner.org}/members", json={"email": bob.email, "role": "admin"}
    )
    assert added.status_code == 201
    settings = f"/o/{owner.org}/settings"
    with httpx.Client(base_url=live_sso.url, timeout=30) as dee:
        log_in(dee, "owner@acme.test")
        enable(dee, clock)
        page = dee.get(settings).text
        on = dee.post(
            settings,
            data={"action": "second-factor", "require_second_factor": "1",
                  "csrf_token": csrf_of(page)},
        )  # fmt: skip
        assert on.status_code == 303

    projects = f"{live_sso.url}/api/v1/orgs/{owner.org}/projects"
    # A password session without a second factor: refused.
    refused = bob.get(projects)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "second_factor_required"
    # The same person signed in through the provider, while the organization does not use
    # single sign-on: no provider answers for its members, so still refused.
    http = browser()
    assert finish(http, sso(live_sso, "main", "bob", http)).status_code == 303
    not_ours = http.get(projects)
    assert not_ours.status_code == 403
    assert not_ours.json()["error"]["code"] == "second_factor_required"
    assert http.get(f"{live_sso.url}/o/{owner.org}").status_code == 403
    # Once it takes its members' domain through SSO: let in, pages and API alike.
    allow(owner, ["acme.test"])
    assert http.get(projects).status_code == 200
    assert http.get(f"{live_sso.url}/o/{owner.org}").status_code == 200
    assert "with single sign-on" in http.get(f"{live_sso.url}/account/sessions").text
    # A personal API token says nothing of how its owner signs in: refused.
    token = bob.post("/api/v1/tokens", json={"name": "ci"}).json()["token"]
    with_token = httpx.get(projects, headers={"Authorization": f"Bearer {token}"})
    assert with_token.status_code == 403
    assert with_token.json()["error"]["code"] == "second_factor_required"

    # With TOTP of his own, a sign-in with SSO still asks for no code, and his password
    # log-in does (and then reaches the organization).
    with httpx.Client(base_url=live_sso.url, timeout=30) as own:
        log_in(own, "bob@acme.test")
        enable(own, clock)
    again = browser()
    landed = finish(again, sso(live_sso, "main", "bob", again))
    assert landed.status_code == 303 and landed.headers["location"].startswith("/o/")
    assert again.get(projects).status_code == 200
    with httpx.Client(base_url=live_sso.url, timeout=30) as pw:
        asked = log_in(pw, "bob@acme.test")
        assert asked.status_code == 200 and "Enter your code" in asked.text


def test_an_owner_signed_in_with_sso_may_require_a_second_factor_only_where_sso_is_used(
    live_sso,
):
    """Requiring a second factor asks the owner to have one, counted as for entering: a
    session from single sign-on counts only in an organization that uses it."""
    from tests.http.test_second_factor import csrf_of

    alice = signup(live_sso.url, "alice@acme.test", PASSWORD)
    settings = f"{live_sso.url}/o/{alice.org}/settings"
    http = browser()
    assert finish(http, sso(live_sso, "main", "alice", http)).status_code == 303

    def require() -> httpx.Response:
        page = http.get(settings).text
        return http.post(
            settings,
            data={"action": "second-factor", "require_second_factor": "1",
                  "csrf_token": csrf_of(page)},
        )  # fmt: skip

    refused = require()
    assert refused.status_code == 422
    assert "set up your own second factor first" in refused.text
    allow(alice, ["acme.test"])
    assert require().status_code == 303
    assert http.get(f"{live_sso.url}/api/v1/orgs/{alice.org}/projects").status_code == 200
    # Her password session has no second factor of its own: refused, as for any member.
    assert alice.get(f"/api/v1/orgs/{alice.org}/projects").status_code == 403
