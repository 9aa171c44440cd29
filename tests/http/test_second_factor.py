"""The second factor: TOTP set up from the account page, asked at log-in (one 30-second step
of clock skew either way accepted, two refused, no code twice), ten single-use recovery codes,
a remembered device, the organization setting that requires it, and seeds and codes never
stored in the clear."""

from __future__ import annotations

import logging
import re

import httpx
import pyotp
from sqlalchemy import text

from tests.support.api import signup

PASSWORD = "correct horse"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def browser(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, follow_redirects=False)


def log_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def second_step(client: httpx.Client, page: str, code: str, remember: bool = False):
    ticket = re.search(r'name="ticket" value="([^"]+)"', page)
    assert ticket, "no second step"
    data = {"ticket": ticket.group(1), "code": code, "csrf_token": csrf_of(page)}
    if remember:
        data["remember"] = "1"
    return client.post("/login/second-factor", data=data)


def enable(client: httpx.Client, clock) -> tuple[str, list[str]]:
    """Set up TOTP through the account page; the seed and the recovery codes shown."""
    page = client.get("/account").text
    begun = client.post("/account", data={"action": "2fa-begin", "csrf_token": csrf_of(page)})
    assert begun.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', begun.text).group(1)
    setup = re.search(r'name="setup" value="([^"]+)"', begun.text).group(1)
    assert "<svg" in begun.text, "a QR code to scan"
    wrong = client.post(
        "/account",
        data={
            "action": "2fa-enable",
            "setup": setup,
            "code": "000000",
            "csrf_token": csrf_of(page),
        },
    )
    if wrong.status_code == 422:  # (unless 000000 happens to be the code)
        assert "not the one the app shows" in wrong.text and secret in wrong.text
    code = pyotp.TOTP(secret).at(clock.now // 1000)
    done = client.post(
        "/account",
        data={"action": "2fa-enable", "setup": setup, "code": code, "csrf_token": csrf_of(page)},
    )
    assert done.status_code == 303, done.text
    shown = client.get("/account").text
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", shown)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "10 recovery codes left" in shown
    assert not re.findall(r"<li><code>", client.get("/account").text), "shown once"
    return secret, codes


def api_login(url: str, email: str, code: str | None = None) -> httpx.Response:
    body = {"email": email, "password": PASSWORD}
    if code is not None:
        body["code"] = code
    with httpx.Client(base_url=url, timeout=30) as c:
        return c.post("/api/v1/auth/login", json=body)


def test_codes_within_one_step_pass_two_steps_off_fail_and_none_twice(live_any_db, clock, caplog):
    caplog.set_level(logging.DEBUG)
    live = live_any_db
    signup(live.url, "ann@example.com", PASSWORD).close()
    with browser(live.url) as client:
        log_in(client, "ann@example.com")
        secret, codes = enable(client, clock)
    totp = pyotp.TOTP(secret)

    def code_at(steps: int) -> str:
        return totp.at(clock.now // 1000 + steps * 30)

    missing = api_login(live.url, "ann@example.com")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "second_factor_required"
    clock.advance(90)
    assert api_login(live.url, "ann@example.com", code_at(-1)).status_code == 200  # 30 s behind
    clock.advance(90)
    assert api_login(live.url, "ann@example.com", code_at(+1)).status_code == 200  # 30 s ahead
    clock.advance(90)
    for off in (-2, +2):
        refused = api_login(live.url, "ann@example.com", code_at(off))
        assert refused.status_code == 401, f"{off} steps off"
        assert refused.json()["error"]["code"] == "invalid_second_factor"
    now = code_at(0)
    assert api_login(live.url, "ann@example.com", now).status_code == 200
    assert api_login(live.url, "ann@example.com", now).status_code == 401, "never twice"

    # Recovery codes: each once, typed with or without its dash.
    assert api_login(live.url, "ann@example.com", codes[0]).status_code == 200
    assert api_login(live.url, "ann@example.com", codes[0]).status_code == 401
    assert (
        api_login(live.url, "ann@example.com", codes[1].replace("-", "").upper()).status_code == 200
    )

    # At rest: neither the seed nor a recovery code is stored as it is.
    with live.app.state.services.rt.db.connect() as conn:
        row = conn.execute(text("SELECT totp_secret FROM users WHERE email = 'ann@example.com'"))
        stored = row.scalar_one()
        hashes = [r[0] for r in conn.execute(text("SELECT code_hash FROM recovery_codes"))]
    assert secret not in stored and len(hashes) == 10
    for code in codes:
        assert all(code.replace("-", "") not in h for h in hashes)
    # Nor in any log of the server's (the test's own HTTP client logs what it sends).
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert secret not in logged and not any(c in logged for c in codes)


def test_the_log_in_page_asks_for_the_code_and_can_remember_the_device(live, clock):
    signup(live.url, "bea@example.com", PASSWORD).close()
    with browser(live.url) as client:
        log_in(client, "bea@example.com")
        secret, _ = enable(client, clock)
    clock.advance(60)
    with browser(live.url) as laptop:
        first = log_in(laptop, "bea@example.com")
        assert first.status_code == 200 and "Enter your code" in first.text
        assert laptop.get("/api/v1/me").status_code == 401, "no session before the code"
        wrong = second_step(laptop, first.text, "123456" if secret else "")
        assert wrong.status_code == 401 and "not valid" in wrong.text
        no_csrf = laptop.post(
            "/login/second-factor",
            data={"ticket": re.search(r'name="ticket" value="([^"]+)"', first.text).group(1),
                  "code": pyotp.TOTP(secret).now()},
        )  # fmt: skip
        assert no_csrf.status_code == 403
        forged = laptop.post(
            "/login/second-factor",
            data={"ticket": "1.99999999999999.beef", "code": "123456",
                  "csrf_token": csrf_of(first.text)},
        )  # fmt: skip
        assert forged.status_code == 303 and forged.headers["location"] == "/login?expired=1"
        done = second_step(laptop, first.text, pyotp.TOTP(secret).at(clock.now // 1000), True)
        assert done.status_code == 303
        assert laptop.get("/api/v1/me").status_code == 200
        assert "launchseq_device" in laptop.cookies
        # Logged out and back: this device is remembered, the password is enough.
        laptop.post("/logout", data={"csrf_token": csrf_of(laptop.get("/account").text)})
        assert laptop.get("/api/v1/me").status_code == 401
        again = log_in(laptop, "bea@example.com")
        assert again.status_code == 303, "no code asked on a remembered device"
    with browser(live.url) as other:
        assert log_in(other, "bea@example.com").status_code == 200, "another device is asked"


def test_turning_it_off_needs_the_password_and_a_code(live, clock):
    signup(live.url, "cal@example.com", PASSWORD).close()
    with browser(live.url) as client:
        log_in(client, "cal@example.com")
        secret, codes = enable(client, clock)
        clock.advance(60)
        page = client.get("/account").text
        wrong = client.post(
            "/account",
            data={"action": "2fa-disable", "password_2fa": "nope nope", "code_2fa": codes[0],
                  "csrf_token": csrf_of(page)},
        )  # fmt: skip
        assert wrong.status_code == 422 and "not your password" in wrong.text
        bad_code = client.post(
            "/account",
            data={"action": "2fa-disable", "password_2fa": PASSWORD, "code_2fa": "999999",
                  "csrf_token": csrf_of(page)},
        )  # fmt: skip
        assert bad_code.status_code == 422 and "not valid" in bad_code.text
        off = client.post(
            "/account",
            data={"action": "2fa-disable", "password_2fa": PASSWORD,
                  "code_2fa": pyotp.TOTP(secret).at(clock.now // 1000),
                  "csrf_token": csrf_of(page)},
        )  # fmt: skip
        assert off.status_code == 303
        assert "Set up a second factor" in client.get("/account").text
    assert api_login(live.url, "cal@example.com").status_code == 200


def test_an_organization_can_require_it_of_its_members(live, clock):
    owner = signup(live.url, "dee@example.com", PASSWORD)
    member = signup(live.url, "eve@example.com", PASSWORD)
    added = owner.post(
        f"/api/v1/orgs/{owner.org}/members", json={"email": "eve@example.com", "role": "admin"}
    )
    assert added.status_code == 201
    settings = f"/o/{owner.org}/settings"
    with browser(live.url) as dee, browser(live.url) as eve:
        log_in(dee, "dee@example.com")
        page = dee.get(settings).text
        assert "Members must use a second factor" in page
        too_soon = dee.post(
            settings,
            data={"action": "second-factor", "require_second_factor": "1",
                  "csrf_token": csrf_of(page)},
        )  # fmt: skip
        assert too_soon.status_code == 422 and "your own second factor first" in too_soon.text
        enable(dee, clock)
        page = dee.get(settings).text
        for token in (None, "wrong"):
            body = {"action": "second-factor", "require_second_factor": "1"}
            if token:
                body["csrf_token"] = token
            assert dee.post(settings, data=body).status_code == 403
        on = dee.post(
            settings,
            data={"action": "second-factor", "require_second_factor": "1",
                  "csrf_token": csrf_of(page)},
        )  # fmt: skip
        assert on.status_code == 303
        assert (
            "checked" in dee.get(settings).text.split("Members must use")[0].rsplit("<input", 1)[1]
        )

        refused = member.get(f"/api/v1/orgs/{owner.org}/projects")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "second_factor_required"
        assert member.get(f"/api/v1/orgs/{member.org}/projects").status_code == 200, "own org"
        log_in(eve, "eve@example.com")
        shown = eve.get(f"/o/{owner.org}")
        assert shown.status_code == 403 and "requires a second factor" in shown.text
        enable(eve, clock)
        assert eve.get(f"/o/{owner.org}").status_code == 200
        assert member.get(f"/api/v1/orgs/{owner.org}/projects").status_code == 200
        audit = owner.get(f"/api/v1/orgs/{owner.org}/audit").json()["entries"]
        assert "org.second_factor_required" in [e["action"] for e in audit]


def test_every_second_factor_form_needs_its_csrf_token(live, clock):
    signup(live.url, "fay@example.com", PASSWORD).close()
    with browser(live.url) as client:
        log_in(client, "fay@example.com")
        for action in ("2fa-begin", "2fa-enable", "2fa-disable"):
            for token in (None, "wrong"):
                body = {"action": action, "code": "123456", "password_2fa": PASSWORD}
                if token:
                    body["csrf_token"] = token
                assert client.post("/account", data=body).status_code == 403, action
        assert "Set up a second factor" in client.get("/account").text


def test_an_operator_turns_off_a_lost_second_factor(tmp_path):
    """`launchseq user reset-second-factor`: a real process on a real SQLite file."""
    from tests.http.test_cli import create_user, run

    data = tmp_path / "data"
    create_user("gus@example.com", PASSWORD, data_dir=data)
    none = run("user", "reset-second-factor", "--email", "gus@example.com", data_dir=data)
    assert "gus@example.com had none" in none.stdout
    from launchsequence.app import create_app
    from launchsequence.config import Settings

    app = create_app(Settings(data_dir=str(data)))
    services = app.state.services
    actor = services.accounts.actor_for_email("gus@example.com")
    secret = services.second_factor.begin(actor)
    services.second_factor.enable(actor, secret["setup"], pyotp.TOTP(secret["secret"]).now())
    assert services.second_factor.status(actor)["enabled"]
    done = run("user", "reset-second-factor", "--email", "gus@example.com", data_dir=data)
    assert "turned off the second factor of gus@example.com" in done.stdout
    assert not services.second_factor.status(actor)["enabled"]
    assert services.accounts.login(
        email="gus@example.com", password=PASSWORD, address="127.0.0.1"
    ).token.startswith("lss_"), "the password alone logs in again"
