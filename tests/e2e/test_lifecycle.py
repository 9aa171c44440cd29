"""In a browser: the flag page's usage chart shows the evaluations counted, per variation, with
its legend and table; the cleanup view lists the flags that look safe to remove with their
evidence, and archiving one still asked for asks first, naming the application. Screenshots:
test-artifacts/lifecycle-flag-page.png, lifecycle-cleanup.png, lifecycle-flag-list.png.

The server here has a clock the test sets: counts are reported (POST /sdk/v1/usage) into
chosen hours and days, and flushed by the server's own flusher.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.conftest import Clock
from tests.e2e.conftest import PASSWORD, log_in, shot
from tests.http.test_delivery import BOOL, Env, configure, make_flag, sdk
from tests.support.api import signup
from tests.support.live import LiveServer, for_browsers

HOUR = 3_600_000
DAY = 24 * HOUR
EMAIL = "lifecycle-e2e@example.com"


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("e2e-lifecycle")
    settings = Settings(data_dir=str(data), secret_key="e2e-secret", usage_flush_seconds=3600)
    live = LiveServer(for_browsers(create_app(settings, clock=clock))).start()
    yield live
    live.stop()


def flush(server: LiveServer) -> None:
    app: Any = server.app
    asyncio.run_coroutine_threadsafe(app.state.usage_flusher.flush(), app.state.hubs.loop).result(
        10
    )


def report(server: LiveServer, e: Env, clock: Clock, at: int, counts: dict[str, dict[int, int]],
           application: str = "checkout") -> None:  # fmt: skip
    """Counts {flag: {variation: n}} reported by `application`, written into the hour of `at`."""
    clock.now = at
    flush(server)
    entries = [{"flag": f, "variation": v, "count": n}
               for f, per in counts.items() for v, n in per.items() if n]  # fmt: skip
    body = {"application": application, "instance": "i-1", "sdk": "python",
            "sdk_version": "1.0", "counts": entries}  # fmt: skip
    r = sdk(e.url, "/sdk/v1/usage", e.server_key, body)
    assert r.status_code == 202, r.text
    flush(server)


#: Evaluations of "new-checkout" per hour ago (0..23): variation 0 ("On") and 1 ("Off").
HOURLY = {h: (40 + 7 * (h % 5) + (23 - h) * 3, 25 - h if h < 20 else 0) for h in range(24)}


@pytest.fixture(scope="module")
def project(server: LiveServer, clock: Clock) -> dict[str, Any]:
    real_now = clock.now
    now = real_now - real_now % HOUR + 30 * 60_000  # half past this hour
    clock.now = now - 40 * DAY
    user = signup(server.url, EMAIL, password=PASSWORD)
    e = Env(server.url, user, f"/api/v1/orgs/{user.org}/projects/default",
            *_keys(user))  # fmt: skip
    make_flag(e, "new-checkout", {**BOOL, "targets": [{"variation": 1, "values": ["qa"]}]},
              name="New checkout", owner=EMAIL)  # fmt: skip
    make_flag(e, "dark-mode", name="Dark mode")
    for env_key in ("production", "staging"):
        configure(e, "dark-mode", BOOL, env_key)  # everyone gets "On", everywhere
    make_flag(e, "old-banner", BOOL, name="Old banner")
    make_flag(e, "legacy-search", name="Legacy search")  # never evaluated
    make_flag(e, "spring-promo", {**BOOL, "targets": [{"variation": 1, "values": ["x"]}]},
              name="Spring promo", removal_date="2020-04-30")  # fmt: skip
    # 30 days of history, then the last 24 hours by the hour.
    for d in range(30, 0, -1):
        day_counts = {"new-checkout": {0: 900 + 40 * (30 - d), 1: 300 if d > 10 else 120},
                      "dark-mode": {0: 500}, "spring-promo": {0: 50}}  # fmt: skip
        if d > 12:
            day_counts["old-banner"] = {0: 80}
        report(server, e, clock, now - d * DAY - 2 * HOUR, day_counts)
    for h in range(23, -1, -1):
        on, off = HOURLY[h]
        report(server, e, clock, now - h * HOUR, {"new-checkout": {0: on, 1: off}})
    report(server, e, clock, now - 2 * HOUR, {"dark-mode": {0: 30}}, application="web")
    clock.now = now
    r = user.http.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 200, r.text  # forty days passed: the session had expired
    user.csrf = r.json()["csrf_token"]
    r = user.patch(f"{e.base}/flags/old-banner?force=true", json={"archived": True})
    assert r.status_code == 200, r.text
    report(server, e, clock, now, {"old-banner": {0: 12}}, application="batch-jobs")
    clock.now = now + 60_000
    return {"org": user.org, "now": now, "env": e}


def _keys(user: Any) -> tuple[str, str]:
    from tests.http.test_delivery import client_key, server_key

    base = f"/api/v1/orgs/{user.org}/projects/default"
    return server_key(user, base), client_key(user, base)


def test_the_chart_shows_the_counts_per_variation(new_context, project):
    page = new_context(width=1280, height=1000).new_page()
    log_in(page, EMAIL)
    org = project["org"]
    page.goto(f"/o/{org}/p/default/flags/new-checkout?env=production")
    chart = page.locator("#chart-24h")
    expect(chart).to_be_visible()
    sent_on = sum(on for on, _ in HOURLY.values())
    sent_off = sum(off for _, off in HOURLY.values())
    drawn: dict[str, int] = {}
    for rect in chart.locator("rect").all():
        v = rect.get_attribute("data-variation") or ""
        drawn[v] = drawn.get(v, 0) + int(rect.get_attribute("data-count") or 0)
    assert drawn == {"0": sent_on, "1": sent_off}
    legend = page.locator("#usage-24h .legend").inner_text()
    assert f"On (variation 0): {sent_on:,}" in legend
    assert f"Off (variation 1): {sent_off:,}" in legend
    # The table (the text alternative) holds the same numbers, hour by hour.
    page.locator("#usage-24h summary").click()
    rows = page.locator("#usage-24h-table tbody tr")
    expect(rows).to_have_count(24)
    first = rows.first.locator("td").all_inner_texts()
    assert [int(x) for x in first] == [HOURLY[23][0], HOURLY[23][1], sum(HOURLY[23])]
    assert page.locator("#usage-30d").get_attribute("data-total") is not None
    expect(page.locator("#lifecycle [data-status]")).to_have_text("Active")
    expect(page.locator("#flag-applications")).to_contain_text("checkout")
    page.locator("#usage-24h summary").click()  # closed again for the picture
    page.locator("#lifecycle").scroll_into_view_if_needed()
    shot(page, "lifecycle-flag-page")
    usage = page.locator("#usage")
    usage.screenshot(path=str(_artifact("lifecycle-usage")))


def _artifact(name: str) -> Any:
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_the_cleanup_view_lists_candidates_and_archiving_asks_first(new_context, project):
    page = new_context(width=1280, height=900).new_page()
    log_in(page, EMAIL)
    org = project["org"]
    page.goto(f"/o/{org}/p/default/cleanup")
    rows = page.locator("#cleanup tbody tr")
    statuses = {r.get_attribute("data-flag"): r.get_attribute("data-status") for r in rows.all()}
    assert statuses == {
        "old-banner": "archived_evaluated",
        "legacy-search": "stale",
        "spring-promo": "stale",
        "dark-mode": "launched",
    }
    text = page.locator("#cleanup").inner_text()
    assert "never evaluated in the 40 days since it was created" in text
    assert "expected removal date 2020-04-30 has passed" in text
    assert "to everyone in every environment (production, staging)" in text
    assert "archived, but evaluated in the last 7 days in production" in text
    assert "new-checkout" not in text  # active: not a candidate
    shot(page, "lifecycle-cleanup")
    page.get_by_role("button", name="Archive dark-mode").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Archive Dark mode while it is on")
    expect(page.locator("#recent-applications")).to_contain_text("web in production")
    page.get_by_role("link", name=re.compile("^Cancel")).click()
    expect(page.locator("#lifecycle [data-status]")).to_have_text("Launched")
    page.goto(f"/o/{org}/p/default/flags?sort=evaluated")
    first = page.locator("#flag-rows tr").first
    expect(first).to_have_attribute("data-flag", "new-checkout")
    expect(page.locator("#flag-legacy-search [data-status]")).to_have_text("Stale")
    expect(page.locator("#flag-new-checkout .owner")).to_have_text(EMAIL)
    shot(page, "lifecycle-flag-list")
