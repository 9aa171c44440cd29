"""The flag list in a browser: it filters as you type, the URL follows, and the order chosen
holds through a reload."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_up


def test_the_list_filters_as_you_type_and_keeps_its_order(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "list-typing@example.com")
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    for key in ("checkout-2", "checkout-10", "checkout-1", "search-box"):
        made = page.request.post(
            f"/api/v1/orgs/{org}/projects/default/flags",
            data={"key": key},
            headers={"X-CSRF-Token": token or "", "Origin": server.url},
        )
        assert made.status == 201, made.text()
    page.goto(f"/o/{org}/p/default/flags")
    rows = page.locator("tr[data-flag]")
    expect(rows).to_have_count(4)
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.flag)") == [
        "checkout-1", "checkout-2", "checkout-10", "search-box"
    ]  # fmt: skip

    page.get_by_label("Search by key or name").press_sequentially("check", delay=30)
    expect(rows).to_have_count(3)  # no Enter, no button
    expect(page).to_have_url(re.compile(r"\?q=check$"))
    expect(page.locator("#flag-count")).to_contain_text("Showing 1\u20133 of 3 flags")

    page.get_by_label("Order").select_option(label="Newest first")
    expect(page).to_have_url(re.compile(r"\?q=check&sort=created$"))
    expect(rows.first).to_have_attribute("data-flag", "checkout-1")
    page.reload()
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_attribute("data-flag", "checkout-1")
    expect(page.get_by_label("Search by key or name")).to_have_value("check")

    page.get_by_label("Search by key or name").fill("nothing-like-this")
    expect(page.locator("#flag-count")).to_contain_text("No flags match these filters.")
    page.get_by_role("link", name="Clear the filters").click()
    expect(rows).to_have_count(4)
    shot(page, "flag-list-orders")
