"""Accounts as a user meets them over HTTP: cookies, sessions, CSRF, throttling, API tokens.

Every password check costs an argon2 hash (~0.25 s here), so each test logs in only as often
as the behaviour it shows needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from launchsequence.app import create_app
from tests.support.api import signup
from tests.support.live import LiveServer

COOKIE = "launchseq_session"
PASSWORD = "correct horse"
EVIL = "https://evil.example"


@pytest.fixture
def serve(make_settings: Callable[..., Any], clock: Any) -> Iterator[Callable[..., LiveServer]]:
    """Start the app with settings overrides (one server per test: they share a data dir)."""
    servers: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        server = LiveServer(create_app(make_settings(**overrides), clock=clock)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client(base_url: str, session: str | None = None, **headers: str) -> httpx.Client:
    """A fresh client; `session` is sent as the cookie by hand, as a replaying attacker would."""
    if session is not None:
        headers["Cookie"] = f"{COOKIE}={session}"
    return httpx.Client(base_url=base_url, timeout=30, headers=headers)


def session_cookie(response: httpx.Response) -> tuple[str, set[str]]:
    """The session token and the lowercased attributes of its Set-Cookie header."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        if name == COOKIE:
            return value, {a.lower() for a in attributes}
    raise AssertionError(f"no {COOKIE} cookie in {response.headers.get_list('set-cookie')}")


def login(base_url: str, email: str, password: str = PASSWORD, **kwargs: Any) -> httpx.Response:
    with client(base_url) as http:
        return http.post(
            "/api/v1/auth/login", json={"email": email, "password": password}, **kwargs
        )


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


def me_status(base_url: str, session: str) -> httpx.Response:
    with client(base_url, session) as http:
        return http.get("/api/v1/me")


# --- cookies ---------------------------------------------------------------------------------


