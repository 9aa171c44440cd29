"""The dashboard in a real browser against a real server: what a team does in a day."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import (
    PASSWORD,
    confirm_change,
    create_flag,
    log_in,
    save_changes,
    shot,
    sign_up,
    turn_on,
)


def evaluate(base_url: str, server_key: str, flag: str, context: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"{base_url}/sdk/v1/evaluate",
        json={"context": context, "flags": [flag]},
        headers={"Authorization": f"Bearer {server_key}"},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["flags"][flag])


def test_an_owner_builds_targets_a_flag_and_reads_it_back_through_the_sdk(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "owner@example.com", "Olive Owner")
    shot(page, "01-dashboard-empty")

    # A flag of each type; the JSON one is checked in the page before it is sent.
    assert (
        create_flag(page, org, "Checkout banner", "string", ["blue", "green"]) == "checkout-banner"
    )
    assert create_flag(page, org, "Page size", "number", ["10", "25.5"]) == "page-size"
    page.goto(f"/o/{org}/p/default/flags/new")
    page.get_by_label("Name", exact=True).fill("Theme config")
    page.get_by_label("Type", exact=True).select_option("json")
    page.wait_for_load_state()
    page.get_by_label("Value of variation 1").fill("{not json")
    expect(page.locator("#vv0-msg")).to_contain_text("Not valid JSON")
    page.get_by_role("button", name="Create flag", exact=True).click()
    assert page.url.endswith("/flags/new")  # not sent
    page.get_by_label("Value of variation 1").fill('{"dark": true}')
    page.get_by_label("Value of variation 2").fill('{"dark": false}')
    shot(page, "02-new-flag")
    page.get_by_role("button", name="Create flag", exact=True).click()
    page.wait_for_url(re.compile("/flags/theme-config$"))
    flag = create_flag(page, org, "New checkout", "boolean", [])
    assert flag == "new-checkout"

    # Targets, a rule with two clauses and a rollout, a default; saved in production.
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    page.get_by_label(re.compile("^Context keys served On")).fill("vip-1\nvip-2, vip-3")
    page.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Attribute of rule 1 clause 1").fill("country")
    page.get_by_label("Values of rule 1 clause 1").fill("DE\nFR")
    page.get_by_role("button", name="Add a clause to rule 1").click()
    expect(page.get_by_label("Values of rule 1 clause 1")).to_have_value("DE\nFR")  # kept
    page.get_by_label("Attribute of rule 1 clause 2").fill("plan")
    page.get_by_label("Values of rule 1 clause 2").fill("enterprise")
    page.locator("#r0-serve").select_option("rollout")
    page.locator("#r0-w0").fill("100")
    page.locator("#r0-w1").fill("0")
    page.locator("#ft-serve").select_option("1")
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    turn_on(page)  # the one on/off control: the switch at the top, applied at once
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production&context=" + '{"key":"vip-2"}')
    expect(page.locator("#test-reason")).to_have_text("TARGETING_MATCH")
    shot(page, "03-flag-page")

    # Toggle on the flag list: staging on, at once, without leaving the page.
    page.goto(f"/o/{org}/p/default/flags")
    staging = page.get_by_role("switch", name="New checkout (new-checkout) in staging")
    expect(staging).to_have_attribute("aria-checked", "false")
    staging.click()
    expect(staging).to_have_attribute("aria-checked", "true")
    page.reload()
    expect(
        page.get_by_role("switch", name="New checkout (new-checkout) in staging")
    ).to_have_attribute("aria-checked", "true")
    shot(page, "04-flag-list")

    # Sign-up made no server key: create production's; it is shown once. Then rotate it (with
    # confirmation); the new one is shown once too.
    page.goto(f"/o/{org}/p/default/environments")
    page.get_by_role("button", name="Create the server key of Production").click()
    expect(page.locator("#revealed-key")).to_have_text(re.compile("^ls_srv_"))
    page.get_by_role("button", name="Rotate the server key of Production…").click()
    page.get_by_role("button", name="Yes, rotate the server key of Production").click()
    server_key = page.locator("#revealed-key").inner_text()
    assert server_key.startswith("ls_srv_")
    expect(page.locator("#snip-production-curl")).to_contain_text(server_key)
    shot(page, "05-environments")
    page.goto(f"/o/{org}/p/default/environments")
    expect(page.locator("#revealed-key")).to_have_count(0)

    matching = evaluate(
        server.url, server_key, flag, {"key": "u-9", "country": "DE", "plan": "enterprise"}
    )
    assert matching["value"] is True and matching["reason"] in ("SPLIT", "TARGETING_MATCH"), (
        matching
    )
    assert matching.get("rule_index") == 0, matching
    other = evaluate(server.url, server_key, flag, {"key": "u-9", "country": "DE", "plan": "free"})
    assert (other["value"], other["reason"]) == (False, "DEFAULT"), other
    target = evaluate(server.url, server_key, flag, {"key": "vip-3"})
    assert (target["value"], target["reason"]) == (True, "TARGETING_MATCH"), target

    page.goto(f"/o/{org}/audit")
    page.get_by_label("Action").select_option(label="Targeting changed")
    page.get_by_role("button", name="Filter").click()
    entry = page.locator(".audit-entry").first
    expect(entry.locator(".sentence")).to_contain_text("Olive Owner changed the targeting of")
    expect(entry.locator(".diff-lines")).to_be_hidden()
    entry.locator("summary time").click()  # a compact row expands to the difference
    expect(entry.locator(".diff-lines .d-add, .diff-lines .d-del").first).to_be_visible()
    expect(entry).to_contain_text("flag.configured")
    shot(page, "06-audit")
    page.goto(f"/o/{org}")
    expect(page.locator(".project")).to_contain_text("4 flags")
    shot(page, "07-dashboard")
    mobile = new_context(390, 844).new_page()
    mobile.goto("/login")
    mobile.get_by_label("Email").fill("owner@example.com")
    mobile.get_by_label("Password").fill(PASSWORD)
    mobile.get_by_role("button", name="Log in").click()
    mobile.wait_for_url(re.compile(r"/o/[^/]+$"))
    mobile.goto(f"/o/{org}/p/default/flags")
    shot(mobile, "08-flag-list-390px")


def test_an_invited_viewer_signs_up_through_the_link_and_changes_nothing(new_context, server):
    owner = new_context().new_page()
    org = sign_up(owner, "inviter@example.com", "Ivy Inviter")
    create_flag(owner, org, "Dark mode", "boolean", [])
    owner.goto(f"/o/{org}/settings")
    owner.get_by_label("Role", exact=True).select_option("viewer")
    owner.get_by_role("button", name="Create invitation link").click()
    link = owner.locator("#invite-url").inner_text()
    assert "/signup?invitation=lsi_" in link
    shot(owner, "09-settings")

    viewer = new_context().new_page()
    viewer.goto("/" + link.split("/", 3)[3])
    expect(viewer.get_by_role("heading", name=re.compile("^Join"))).to_be_visible()
    viewer_org = sign_up(viewer, "viewer@example.com", "Vic Viewer", path=viewer.url)
    assert viewer_org == org
    expect(viewer.get_by_role("link", name="Default")).to_be_visible()
    viewer.get_by_role("link", name="Default").click()
    switch = viewer.get_by_role("switch", name="Dark mode (dark-mode) in production")
    expect(switch).to_be_disabled()
    expect(viewer.get_by_role("link", name="New flag")).to_have_count(0)
    # Even a hand-made request with a valid CSRF token is refused.
    token = viewer.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = viewer.request.post(
        f"/o/{org}/p/default/toggle",
        form={"csrf_token": token, "toggle": "dark-mode production 1"},
        headers={"Origin": server.url},
    )
    assert answer.status == 403
    viewer.goto(f"/o/{org}/p/default/flags/dark-mode?env=production")
    expect(viewer.get_by_role("button", name=re.compile("^Save changes"))).to_have_count(0)
    expect(viewer.locator("#flag-status").get_by_role("switch")).to_be_disabled()

    # The link works once.
    again = new_context().new_page()
    again.goto("/" + link.split("/", 3)[3])
    expect(again.locator(".field-error")).to_contain_text("not valid")


def test_a_toggle_shows_in_another_open_browser_within_a_second(new_context, server):
    first = new_context().new_page()
    org = sign_up(first, "live@example.com", "Lee Live")
    create_flag(first, org, "Live flag", "boolean", [])
    second = new_context().new_page()
    log_in(second, "live@example.com")

    first.goto(f"/o/{org}/p/default/flags")
    second.goto(f"/o/{org}/p/default/flags")
    second.wait_for_selector("[data-live-ready]")
    name = "Live flag (live-flag) in production"
    first.get_by_role("switch", name=name).click()
    confirm_change(first)
    expect(first.get_by_role("switch", name=name)).to_have_attribute("aria-checked", "true")
    started = time.monotonic()
    expect(second.get_by_role("switch", name=name)).to_have_attribute(
        "aria-checked", "true", timeout=1000
    )
    assert time.monotonic() - started < 1.0


def test_an_owner_edits_a_variation_renames_an_environment_and_pages_through_flags(
    new_context, server
):
    page = new_context().new_page()
    org = sign_up(page, "editor@example.com", "Eddie Editor")
    flag = create_flag(page, org, "Hero color", "string", ["blue", "green"])

    # Change the second variation's value and name; the flag page's menus follow.
    page.get_by_role("link", name="edit variations").click()
    expect(page.get_by_role("heading", name="Variations of Hero color")).to_be_visible()
    page.get_by_label("Value of variation 2").fill("teal")
    page.get_by_label("Name of variation 2").fill("Teal")
    page.get_by_role("button", name="Add a variation").click()
    expect(page.get_by_label("Value of variation 2")).to_have_value("teal")  # kept
    page.get_by_label("Value of variation 3").fill("teal")
    page.get_by_role("button", name="Save variations", exact=True).click()
    expect(page.locator("#variations\\[2\\]-error, .alert.error").first).to_contain_text("distinct")
    page.get_by_label("Value of variation 3").fill("red")
    page.get_by_role("button", name="Save variations", exact=True).click()
    # Production serves variation 2 when off and confirms changes: the page asks first.
    expect(page.locator("#confirm-save")).to_contain_text(
        "Save the new values, served in Production?"
    )
    expect(page.get_by_label("Value of variation 3")).to_have_value("red")  # kept
    page.get_by_role("button", name="Confirm and save the variations").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the variations.")
    shot(page, "11-variations")
    # The first variation is what production serves by default: it cannot be removed.
    page.get_by_role("button", name="Remove variation 1").click()
    expect(page.locator("#variations\\[0\\]-error")).to_contain_text("in use in production")
    page.get_by_role("button", name="Remove variation 3").click()
    expect(page.get_by_role("status")).to_contain_text("Removed the variation.")
    expect(page.get_by_label("Value of variation 3")).to_have_count(0)
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    expect(page.get_by_label("When off, serve")).to_contain_text("Teal")

    # Rename staging; the flag page's environment tabs show the new name.
    page.goto(f"/o/{org}/p/default/environments")
    page.get_by_label("Name of staging").fill("QA & review")
    page.get_by_role("button", name="Save settings of staging").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the settings of the environment")
    page.goto(f"/o/{org}/p/default/flags/{flag}")
    expect(page.get_by_role("navigation", name="Environments")).to_contain_text("QA & review")

    # 60 more flags through the API: the list shows 50, the next page the rest.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    for i in range(60):
        made = page.request.post(
            f"/api/v1/orgs/{org}/projects/default/flags",
            data={"key": f"bulk-{i:02d}", "name": f"Bulk {i:02d}"},
            headers={"X-CSRF-Token": token or "", "Origin": server.url},
        )
        assert made.status == 201, made.text()
    page.goto(f"/o/{org}/p/default/flags")
    expect(page.locator("#flag-count")).to_contain_text("Showing 1\u201350 of 61 flags")
    expect(page.locator("tr[data-flag]")).to_have_count(50)
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"\?page=2$"))
    expect(page.locator("tr[data-flag]")).to_have_count(11)
    expect(page.locator("#flag-count")).to_contain_text("Showing 51\u201361 of 61 flags")
    switch = page.get_by_role("switch", name="Hero color (hero-color) in staging")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(page.locator("tr[data-flag]")).to_have_count(11)
    shot(page, "12-flag-list-page-2")
