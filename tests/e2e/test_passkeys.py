"""Passkeys in real Chromium, with Chrome's own WebAuthn virtual authenticator (DevTools
protocol: a CTAP2 platform authenticator that keeps discoverable credentials and verifies its
user): registered on the account page, used as the second factor after the password, used
alone ("Sign in with a passkey"), and refused when the origin is another, the challenge is
replayed, the sign counter goes back, or the passkey was removed.

WebAuthn needs a secure context and a domain for the RP ID: http://localhost is both (an IP
address such as 127.0.0.1 is a secure context but never an RP ID), so this module's server
has `base_url=http://localhost:PORT` and the browser goes there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from playwright.sync_api import expect

from launchsequence.api.auth import SESSION_COOKIE
from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.e2e.conftest import PASSWORD, shot, sign_up
from tests.e2e.test_accessibility import RUN, axe_source
from tests.support.live import LiveServer, for_browsers, free_port

__all__ = ["axe_source"]  # the module fixture, used here


def no_serious_violation(page: Any, axe: str) -> None:
    """axe-core finds nothing serious or critical on the page (as tests/e2e/test_accessibility
    checks every other page)."""
    page.evaluate(axe)  # through the DevTools protocol: the page's CSP does not apply
    found = page.evaluate(RUN)
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert serious == [], serious


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    data = tmp_path_factory.mktemp("e2e-passkeys")
    settings = Settings(
        data_dir=str(data), secret_key="e2e-secret", base_url=f"http://localhost:{port}"
    )
    live = LiveServer(for_browsers(create_app(settings)), port=port).start()
    live.url = f"http://localhost:{port}"
    live.data_dir = str(data)  # type: ignore[attr-defined]
    yield live
    live.stop()


@pytest.fixture
def person(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A browser context at http://localhost with a virtual authenticator on its page."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    page.cdp = cdp  # type: ignore[attr-defined]
    page.authenticator = added["authenticatorId"]  # type: ignore[attr-defined]
    yield page
    context.close()


def add_passkey(page: Any, name: str) -> None:
    page.goto("/account")
    page.get_by_label("Name of the new passkey").fill(name)
    page.get_by_label("Your password", exact=True).last.fill(PASSWORD)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-added")).to_be_visible()


def log_out(page: Any) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))


def password_step(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_passkey_is_added_then_used_after_the_password_and_alone(person, server, axe_source):
    page = person
    org = sign_up(page, "ada@example.com", name="Ada Lovelace")
    page.goto("/account")
    expect(page.locator("#no-passkeys")).to_be_visible()
    add_passkey(page, "Work laptop")
    row = page.locator("#passkey-list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Work laptop")
    expect(row.locator("td").nth(1)).to_have_text("never")
    stored = page.cdp.send("WebAuthn.getCredentials", {"authenticatorId": page.authenticator})
    assert len(stored["credentials"]) == 1 and stored["credentials"][0]["isResidentCredential"]
    # The same authenticator again: the browser is told to exclude it, and says so.
    page.get_by_label("Name of the new passkey").fill("Again")
    page.get_by_label("Your password", exact=True).last.fill(PASSWORD)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-error")).to_have_text("This passkey is registered already.")
    expect(row).to_have_count(1)
    log_out(page)

    # After the password, the passkey stands in for a code.
    password_step(page, "ada@example.com")
    expect(page.get_by_role("heading", name="Use your passkey")).to_be_visible()
    expect(page.get_by_label("Code", exact=True)).to_have_count(0)  # no TOTP on this account
    shot(page, "passkey-second-factor")
    no_serious_violation(page, axe_source)
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(re.compile(f"/o/{re.escape(org)}$"))
    page.goto("/account")
    expect(page.locator("#passkey-list")).not_to_contain_text("never")
    shot(page, "account-passkeys")
    no_serious_violation(page, axe_source)

    # Alone, from the log-in page: no email, no password.
    # A passkey is a second factor: its owner may require one of the organization's members.
    page.goto(f"/o/{org}/settings")
    page.get_by_label("Members must use a second factor").check()
    page.locator("#second-factor").get_by_role("button", name="Save").click()
    expect(page.get_by_label("Members must use a second factor")).to_be_checked()
    log_out(page)

    page.goto("/login")
    shot(page, "passkey-log-in")
    no_serious_violation(page, axe_source)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(re.compile(f"/o/{re.escape(org)}$"))
    expect(page.get_by_role("link", name="ada@example.com")).to_be_visible()
    page.goto("/account/sessions")
    expect(page.locator("#sessions tr.current")).to_contain_text("with passkey")

    # Lost the device: the operator's reset-second-factor removes the passkeys too.
    from tests.http.test_cli import run

    data = Path(server.data_dir)  # type: ignore[attr-defined]
    done = run("user", "reset-second-factor", "--email", "ada@example.com", data_dir=data)
    assert "turned off the second factor of ada@example.com" in done.stdout
    page.goto("/account")
    expect(page.locator("#no-passkeys")).to_be_visible()


def captured_second_step(page: Any, email: str, *, deliver: bool) -> dict[str, str]:
    """Log in with the password and answer with the passkey; the form the browser sent to
    /login/second-factor (delivered, or stopped on its way), and the browser's cookies."""
    sent: dict[str, str] = {}

    def keep(route: Any) -> None:
        sent.update(parse_qsl(route.request.post_data or "", keep_blank_values=True))
        route.continue_() if deliver else route.abort()

    page.route("**/login/second-factor", keep)
    password_step(page, email)
    page.get_by_role("button", name="Use a passkey").click()
    if deliver:
        page.wait_for_url(re.compile(r"/o/[^/]+$"))
    else:
        page.wait_for_timeout(500)
        assert sent.get("passkey"), "the browser sent no passkey"
    page.unroute("**/login/second-factor")
    return sent