def test_signup_sets_an_httponly_lax_cookie_and_keeps_the_token_out_of_the_body(live):
    with client(live.url) as http:
        response = http.post(
            "/api/v1/auth/signup", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        token, attributes = session_cookie(response)
        assert token.startswith("lss_")
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert "secure" not in attributes  # plain http with secure_cookies=auto
        assert token not in response.text
        assert response.json()["csrf_token"]
        assert response.json()["user"]["email"] == "ada@example.com"
        assert http.get("/api/v1/me").status_code == 200


def test_cookie_is_secure_when_configured(serve):
    server = serve(secure_cookies="true")
    with client(server.url) as http:
        response = http.post(
            "/api/v1/auth/signup", json={"email": "ada@example.com", "password": PASSWORD}
        )
    assert response.status_code == 201, response.text
    _, attributes = session_cookie(response)
    assert {"secure", "httponly", "samesite=lax"} <= attributes


# --- sessions --------------------------------------------------------------------------------


def test_login_rotates_the_session_and_its_csrf_token(live):
    user = signup(live.url, "ada@example.com")
    old_token = user.http.cookies[COOKIE]
    old_csrf = user.csrf

    # The browser still holds the old cookie when it logs in again.
    response = user.http.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    new_token, _ = session_cookie(response)
    new_csrf = response.json()["csrf_token"]
    assert new_token != old_token
    assert new_csrf != old_csrf
    assert new_token not in response.text

    assert me_status(live.url, new_token).status_code == 200
    replay = me_status(live.url, old_token)
    assert replay.status_code == 401
    assert error(replay)["code"] == "unauthorized"

    # The old CSRF token does not work with the new session.
    base = f"/api/v1/orgs/{user.org}/projects/default/flags"
    stale = user.http.post(base, json={"key": "a"}, headers={"X-CSRF-Token": old_csrf})
    assert stale.status_code == 403
    fresh = user.http.post(base, json={"key": "a"}, headers={"X-CSRF-Token": new_csrf})
    assert fresh.status_code == 201, fresh.text


def test_logout_ends_the_session_on_the_server(live):
    user = signup(live.url, "ada@example.com")
    token = user.http.cookies[COOKIE]

    # Log-out is itself an unsafe request: without the CSRF token it is refused.
    assert user.http.post("/api/v1/auth/logout").status_code == 403
    assert me_status(live.url, token).status_code == 200

    response = user.post("/api/v1/auth/logout")
    assert response.status_code == 204
    _, attributes = session_cookie(response)
    assert "max-age=0" in attributes or any(a.startswith("expires=") for a in attributes)

    # Someone who copied the cookie before log-out cannot use it.
    replay = me_status(live.url, token)
    assert replay.status_code == 401
    assert error(replay)["code"] == "unauthorized"
    assert user.get("/api/v1/me").status_code == 401


def test_idle_session_expires_but_a_used_one_lives_on(live, clock):
    user = signup(live.url, "ada@example.com")
    token = user.http.cookies[COOKIE]

    # Used just before the idle limit, twice: it stays alive, as use resets the idle timer.
    for _ in range(2):
        clock.advance(719 * 60)
        assert me_status(live.url, token).status_code == 200

    clock.advance(721 * 60)
    expired = me_status(live.url, token)
    assert expired.status_code == 401
    assert error(expired)["code"] == "session_expired"
    # Expired sessions are deleted: going back in time does not revive it.
    clock.advance(-721 * 60)
    assert me_status(live.url, token).status_code == 401


def test_session_in_constant_use_still_expires_after_the_absolute_limit(serve, clock):
    server = serve(session_idle_minutes=30, session_absolute_hours=2)
    user = signup(server.url, "ada@example.com")
    token = user.http.cookies[COOKIE]

    elapsed = 0
    while elapsed + 10 < 120:
        clock.advance(10 * 60)
        elapsed += 10
        response = me_status(server.url, token)
        assert response.status_code == 200, f"after {elapsed} minutes: {response.text}"

    clock.advance(20 * 60)  # 130 minutes after log-in, 20 after the last use
    expired = me_status(server.url, token)
    assert expired.status_code == 401
    assert error(expired)["code"] == "session_expired"


# --- CSRF ------------------------------------------------------------------------------------


def test_cookie_requests_need_the_csrf_token_and_a_same_site_origin(live):
    user = signup(live.url, "ada@example.com")
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"

    refused = [
        ("no token", {}),
        ("wrong token", {"X-CSRF-Token": "0" * len(user.csrf)}),
        ("tampered token", {"X-CSRF-Token": user.csrf[:-1] + "x"}),
        ("right token, foreign Origin", {"X-CSRF-Token": user.csrf, "Origin": EVIL}),
        ("right token, null Origin", {"X-CSRF-Token": user.csrf, "Origin": "null"}),
        ("right token, foreign Referer", {"X-CSRF-Token": user.csrf, "Referer": f"{EVIL}/x"}),
    ]
    for i, (why, headers) in enumerate(refused):
        response = user.http.post(flags, json={"key": f"refused-{i}"}, headers=headers)
        assert response.status_code == 403, why
        assert error(response)["code"] == "csrf_failed", why

    same_origin = {"X-CSRF-Token": user.csrf, "Origin": live.url}
    created = user.http.post(flags, json={"key": "accepted"}, headers=same_origin)
    assert created.status_code == 201, created.text
    with_referer = {"X-CSRF-Token": user.csrf, "Referer": f"{live.url}/app/flags"}
    created = user.http.post(flags, json={"key": "accepted-2"}, headers=with_referer)
    assert created.status_code == 201, created.text

    keys = [f["key"] for f in user.get(flags).json()["flags"]]
    assert sorted(keys) == ["accepted", "accepted-2"]
    entries = user.get(f"/api/v1/orgs/{user.org}/audit").json()["entries"]
    assert not any("refused" in str(entry) for entry in entries)


def test_bearer_tokens_need_no_csrf_token(live):
    user = signup(live.url, "ada@example.com")
    token = user.post("/api/v1/tokens", json={"name": "ci"}).json()["token"]
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"
    with client(live.url, Authorization=f"Bearer {token}") as http:
        response = http.post(flags, json={"key": "from-ci"})
        assert response.status_code == 201, response.text
        assert [f["key"] for f in http.get(flags).json()["flags"]] == ["from-ci"]


def test_login_and_signup_from_a_foreign_origin_are_refused(live):
    with client(live.url, Origin=EVIL) as http:
        body = {"email": "ada@example.com", "password": PASSWORD}
        response = http.post("/api/v1/auth/signup", json=body)
        assert response.status_code == 403
        assert error(response)["code"] == "csrf_failed"
        assert COOKIE not in response.headers.get("set-cookie", "")

    # Nothing was created: the same email signs up normally afterwards.
    user = signup(live.url, "ada@example.com")
    refused = login(live.url, "ada@example.com", headers={"Origin": EVIL})
    assert refused.status_code == 403
    assert error(refused)["code"] == "csrf_failed"
    assert "set-cookie" not in refused.headers
    assert user.get("/api/v1/me").status_code == 200


# --- throttling ------------------------------------------------------------------------------


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert error(response)["code"] == "too_many_requests"
    value = response.headers["retry-after"]
    assert value.isdigit() and int(value) > 0, value
    return int(value)


def test_failed_logins_are_throttled_per_email_and_address_and_per_address(serve, clock):
    server = serve(
        login_failures_per_client=3, login_failures_per_address=5, login_window_seconds=60
    )
    signup(server.url, "ada@example.com").close()
    signup(server.url, "bob@example.com").close()

    for _ in range(3):
        assert login(server.url, "ada@example.com", "wrong password").status_code == 401
    # The 4th attempt is refused even with the right password, and says when to come back.
    assert 0 < retry_after(login(server.url, "ada@example.com")) <= 60
    assert login(server.url, "ADA@example.com ", "wrong password").status_code == 429
    clock.advance(30)
    assert retry_after(login(server.url, "ada@example.com")) <= 30

    # Another account from the same address is not locked out by Ada's failures...
    assert login(server.url, "bob@example.com").status_code == 200
    # ...until the address as a whole reaches its limit (3 + 2 = 5 failures).
    for _ in range(2):
        assert login(server.url, "bob@example.com", "wrong password").status_code == 401
    retry_after(login(server.url, "bob@example.com"))
    retry_after(login(server.url, "nobody@example.com"))

    # Once the window has passed, the right password works again for both.
    clock.advance(61)
    assert login(server.url, "ada@example.com").status_code == 200
    assert login(server.url, "bob@example.com").status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(live):
    signup(live.url, "ada@example.com").close()
    wrong_password = login(live.url, "ada@example.com", "not the password")
    unknown_email = login(live.url, "nobody@example.com", "not the password")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert error(wrong_password)["code"] == "invalid_credentials"

    def headers(response: httpx.Response) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in response.headers.multi_items() if k != "date")

    assert headers(wrong_password) == headers(unknown_email)
    assert "set-cookie" not in wrong_password.headers


