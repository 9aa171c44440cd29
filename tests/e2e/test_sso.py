"""Single sign-on in a real browser: the full redirect flow through a real OpenID provider
(tests/oidc/provider.js) on loopback, from the log-in page's button to the dashboard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.e2e.conftest import PASSWORD, shot, sign_up
from tests.support.live import LiveServer, for_browsers
from tests.support.oidc import OidcProvider, oidc_provider

__all__ = ["oidc_provider"]  # the session fixture, used here


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider
) -> Iterator[LiveServer]:
    """This module's app: the e2e server with the test provider configured."""
    data = tmp_path_factory.mktemp("e2e-sso-data")
    settings = Settings(
        data_dir=str(data),
        secret_key="e2e-secret",
        oidc_providers=oidc_provider.settings("main", display="Acme ID"),
    )
    live = LiveServer(for_browsers(create_app(settings))).start()
    yield live
    live.stop()


def sign_in_at_the_provider(page: Any, login: str) -> None:
    """The provider's own pages (oidc-provider's development forms): log in, then confirm
    (it asks a loopback "native" client for consent each time)."""
    # Longer waits than the contexts' 5 s: two servers and a browser share a busy machine.
    page.wait_for_url(re.compile(r"/main/interaction/"), timeout=15_000)
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("button", name="Continue")).to_be_visible(timeout=15_000)
    # The click waits for the navigation it starts: the provider's redirect to our callback,
    # which exchanges the code with the provider (the first exchange loads Authlib and joserfc).
    page.get_by_role("button", name="Continue").click(timeout=15_000)


def test_a_new_member_signs_in_with_sso_and_lands_in_the_dashboard(new_context, server):
    owner = new_context().new_page()
    org = sign_up(owner, "owner@acme.test", "Olive Owner")
    owner.goto(f"/o/{org}/settings")
    owner.get_by_role("link", name="Single sign-on settings").click()
    owner.get_by_label("Email domains that join on their first sign-in").fill("acme.test")
    owner.get_by_label("Their role").select_option("admin")
    owner.get_by_label("Members must sign in with single sign-on").check()
    owner.get_by_role("button", name="Save single sign-on settings").click()
    expect(owner.get_by_role("status")).to_contain_text("Saved the single sign-on settings")
    expect(owner.get_by_text(f"{server.url}/login/sso/main/callback")).to_be_visible()
    shot(owner, "sso-settings")

    page = new_context().new_page()
    page.goto("/login")
    shot(page, "sso-login")
    page.get_by_role("link", name="Sign in with Acme ID").click()
    sign_in_at_the_provider(page, "alice")
    page.wait_for_url(re.compile(rf"/o/{org}$"), timeout=15_000)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "Alice Acme" in page.content() or "alice@acme.test" in page.content()

    # Alice joined as admin; the owner's members list shows her.
    owner.goto(f"/o/{org}/settings")
    expect(owner.locator("#members")).to_contain_text("alice@acme.test")

    # SSO is required now: bob's password is refused with the way to sign in instead.
    bob = new_context().new_page()
    sign_up(bob, "bob@acme.test", "Bob Acme")
    bob.context.clear_cookies()
    owner.goto(f"/o/{org}/settings")
    owner.get_by_label("Their email").fill("bob@acme.test")
    owner.get_by_label("Their role").select_option("viewer")
    owner.get_by_role("button", name="Add member").click()
    bob.goto("/login")
    bob.get_by_label("Email").fill("bob@acme.test")
    bob.get_by_label("Password").fill(PASSWORD)
    bob.get_by_role("button", name="Log in").click()
    expect(bob.get_by_role("alert")).to_contain_text("requires single sign-on")
    shot(bob, "sso-required")
    bob.get_by_role("link", name="Sign in with Acme ID").click()
    sign_in_at_the_provider(bob, "bob")
    bob.wait_for_url(re.compile(r"/o/[^/]+$"), timeout=15_000)


def test_an_unverified_email_gets_a_refusal_page(new_context, server):
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_role("link", name="Sign in with Acme ID").click()
    sign_in_at_the_provider(page, "uma")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in with Acme ID refused")
    expect(page.get_by_role("alert")).to_contain_text("has not verified your email address")
    shot(page, "sso-refused")
    page.goto("/")
    page.wait_for_url(re.compile("/login"))
