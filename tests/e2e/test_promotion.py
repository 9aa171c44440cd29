"""In a browser: compare staging with production, copy a rule across and see it in production;
then act on flags chosen in the flag list. The comparison's screenshot is the one in
docs/governance.md (docs/screenshots/compare-flag.png)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, create_flag, shot, sign_up
from tests.support.live import LiveServer

RULE = {
    "description": "EU enterprise customers",
    "clauses": [
        {"attribute": "country", "op": "in", "values": ["DE", "FR", "NL"]},
        {"attribute": "plan", "op": "in", "values": ["enterprise"]},
    ],
    "serve": {"variation": 0},
}


def api_session(server: LiveServer, email: str) -> httpx.Client:
    """The same user through the API (a session of its own), for setting the scene."""
    client = httpx.Client(base_url=server.url, timeout=30)
    logged = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert logged.status_code == 200, logged.text
    client.headers["X-CSRF-Token"] = logged.json()["csrf_token"]
    return client


def test_compare_staging_with_production_and_copy_a_rule_across(
    new_context: Any, server: LiveServer
) -> None:
    page = new_context(1280, 1000).new_page()
    org = sign_up(page, "promoter@example.com", "Pat")
    key = create_flag(page, org, "New checkout", "boolean", [])
    create_flag(page, org, "Search box", "boolean", [])
    api = api_session(server, "promoter@example.com")
    try:
        weights = [{"variation": 0, "weight": 25000}, {"variation": 1, "weight": 75000}]
        staging = {
            "on": True,
            "targets": [{"variation": 0, "values": ["qa-anna", "qa-ben"]}],
            "rules": [RULE],
            "fallthrough": {"rollout": {"weights": weights}},
        }
        path = f"/api/v1/orgs/{org}/projects/default/flags/{key}/environments/staging"
        got = api.patch(path, json=staging)
        assert got.status_code == 200, got.text
    finally:
        api.close()

    page.goto(f"/o/{org}/p/default/flags")
    page.get_by_role("link", name="Compare environments").click()
    expect(page.locator("#compare-summary")).to_contain_text(
        "1 of 2 flags differs between staging and production"
    )
    row = page.locator(f"#compare-{key}")
    expect(row).to_have_attribute("data-differs", "true")
    expect(row).to_contain_text("Rules")
    shot(page, "compare-project")
    page.get_by_label(f"Compare {key} in staging and production").click()

    rules = page.locator("#part-rules")
    expect(rules).to_have_attribute("data-differs", "true")
    expect(rules).to_contain_text("Rule 1: EU enterprise customers")
    expect(rules).to_contain_text("if country is one of DE, FR, NL")
    expect(page.locator("#part-fallthrough")).to_contain_text("25% true (On), 75% false (Off)")
    shot(page, "compare-flag")

    # Only the rule goes across: the switch and the targets stay as production has them.
    page.get_by_role("checkbox", name="On / off").uncheck()
    page.get_by_role("checkbox", name="Individual targets").uncheck()
    page.get_by_role("checkbox", name="Default rule (fallthrough)").uncheck()
    expect(page.get_by_role("checkbox", name="Rules", exact=True)).to_be_checked()
    page.locator("#copy-comment").fill("promote the EU rule")
    page.get_by_role("button", name="Copy to production").click()
    # Production confirms changes: a page names the parts first, the comment kept.
    asked = page.locator("#confirm-change-page")
    expect(asked).to_contain_text("Copy into Production?")
    expect(asked.locator("#confirm-items")).to_have_text("Rules")
    expect(asked.get_by_label(re.compile("^Comment"))).to_have_value("promote the EU rule")
    asked.get_by_role("button", name="Copy into Production").click()
    page.wait_for_url(re.compile(r"copied=rules"))
    expect(page.locator("#copied")).to_contain_text("Copied Rules from staging to production")
    expect(page.locator("#part-rules")).to_have_attribute("data-differs", "false")
    expect(page.locator("#part-on")).to_have_attribute("data-differs", "true")

    page.goto(f"/o/{org}/p/default/flags/{key}?env=production")
    expect(page.get_by_label("Description of rule 1")).to_have_value("EU enterprise customers")
    switch = page.locator("#flag-status").get_by_role("switch")
    expect(switch).to_have_attribute("aria-checked", "false")  # on/off was not copied
    page.goto(f"/o/{org}/audit")
    expect(page.locator("main")).to_contain_text("promote the EU rule")


def test_bulk_turn_on_chosen_flags_from_the_list(new_context: Any) -> None:
    page = new_context().new_page()
    org = sign_up(page, "bulk@example.com", "Bo")
    keys = [create_flag(page, org, name, "boolean", []) for name in ("Alpha", "Beta", "Gamma")]
    page.goto(f"/o/{org}/p/default/flags")
    page.get_by_label("Select Alpha (alpha)").check()
    page.get_by_label("Select Gamma (gamma)").check()
    page.get_by_label("With the selected flags").select_option(label="Turn on in Production")
    page.locator("#bulk-comment").fill("launch")
    shot(page, "flag-list-bulk")
    page.get_by_role("button", name="Apply to selected").click()
    # Production confirms changes: a page lists the flags first; nothing is on yet.
    asked = page.locator("#confirm-change-page")
    expect(asked).to_contain_text("Turn 2 flags on in Production?")
    expect(asked.locator("#confirm-items li")).to_have_text(["alpha", "gamma"])
    expect(asked.get_by_label(re.compile("^Comment"))).to_have_value("launch")
    shot(page, "bulk-confirm")
    asked.get_by_role("button", name="Turn 2 flags on in Production").click()
    expect(page.locator("#bulk-summary")).to_contain_text("Turn on in Production: 2 flags done")
    page.get_by_role("link", name="Back to the flags").click()
    for key, on in zip(keys, (True, False, True), strict=True):
        switch = page.get_by_label(f"{key.capitalize()} ({key}) in production")
        expect(switch).to_have_attribute("aria-checked", "true" if on else "false")