# --- API tokens ------------------------------------------------------------------------------


def test_api_tokens_work_are_listed_by_prefix_and_revoke_at_once(live):
    ada = signup(live.url, "ada@example.com")
    bob = signup(live.url, "bob@example.com")
    created = ada.post("/api/v1/tokens", json={"name": "deploy bot"})
    assert created.status_code == 201, created.text
    token, token_id = created.json()["token"], created.json()["id"]
    assert token.startswith("lst_")

    with client(live.url, Authorization=f"Bearer {token}") as bearer:
        me = bearer.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json()["user"]["email"] == "ada@example.com"
        assert "csrf_token" not in me.json()

        listed = ada.get("/api/v1/tokens")
        assert listed.status_code == 200
        assert token not in listed.text
        [row] = listed.json()["tokens"]
        assert row["id"] == token_id
        assert row["name"] == "deploy bot"
        assert token.startswith(row["prefix"]) and len(row["prefix"]) < len(token)
        assert "token" not in row
        assert bob.get("/api/v1/tokens").json()["tokens"] == []

        # Another user cannot revoke it: it does not exist for them.
        stolen = bob.delete(f"/api/v1/tokens/{token_id}")
        assert stolen.status_code == 404
        assert error(stolen)["code"] == "not_found"
        assert bearer.get("/api/v1/me").status_code == 200

        for bad_id in ("0", "99999999999999999999", "abc"):
            assert ada.delete(f"/api/v1/tokens/{bad_id}").status_code in (404, 422), bad_id

        assert ada.delete(f"/api/v1/tokens/{token_id}").status_code == 204
        gone = bearer.get("/api/v1/me")
        assert gone.status_code == 401
        assert error(gone)["code"] == "unauthorized"
        assert ada.get("/api/v1/tokens").json()["tokens"] == []
        assert ada.delete(f"/api/v1/tokens/{token_id}").status_code == 404

    for header in ("Bearer", "Bearer lst_nope", "Basic abc", f"bearer {token}x"):
        with client(live.url, Authorization=header) as http:
            assert http.get("/api/v1/me").status_code == 401, header


# --- passwords and emails --------------------------------------------------------------------


def test_password_length_limits(live):
    def attempt(email: str, password: str) -> httpx.Response:
        with client(live.url) as http:
            return http.post("/api/v1/auth/signup", json={"email": email, "password": password})

    for length in (7, 257):
        response = attempt(f"len{length}@example.com", "x" * length)
        assert response.status_code == 422, length
        assert error(response)["field"] == "password"
        assert "set-cookie" not in response.headers
    assert attempt("len256@example.com", "y" * 256).status_code == 201
    assert login(live.url, "len7@example.com", "x" * 7).status_code == 401  # never created


def test_unicode_passwords_work_for_login(live):
    password = "pässwörd 密码 🚀"
    signup(live.url, "ada@example.com", password=password).close()
    assert login(live.url, "ada@example.com", password).status_code == 200
    assert login(live.url, "ada@example.com", "passwort 密码 🚀").status_code == 401


def test_emails_are_unique_and_case_insensitive(live):
    signup(live.url, "Ada@Example.com").close()
    with client(live.url) as http:
        taken = http.post(
            "/api/v1/auth/signup", json={"email": "ada@example.COM", "password": "another one"}
        )
    assert taken.status_code == 409
    assert error(taken)["code"] == "email_taken"

    response = login(live.url, "ada@example.com")
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == "ada@example.com"
