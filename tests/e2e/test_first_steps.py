"""In a browser: a new team's project shows its first steps on the flag list; creating a flag
ticks the first, an application evaluating (this test plays it, with the server key the
environments page shows once) ticks the other two while the page stays open, without a
reload; then the list is gone. Another team dismisses it. Screenshots:
test-artifacts/first-steps.png, first-steps-done.png, first-steps-390.png."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.e2e.conftest import shot, sign_up
from tests.http.test_delivery import sdk
from tests.support.live import LiveServer, for_browsers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's own server: usage is written when the test flushes it."""
    data = tmp_path_factory.mktemp("e2e-first-steps")
    settings = Settings(data_dir=str(data), secret_key="e2e-secret", usage_flush_seconds=3600)
    live = LiveServer(for_browsers(create_app(settings))).start()
    yield live
    live.stop()


def flush(server: LiveServer) -> None:
    app: Any = server.app
    asyncio.run_coroutine_threadsafe(app.state.usage_flusher.flush(), app.state.hubs.loop).result(
        10
    )


def test_the_steps_tick_as_they_happen_and_the_last_one_arrives_live(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "first@example.com", "Fay First")
    page.goto(f"/o/{org}/p/default/flags")
    steps = page.locator("#first-steps")
    expect(steps).to_contain_text("0 of 3 done")
    expect(page.locator("#flag-rows")).to_contain_text("Create your first flag")
    shot(page, "first-steps")

    steps.get_by_role("link", name="Create a flag").click()
    page.get_by_label("Name", exact=True).fill("Welcome banner")
    page.get_by_role("button", name="Create flag", exact=True).click()
    page.wait_for_url("**/flags/welcome-banner")
    page.goto(f"/o/{org}/p/default/flags")
    expect(steps).to_contain_text("1 of 3 done")
    expect(page.locator("#step-flag")).to_have_class("step done")

    # The snippet's key: the environments page shows the server key once.
    steps.get_by_role("link", name="Copy a snippet").click()
    page.get_by_role("button", name="Create the server key of Production").click()
    server_key = page.locator("#revealed-key").inner_text()
    expect(page.locator("#snip-production-curl")).to_contain_text(server_key)

    page.goto(f"/o/{org}/p/default/flags")
    page.evaluate("() => { window.stayedOpen = true; }")
    answered = sdk(
        server.url, "/sdk/v1/evaluate", server_key, {"context": {"key": "u-1"}},
        **{"X-LaunchSequence-Application": "storefront"},
    )  # fmt: skip
    assert answered.status_code == 200
    flush(server)  # as the server does every minute
    expect(steps).to_contain_text("All set", timeout=15_000)
    expect(page.locator("#step-evaluation")).to_have_class("step done")
    expect(page.locator("#step-application")).to_have_class("step done")
    assert page.evaluate("() => window.stayedOpen") is True  # no reload
    shot(page, "first-steps-done")
    page.reload()
    expect(page.locator("#first-steps")).to_have_count(0)


def test_the_steps_can_be_dismissed(new_context):
    page = new_context(390, 844).new_page()
    org = sign_up(page, "dismisser@example.com", "Dan Dismiss")
    page.goto(f"/o/{org}/p/default/flags")
    shot(page, "first-steps-390")
    page.locator("#first-steps").get_by_role("button", name="Dismiss the first steps").click()
    expect(page.get_by_role("status")).to_contain_text("Dismissed the first steps")
    expect(page.locator("#first-steps")).to_have_count(0)
    page.reload()
    expect(page.locator("#first-steps")).to_have_count(0)


def _polls(page: Any) -> list[str]:
    """The checklist's asks the page makes from now on (their URLs)."""
    asked: list[str] = []
    page.on(
        "request",
        lambda r: asked.append(r.url) if r.headers.get("x-partial") == "first-steps" else None,
    )
    return asked


def test_asking_again_stops_once_dismissed_elsewhere_or_signed_out(new_context):
    context = new_context()
    page = context.new_page()
    org = sign_up(page, "poller@example.com", "Paul Poller")
    page.goto(f"/o/{org}/p/default/flags")
    expect(page.locator("#first-steps")).to_have_count(1)
    asked = _polls(page)
    page.wait_for_timeout(4_500)
    assert len(asked) >= 1  # it asks while a step is left

    # Dismissed in another tab: the next ask hears so, the list goes, and no ask follows.
    other = context.new_page()
    other.goto(f"/o/{org}/p/default/flags")
    other.locator("#first-steps").get_by_role("button", name="Dismiss the first steps").click()
    expect(other.locator("#first-steps")).to_have_count(0)
    expect(page.locator("#first-steps")).to_have_count(0, timeout=10_000)
    after = len(asked)
    page.wait_for_timeout(9_000)
    assert len(asked) == after

    # Signed out (the session gone): at most one more ask, then none.
    page = new_context().new_page()
    org = sign_up(page, "leaver@example.com", "Lea Leaver")
    page.goto(f"/o/{org}/p/default/flags")
    asked = _polls(page)
    page.context.clear_cookies()
    page.wait_for_timeout(4_500)
    seen = len(asked)
    assert seen >= 1
    page.wait_for_timeout(9_000)
    assert len(asked) == seen