def send_again(url: str, page: Any, form: dict[str, str]) -> httpx.Response:
    """The same form, with the browser's cookies from before it logged in, to `url`."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies() if c["name"] != SESSION_COOKIE}
    with httpx.Client(base_url=url, cookies=cookies, timeout=30) as client:
        return client.post("/login/second-factor", data=form)


def test_wrong_origin_replayed_challenge_old_counter_and_removed_passkey_are_refused(
    person, server, caplog
):
    caplog.set_level(logging.INFO, logger="launchsequence.passkeys")
    page = person
    org = sign_up(page, "bob@example.com")
    add_passkey(page, "Laptop")
    passkey_id = page.locator('#passkey-list button[name="id"]').get_attribute("value")
    # Someone else cannot remove it: their answer is the 404 of a missing passkey.
    from tests.http.test_second_factor import csrf_of, log_in
    from tests.support.api import signup

    signup(server.url, "eve@example.com", PASSWORD).close()
    with httpx.Client(base_url=server.url, timeout=30) as eve:
        log_in(eve, "eve@example.com", PASSWORD)
        csrf = csrf_of(eve.get("/account").text)
        taken = eve.post(
            "/account",
            data={"csrf_token": csrf, "action": "passkey-remove", "id": passkey_id,
                  "password_passkey_remove": PASSWORD},
        )  # fmt: skip
        assert taken.status_code == 404 and "no such passkey" in taken.text
    page.goto("/account")
    expect(page.locator("#passkey-list tbody tr")).to_have_count(1)
    log_out(page)

    # Replayed: the answer that logged in, sent again, finds its challenge used up.
    used = captured_second_step(page, "bob@example.com", deliver=True)
    again = send_again(server.url, page, used)
    assert again.status_code == 401
    assert "expired or was used already" in again.text
    log_out(page)

    # Another origin: the same database served under another public URL (the browser signed
    # for this one) refuses the answer; its challenge is used up by the refusal.
    stopped = captured_second_step(page, "bob@example.com", deliver=False)
    other_port = free_port()
    other = LiveServer(
        create_app(
            Settings(
                data_dir=server.data_dir,  # type: ignore[attr-defined]
                secret_key="e2e-secret",
                base_url=f"http://localhost:{other_port}",
            )
        ),
        port=other_port,
    ).start()
    try:
        refused = send_again(f"http://127.0.0.1:{other_port}", page, stopped)
    finally:
        other.stop()
    assert refused.status_code == 401
    assert "This passkey was not accepted" in refused.text
    assert "origin" in caplog.text  # the operator's log says which check refused it
    assert "expired or was used already" in send_again(server.url, page, stopped).text

    # A counter that goes back (a cloned authenticator): the credential put back with the
    # count it had at registration is refused.
    stored = page.cdp.send("WebAuthn.getCredentials", {"authenticatorId": page.authenticator})
    credential = stored["credentials"][0]
    assert credential["signCount"] >= 2
    page.cdp.send(
        "WebAuthn.removeCredential",
        {"authenticatorId": page.authenticator, "credentialId": credential["credentialId"]},
    )
    page.cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": page.authenticator, "credential": {**credential, "signCount": 0}},
    )
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("This passkey was not accepted")
    assert "/login" in page.url
    assert "sign count" in caplog.text

    # Removed: the authenticator still holds it; the server no longer takes it.
    page.cdp.send(
        "WebAuthn.removeCredential",
        {"authenticatorId": page.authenticator, "credentialId": credential["credentialId"]},
    )
    page.cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": page.authenticator, "credential": {**credential, "signCount": 1000}},
    )
    password_step(page, "bob@example.com")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(re.compile(f"/o/{re.escape(org)}$"))
    page.goto("/account")
    # Removing it asks the password again, as turning the authenticator app off does.
    page.get_by_role("button", name="Remove passkey Laptop").click()
    expect(page.locator("#password_passkey_remove-error")).to_contain_text(
        "this is not your password"
    )
    expect(page.locator("#passkey-list tbody tr")).to_have_count(1)
    page.get_by_label("Your password, to remove a passkey").fill(PASSWORD)
    page.get_by_label("Your password, to remove a passkey").press("Enter")  # removes nothing
    page.wait_for_timeout(500)
    expect(page.locator("#passkey-list tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Remove passkey Laptop").click()
    expect(page.locator("#passkey-removed")).to_be_visible()
    expect(page.locator("#no-passkeys")).to_be_visible()
    log_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("This passkey was not accepted")
    # And the password alone logs in again: no second factor is left.
    password_step(page, "bob@example.com")
    page.wait_for_url(re.compile(f"/o/{re.escape(org)}$"))
    # Both changes are in the organization's audit log, with the passkey's name.
    entries = page.request.get(f"/api/v1/orgs/{org}/audit").json()["entries"]
    kept = [(e["action"], e["resource"], e["after"]) for e in entries if "passkey" in e["action"]]
    assert sorted(kept) == [
        ("user.passkey_added", "bob@example.com", {"passkey": "Laptop"}),
        ("user.passkey_removed", "bob@example.com", {"passkey": "Laptop"}),
    ]
