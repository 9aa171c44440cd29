"""The SMTP sender against real SMTP servers on loopback: invitations are emailed, STARTTLS
with authentication works (and the SMTP password is never logged), and an unreachable server
costs the page nothing and logs no secret."""

from __future__ import annotations

import logging
import re
import ssl

import httpx
import pytest

from launchsequence.app import create_app
from tests.http.test_password_reset import ask_reset, browser, csrf_of, inbox, mail_live
from tests.support.api import signup
from tests.support.live import LiveServer, free_port
from tests.support.smtp import link_in, self_signed, smtp_server

__all__ = ["inbox", "mail_live"]  # fixtures used here

SMTP_PASSWORD = "smtp-pass-word-9f3k"


def test_an_invitation_to_an_email_is_emailed_with_its_link(mail_live, inbox):
    owner = signup(mail_live.url, "owner@example.com", "correct horse")
    with httpx.Client(base_url=mail_live.url, timeout=30, follow_redirects=True) as dashboard:
        token = csrf_of(dashboard.get("/login").text)
        dashboard.post(
            "/login",
            data={"email": "owner@example.com", "password": "correct horse", "csrf_token": token},
        )
        settings = f"/o/{owner.org}/settings"
        page = dashboard.get(settings).text
        assert "the link is also emailed" in page
        sent = dashboard.post(
            settings,
            data={
                "action": "invite",
                "email": "newcomer@example.com",
                "role": "admin",
                "csrf_token": csrf_of(page),
            },
        )
        assert sent.status_code == 200  # after the redirect
        assert "We are emailing this link to" in sent.text
        shown = re.search(r'<code id="invite-url">([^<]+)</code>', sent.text)
        assert shown
    message = inbox.wait_for(1)[0]
    assert message["To"] == "newcomer@example.com"
    assert "invited to" in message["Subject"]
    link = link_in(message, "/signup")
    assert link == shown.group(1), "the emailed link is the one shown"
    with httpx.Client(timeout=30) as newcomer:
        offer = newcomer.get(link)
        assert offer.status_code == 200 and "admin" in offer.text
    api = owner.post(f"/api/v1/orgs/{owner.org}/invitations", json={"role": "viewer"})
    assert api.json()["emailed"] is False, "no email given: nothing to send"
    api = owner.post(
        f"/api/v1/orgs/{owner.org}/invitations", json={"role": "viewer", "email": "v@example.com"}
    )
    assert api.json()["emailed"] is True
    assert inbox.wait_for(2)[1]["To"] == "v@example.com"


def test_without_smtp_the_invitation_form_says_the_link_must_be_sent_by_hand(live):
    owner = signup(live.url, "o@example.com", "correct horse")
    with httpx.Client(base_url=live.url, timeout=30) as dashboard:
        token = csrf_of(dashboard.get("/login").text)
        dashboard.post(
            "/login",
            data={"email": "o@example.com", "password": "correct horse", "csrf_token": token},
        )
        page = dashboard.get(f"/o/{owner.org}/settings").text
    assert "cannot send email" in page and "send the link yourself" in page
    answer = owner.post(
        f"/api/v1/orgs/{owner.org}/invitations", json={"role": "viewer", "email": "x@example.com"}
    )
    assert answer.json()["emailed"] is False


@pytest.fixture
def trusted_certificate(tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    # The sender verifies the server's certificate against the default trust store; for
    # this test that store is the one self-signed certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    assert ssl.create_default_context().cert_store_stats()["x509_ca"] == 1
    return cert, key


def test_starttls_and_authentication_and_no_password_in_logs(
    make_settings, clock, trusted_certificate, caplog
):
    caplog.set_level(logging.DEBUG)
    with smtp_server(
        credentials=("mailer", SMTP_PASSWORD), certificate=trusted_certificate
    ) as secure:
        port = free_port()
        settings = make_settings(
            smtp_host="127.0.0.1",
            smtp_port=secure.port,
            smtp_tls="starttls",
            smtp_user="mailer",
            smtp_password=SMTP_PASSWORD,
            mail_from="flags@example.test",
            base_url=f"http://127.0.0.1:{port}",
        )
        assert SMTP_PASSWORD not in repr(settings)
        server = LiveServer(create_app(settings, clock=clock), port=port).start()
        try:
            signup(server.url, "tls@example.com", "correct horse")
            with browser(server.url) as anonymous:
                assert ask_reset(anonymous, "tls@example.com").status_code == 200
            message = secure.wait_for(1)[0]
            assert message["To"] == "tls@example.com"
            assert secure.logins == [True]

            # A wrong password: refused by the server, logged without the password.
            wrong = make_settings(**{**settings.__dict__, "smtp_password": "not-" + SMTP_PASSWORD})
            mailer = type(server.app.state.services.mailer)(wrong)
            sent = mailer.deliver(mailer.compose(to="a@example.com", subject="s", body="b"), "test")
            assert sent is False
            assert secure.logins == [True, False]
        finally:
            server.stop()
    server_logs = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "could not send the test email to an address at example.com" in server_logs
    assert SMTP_PASSWORD not in server_logs


def test_an_unreachable_smtp_server_costs_the_page_nothing_and_logs_no_link(
    make_settings, clock, caplog
):
    caplog.set_level(logging.DEBUG)
    port, dead = free_port(), free_port()  # nothing listens on `dead`
    settings = make_settings(
        smtp_host="127.0.0.1",
        smtp_port=dead,
        smtp_tls="none",
        mail_from="flags@example.test",
        base_url=f"http://127.0.0.1:{port}",
        smtp_timeout_seconds=2,
    )
    server = LiveServer(create_app(settings, clock=clock), port=port).start()
    try:
        signup(server.url, "down@example.com", "correct horse")
        with browser(server.url) as anonymous:
            answer = ask_reset(anonymous, "down@example.com")
            assert answer.status_code == 200 and "If an account exists" in answer.text
        assert server.app.state.services.mailer.wait(10)
    finally:
        server.stop()
    failures = [r for r in caplog.records if r.name == "launchsequence.mail"]
    assert failures and "could not send the password-reset email" in failures[0].getMessage()
    assert all("lsr_" not in r.getMessage() for r in caplog.records)
