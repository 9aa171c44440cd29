"""Password reset by email, through a real SMTP server on loopback: the link works once, for
30 minutes, leaves no token in a URL the pages are shown at nor in any log, ends every
session, and the form answers the same whether or not the address has an account."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from launchsequence.app import create_app
from tests.support.api import signup
from tests.support.live import LiveServer, free_port
from tests.support.smtp import Inbox, link_in, smtp_server

PASSWORD = "correct horse"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


def serve_with_mail(make_settings, clock, inbox, **extra) -> LiveServer:
    port = free_port()
    settings = make_settings(
        **extra,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_tls="none",
        mail_from="Launch Sequence <flags@example.test>",
        base_url=f"http://127.0.0.1:{port}",
    )
    return LiveServer(create_app(settings, clock=clock), port=port).start()


@pytest.fixture
def mail_live(make_settings, clock, inbox) -> Iterator[LiveServer]:
    server = serve_with_mail(make_settings, clock, inbox)
    yield server
    server.stop()


@pytest.fixture
def mail_live_any_db(make_settings, clock, inbox, database_url) -> Iterator[LiveServer]:
    """On SQLite, then on PostgreSQL."""
    server = serve_with_mail(make_settings, clock, inbox, database_url=database_url)
    yield server
    server.stop()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def browser(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, follow_redirects=False)


def ask_reset(client: httpx.Client, email: str) -> httpx.Response:
    token = csrf_of(client.get("/forgot").text)
    return client.post("/forgot", data={"email": email, "csrf_token": token})


def visible_text(html: str) -> str:
    main = html.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).strip()


def login(url: str, email: str, password: str) -> int:
    with httpx.Client(base_url=url, timeout=30) as c:
        return c.post("/api/v1/auth/login", json={"email": email, "password": password}).status_code


def follow_link(client: httpx.Client, link: str) -> httpx.Response:
    """Open the emailed link: the token goes into a cookie and off the URL."""
    first = client.get(link)
    assert first.status_code == 303, first.text
    assert first.headers["location"] == "/reset", "the token leaves the URL at once"
    return client.get("/reset")


def set_password(client: httpx.Client, page: httpx.Response, new: str) -> httpx.Response:
    return client.post(
        "/reset",
        data={"password": new, "password_again": new, "csrf_token": csrf_of(page.text)},
    )


def test_the_emailed_link_sets_a_new_password_once_and_ends_every_session(
    mail_live_any_db, inbox, caplog
):
    mail_live = mail_live_any_db
    caplog.set_level(logging.DEBUG)
    access: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: access.append(record.getMessage())  # type: ignore[method-assign]
    access_logger = logging.getLogger("uvicorn.access")
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    try:
        alice = signup(mail_live.url, "alice@example.com", PASSWORD)
        laptop = signup(mail_live.url, "bob@example.com", PASSWORD)  # someone else entirely
        with browser(mail_live.url) as anonymous:
            answer = ask_reset(anonymous, "Alice@Example.com ")
            assert answer.status_code == 200
            assert "If an account exists for" in answer.text
            message = inbox.wait_for(1)[0]
            assert message["To"] == "alice@example.com"
            assert message["From"] == "Launch Sequence <flags@example.test>"
            assert "Reset your Launch Sequence password" in message["Subject"]
            link = link_in(message, "/reset")
            token = link.split("token=", 1)[1]
            assert token.startswith("lsr_")

            page = follow_link(anonymous, link)
            assert page.status_code == 200
            assert "alice@example.com" in page.text
            assert token not in page.text, "the page does not carry the token"
            mismatch = anonymous.post(
                "/reset",
                data={
                    "password": NEW_PASSWORD,
                    "password_again": "something else",
                    "csrf_token": csrf_of(page.text),
                },
            )
            assert mismatch.status_code == 422 and "differ" in mismatch.text
            short = set_password(anonymous, page, "short")
            assert short.status_code == 422, "a refused password leaves the link usable"
            done = set_password(anonymous, page, NEW_PASSWORD)
            assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
            assert "Log in with the new password" in anonymous.get("/login?reset=1").text

            # Every session of alice ended; bob's did not.
            assert alice.get("/api/v1/me").status_code == 401
            assert laptop.get("/api/v1/me").status_code == 200
            assert login(mail_live.url, "alice@example.com", PASSWORD) == 401
            assert login(mail_live.url, "alice@example.com", NEW_PASSWORD) == 200

            # Used once: the same link again is refused, from the URL or the cookie.
            again = anonymous.get(link)
            assert again.status_code == 404 and "not valid" in again.text
            assert anonymous.get("/reset").status_code == 404
            audit = signup_login_audit(mail_live.url, "alice@example.com", NEW_PASSWORD)
            assert "user.password_reset" in audit
    finally:
        access_logger.removeHandler(handler)
    assert any("/reset?token=" in line for line in access), "the access log saw the request"
    # The server's logs, every level (the test's own HTTP client logs what it sends).
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name.startswith("launchsequence") for r in server_records)
    logged = "\n".join(access) + "\n".join(r.getMessage() for r in server_records)
    assert token not in logged and token[4:] not in logged, "no reset token in any log"


def signup_login_audit(url: str, email: str, password: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as c:
        me = c.post("/api/v1/auth/login", json={"email": email, "password": password}).json()
        org = me["organizations"][0]["key"]
        return c.get(f"/api/v1/orgs/{org}/audit").text


def test_unknown_addresses_get_the_same_answer_and_no_email(mail_live, inbox):
    signup(mail_live.url, "known@example.com", PASSWORD)
    with browser(mail_live.url) as a, browser(mail_live.url) as b:
        known = ask_reset(a, "known@example.com")
        unknown = ask_reset(b, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert visible_text(known.text).replace("known@", "X@") == visible_text(unknown.text).replace(
        "nobody@", "X@"
    )
    assert mail_live.app.state.services.mailer.wait(10)
    assert [m["To"] for m in inbox.messages] == ["known@example.com"]


def test_expired_forged_and_malformed_links_are_refused(mail_live, inbox, clock):
    signup(mail_live.url, "carol@example.com", PASSWORD)
    with browser(mail_live.url) as anonymous:
        ask_reset(anonymous, "carol@example.com")
        link = link_in(inbox.wait_for(1)[0], "/reset")
        base = link.split("/reset", 1)[0]
        forged = f"{base}/reset?token=lsr_{secrets.token_urlsafe(32)}"
        for bad in (forged, f"{base}/reset?token=nonsense", f"{base}/reset?token="):
            answer = anonymous.get(bad)
            assert answer.status_code == 404, bad
            assert "not valid" in answer.text
        # Opened in time, but saved after the 30 minutes: refused too.
        page = follow_link(anonymous, link)
        clock.advance(30 * 60 + 1)
        late = set_password(anonymous, page, NEW_PASSWORD)
        assert late.status_code == 404 and "not valid" in late.text
        assert anonymous.get(link).status_code == 404
    assert login(mail_live.url, "carol@example.com", PASSWORD) == 200, "password unchanged"


def test_reset_requests_are_throttled_per_email(mail_live, inbox):
    with browser(mail_live.url) as anonymous:
        answers = [ask_reset(anonymous, "target@example.com").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        assert "try again in" in ask_reset(anonymous, "target@example.com").text
        assert ask_reset(anonymous, "other@example.com").status_code == 200


def test_without_smtp_the_page_says_so_and_gives_the_command(live):
    with browser(live.url) as anonymous:
        login_page = anonymous.get("/login").text
        assert 'href="/forgot"' in login_page
        page = anonymous.get("/forgot")
        assert page.status_code == 200
        assert "cannot send email" in page.text
        assert "launchseq user reset-password --email" in page.text
        assert "<form" not in visible_text(page.text)


def test_a_disabled_user_gets_no_reset_email(mail_live, inbox):
    signup(mail_live.url, "dora@example.com", PASSWORD)
    services = mail_live.app.state.services
    services.users.set_disabled("dora@example.com", True)
    with browser(mail_live.url) as anonymous:
        assert ask_reset(anonymous, "dora@example.com").status_code == 200
    assert services.mailer.wait(10)
    time.sleep(0.2)  # the SMTP server has had time to take a message, had one been sent
    assert inbox.messages == []
