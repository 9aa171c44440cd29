"""End-to-end fixtures: the real app on a loopback server and a headless Chromium.

Chromium comes from the system package (`apt-get install chromium`). Without it (or without
Playwright) these tests skip loudly, except under CI (`CI` set), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.live import LiveServer, for_browsers

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct horse battery"


def _unavailable(reason: str) -> None:
    message = f"END-TO-END TESTS NOT RUN: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    print(f"\n*** {message} ***")
    pytest.skip(message)


# Module scope: Playwright's sync API keeps an event loop marked running while it is open,
# which would break later asyncio tests in the same process.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("no chromium on PATH (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("e2e-data")
    app = create_app(Settings(data_dir=str(data), secret_key="e2e-secret", sdk_key_grace_seconds=0))
    live = LiveServer(for_browsers(app)).start()
    yield live
    live.stop()


@pytest.fixture
def new_context(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A factory of fresh browser contexts (each its own cookies: another person)."""
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(
            base_url=server.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(5000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> None:
    """Save the whole page as test-artifacts/NAME.png.

    A full-page capture draws a sticky bar (the flag page's save bar) over whatever lies at the
    bottom of the first screen, so such bars are drawn in their place for the capture.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    unstick = (
        "(p) => document.querySelectorAll('.sticky').forEach((e) => { e.style.position = p; })"
    )
    page.evaluate(unstick, "static")
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        page.evaluate(unstick, "")


def sign_up(page: Any, email: str, name: str = "", path: str = "/signup") -> str:
    """Sign up through the form; the organization key the dashboard lands on."""
    page.goto(path)
    if name:
        page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^Sign up")).click()
    page.wait_for_url(re.compile(r"/o/[^/]+$"))
    return str(page.url.rsplit("/o/", 1)[1])


def log_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/[^/]+$"))


def create_flag(page: Any, org: str, name: str, flag_type: str, values: list[str]) -> str:
    """Create a flag through the form (variations given for the non-boolean types); its key."""
    from playwright.sync_api import expect

    page.goto(f"/o/{org}/p/default/flags/new")
    page.get_by_label("Name", exact=True).fill(name)
    if flag_type != "boolean":
        page.get_by_label("Type", exact=True).select_option(flag_type)  # the page re-renders
        page.wait_for_load_state()
        expect(page.get_by_label("Value of variation 1")).to_have_count(1)
        for i, value in enumerate(values):
            page.get_by_label(f"Name of variation {i + 1}").fill(f"V{i + 1}")
            page.get_by_label(f"Value of variation {i + 1}").fill(value)
    key = page.get_by_label("Key", exact=True).input_value()
    page.get_by_role("button", name="Create flag", exact=True).click()
    page.wait_for_url(re.compile(f"/flags/{re.escape(key)}$"))
    return key


def confirm_change(page: Any, comment: str = "") -> None:
    """Answer the dialog an environment that confirms changes (production, by default) asks
    before a toggle or a save applies: the comment typed, then Confirm."""
    dialog = page.get_by_role("dialog")
    if comment:
        dialog.get_by_label(re.compile("^Comment")).fill(comment)
    dialog.get_by_role("button", name="Confirm").click()


def save_changes(page: Any, env: str = "production") -> None:
    """Press "Save changes to ENV" on a flag page, confirming in production (which asks): in
    the dialog with scripts; without, on the page the server answers (unless it refused the
    edits, which it says before asking)."""
    page.get_by_role("button", name=f"Save changes to {env}").click()
    if env != "production":
        return
    if page.locator("dialog#confirm-change[open]").count():
        confirm_change(page)
        return
    page.wait_for_load_state()
    if page.locator("#confirm-save").count():
        page.get_by_role("button", name=f"Confirm and save to {env.title()}").click()


def turn_on(page: Any) -> None:
    """Turn the flag of an open flag page on in its environment with the switch at the top
    (confirming where the environment asks, in the dialog or, without scripts, on the page
    the server answers), and wait until the switch says so."""
    from playwright.sync_api import expect

    switch = page.locator("#flag-status").get_by_role("switch")
    switch.click()
    if page.locator("dialog#confirm-change[open]").count():
        confirm_change(page)
    else:  # without scripts: the server's page asks, then brings the flag page back
        page.wait_for_load_state()
        if page.locator("#confirm-toggle").count():
            page.locator("#confirm-toggle").get_by_role("button").click()
    expect(page.locator("#flag-status").get_by_role("switch")).to_have_attribute(
        "aria-checked", "true"
    )
