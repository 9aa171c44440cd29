"""An open page's live updates stop with the access they came with: logging out in another tab
ends the page's stream, and the browser's EventSource, refused on its reconnect, stops."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import sign_up

WAIT = 10.0


def _wait_for(page: Any, check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(50)


def test_logging_out_in_another_tab_ends_the_open_pages_live_updates(new_context: Any) -> None:
    context = new_context()  # one browser: both tabs share the session cookie
    page = context.new_page()
    org = sign_up(page, "leaving@example.com", "Leaving")
    answers: list[tuple[float, int]] = []

    def on_response(response: Any) -> None:
        if "/ui/events" in response.url:
            answers.append((time.monotonic(), response.status))

    page.on("response", on_response)
    page.goto(f"/o/{org}/p/default/flags")
    page.wait_for_selector("[data-live-ready]")
    assert [status for _, status in answers] == [200]

    other = context.new_page()
    other.goto(f"/o/{org}")
    logged_out = time.monotonic()
    other.get_by_role("button", name="Log out").click()
    other.wait_for_url("**/login")

    # The stream ends within a second; EventSource reconnects after its retry (1 s) and is
    # refused, which ends it for good.
    _wait_for(page, lambda: len(answers) > 1, "the open page's stream did not end")
    reconnected_at, status = answers[1]
    assert status == 404
    assert reconnected_at - logged_out < 1.0 + 1.0 + 2.0, "the stream ended late"
    page.wait_for_timeout(2500)
    assert len(answers) == 2, f"the page went on reconnecting: {answers}"
