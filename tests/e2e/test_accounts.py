"""In Chromium: a forgotten password reset through the link a real SMTP server received, the
account page and the sessions page (their screenshots are the ones in docs/screenshots)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.e2e.conftest import PASSWORD, shot, sign_up
from tests.support.live import LiveServer, for_browsers, free_port
from tests.support.smtp import Inbox, link_in, smtp_server

NEW_PASSWORD = "a fresh and long passphrase"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[LiveServer]:
    """This module's server sends email to the test's SMTP server."""
    port = free_port()
    settings = Settings(
        data_dir=str(tmp_path_factory.mktemp("e2e-accounts")),
        secret_key="e2e-secret",
        base_url=f"http://127.0.0.1:{port}",
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_tls="none",
        mail_from="Launch Sequence <flags@example.test>",
    )
    live = LiveServer(for_browsers(create_app(settings)), port=port).start()
    yield live
    live.stop()


def phone_context(browser: Any, server: LiveServer) -> Any:
    context = browser.new_context(
        base_url=server.url, user_agent=PHONE, viewport={"width": 390, "height": 800}
    )
    context.set_default_timeout(5000)
    return context


def test_reset_a_forgotten_password_from_the_emailed_link(browser, server, inbox, new_context):
    from playwright.sync_api import expect

    laptop = new_context().new_page()
    org = sign_up(laptop, "ada@example.com", name="Ada Lovelace")
    phone_ctx = phone_context(browser, server)
    try:
        phone = phone_ctx.new_page()
        phone.goto("/login")
        phone.get_by_label("Email").fill("ada@example.com")
        phone.get_by_label("Password").fill(PASSWORD)
        phone.get_by_role("button", name="Log in").click()
        phone.wait_for_url(re.compile(r"/o/[^/]+$"))

        # The account page, reached from the email in the header.
        laptop.get_by_role("link", name="ada@example.com").click()
        laptop.wait_for_url(re.compile(r"/account$"))
        expect(laptop.locator("#profile-name")).to_have_text("Ada Lovelace")
        laptop.get_by_label("Token name").fill("deploy script")
        laptop.get_by_role("button", name="Create token").click()
        expect(laptop.locator("#new-token")).to_contain_text("lst_")
        laptop.goto("/account")
        shot(laptop, "account")
        laptop.get_by_role("link", name="Your sessions").click()
        expect(laptop.locator("#sessions tbody tr")).to_have_count(2)
        expect(laptop.locator("#sessions")).to_contain_text("Safari on iOS")
        expect(laptop.locator("#sessions")).to_contain_text("this session")
        shot(laptop, "sessions")

        # Forgotten: ask for a link from the log-in page of a third browser.
        stranger = new_context().new_page()
        stranger.goto("/login")
        stranger.get_by_role("link", name="Forgot password?").click()
        stranger.get_by_label("Email").fill("ada@example.com")
        stranger.get_by_role("button", name="Send the reset link").click()
        expect(stranger.locator("#reset-sent")).to_contain_text("If an account exists")
        shot(stranger, "forgot-password")

        link = link_in(inbox.wait_for(1)[0], "/reset")
        stranger.goto(link)
        assert stranger.url == f"{server.url}/reset", "the token left the address bar"
        expect(stranger.get_by_role("heading", name="Choose a new password")).to_be_visible()
        shot(stranger, "reset-password")
        stranger.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        stranger.get_by_label("New password, again").fill(NEW_PASSWORD)
        stranger.get_by_role("button", name="Save the new password").click()
        stranger.wait_for_url(re.compile(r"/login\?reset=1$"))
        expect(stranger.locator("#reset-done")).to_be_visible()
        stranger.get_by_label("Email").fill("ada@example.com")
        stranger.get_by_label("Password").fill(NEW_PASSWORD)
        stranger.get_by_role("button", name="Log in").click()
        stranger.wait_for_url(re.compile(f"/o/{re.escape(org)}$"))

        # Every session from before the reset ended.
        for ended in (laptop, phone):
            ended.goto("/account")
            ended.wait_for_url(re.compile(r"/login\?next="))
        # The link works once.
        again = new_context().new_page()
        again.goto(link)
        expect(again.locator("#reset-invalid")).to_contain_text("not valid")
    finally:
        phone_ctx.close()


def test_set_up_a_second_factor_and_log_in_with_it(new_context):
    import pyotp
    from playwright.sync_api import expect

    page = new_context().new_page()
    org = sign_up(page, "grace@example.com", name="Grace Hopper")
    page.goto("/account")
    page.get_by_role("button", name="Set up a second factor").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    shot(page, "second-factor-setup")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    expect(page.locator("#second-factor-state")).to_contain_text("10 recovery codes left")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))

    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    shot(page, "second-factor-log-in")
    # The code of the next 30-second step: the one used to turn it on may not come twice.
    import time

    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(f"/o/{re.escape(org)}$"))
