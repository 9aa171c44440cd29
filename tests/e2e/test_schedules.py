"""In a browser: schedule a toggle from the flag page, move the server's clock past its time,
and see it applied (the switch on, the schedule listed as applied)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.conftest import Clock
from tests.e2e.conftest import create_flag, shot, sign_up
from tests.support.live import LiveServer, for_browsers

WAIT = 10.0


@pytest.fixture(scope="module")
def server_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_clock: Clock) -> Iterator[LiveServer]:
    """This module's own server: its clock is the test's, its scheduler checks every 0.05 s."""
    data = tmp_path_factory.mktemp("e2e-schedules")
    settings = Settings(data_dir=str(data), secret_key="e2e-secret", schedule_check_seconds=0.05)
    live = LiveServer(for_browsers(create_app(settings, clock=server_clock))).start()
    yield live
    live.stop()


def test_schedule_a_toggle_and_see_it_applied(new_context: Any, server_clock: Clock) -> None:
    page = new_context().new_page()
    org = sign_up(page, "scheduler@example.com", "Sam")
    key = create_flag(page, org, "Night launch", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags/{key}?env=production")
    switch = page.locator("#flag-status").get_by_role("switch")
    expect(switch).to_have_attribute("aria-checked", "false")

    page.get_by_text("Schedule…", exact=True).click()
    page.get_by_label("On or off at that time").select_option(label="Turn it on")
    when = page.get_by_label("When (UTC)", exact=True)
    at = when.input_value()  # offered: an hour from the server's now
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", at), at
    page.get_by_label("Comment on the scheduled change").fill("launch at night")
    page.get_by_role("button", name="Schedule for production").click()
    page.wait_for_url(re.compile(r"scheduled=\d+"))

    expect(page.get_by_role("status")).to_contain_text("Scheduled.")
    row = page.locator("#flag-schedules tr.schedule")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Turn on")
    expect(row).to_contain_text("launch at night")
    expect(row).to_have_attribute("data-status", "pending")
    expect(switch).to_have_attribute("aria-checked", "false")  # not yet
    shot(page, "schedule-pending")

    server_clock.advance(3601)
    deadline = time.monotonic() + WAIT
    while True:
        page.reload()
        if page.locator("#flag-schedules tr.schedule").get_attribute("data-status") == "applied":
            break
        assert time.monotonic() < deadline, "the scheduled toggle was not applied"
        time.sleep(0.2)
    expect(switch).to_have_attribute("aria-checked", "true")
    shot(page, "schedule-applied")

    page.get_by_role("link", name="Scheduled changes", exact=True).click()
    listed = page.locator("tr.schedule")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(key)
    expect(listed).to_have_attribute("data-status", "applied")
