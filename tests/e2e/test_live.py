"""Open pages follow changes made elsewhere: two browser contexts are two people to a page.

The flag page takes another person's change into its form when the user has not edited it,
keeps the user's edits (with a note) when they have, and never mistakes its own switch for
someone else's change. The flag list shows flags others create, archive, restore or delete,
as its search and filters would.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import confirm_change, create_flag, log_in, save_changes, shot, sign_up

TARGETS_ON = re.compile("^Context keys served On")


def two_browsers(new_context: Any, email: str, flag: str) -> tuple[Any, Any, str]:
    """Me and them (the same account in two browsers, so two pages that know nothing of each
    other), with one boolean flag; the organization key."""
    them = new_context().new_page()
    org = sign_up(them, email, "Them")
    create_flag(them, org, flag, "boolean", [])
    me = new_context().new_page()
    log_in(me, email)
    return me, them, org


def open_live(page: Any, path: str) -> None:
    page.goto(path)
    page.wait_for_selector("[data-live-ready]")


def add_rule(page: Any, attribute: str, values: str) -> None:
    """Add a one-clause rule on an open flag page and save it."""
    page.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Attribute of rule 1 clause 1").fill(attribute)
    page.get_by_label("Values of rule 1 clause 1").fill(values)
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()


def test_my_own_switch_on_a_flag_page_is_not_someone_elses_change(new_context):
    page = new_context().new_page()
    org = sign_up(page, "self@example.com", "Sam Self")
    create_flag(page, org, "Own switch", "boolean", [])
    open_live(page, f"/o/{org}/p/default/flags/own-switch?env=production")
    switch = page.get_by_role("switch", name="Own switch (own-switch) in production")
    switch.click()
    confirm_change(page)
    expect(switch).to_have_attribute("aria-checked", "true")
    # Wait until the page has compared the server's version with its own since the switch.
    version = page.locator("#flag-status").get_attribute("data-version")
    expect(page.locator(f"[data-live-checked='{version}']")).to_have_count(1)
    expect(page.locator("#changed-elsewhere")).to_be_hidden()
    expect(page.locator("#updated-elsewhere")).to_be_hidden()

    # The form is current: the next save is accepted and keeps the flag on.
    page.get_by_label(TARGETS_ON).fill("me-1")
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(page.get_by_label(TARGETS_ON)).to_have_value("me-1")


def test_someone_elses_rule_shows_on_my_open_flag_page_when_i_have_not_edited_it(new_context):
    me, them, org = two_browsers(new_context, "untouched@example.com", "Shared flag")
    path = f"/o/{org}/p/default/flags/shared-flag?env=production"
    open_live(me, path)
    them.goto(path)
    add_rule(them, "country", "DE\nFR")

    expect(me.get_by_label("Attribute of rule 1 clause 1")).to_have_value("country")
    expect(me.get_by_label("Values of rule 1 clause 1")).to_have_value("DE\nFR")
    expect(me.locator("#updated-elsewhere")).to_contain_text(
        "Someone else changed this flag in production"
    )
    expect(me.locator("#changed-elsewhere")).to_be_hidden()
    shot(me, "13-flag-page-live")

    # The form took their version too: my save goes through on top of their rule.
    me.get_by_label(TARGETS_ON).fill("vip-1")
    save_changes(me)
    expect(me.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    expect(me.get_by_label("Attribute of rule 1 clause 1")).to_have_value("country")
    expect(me.get_by_label(TARGETS_ON)).to_have_value("vip-1")


def test_my_unsaved_edits_are_kept_when_someone_else_changes_the_flag(new_context):
    me, them, org = two_browsers(new_context, "edits@example.com", "Busy flag")
    path = f"/o/{org}/p/default/flags/busy-flag?env=production"
    name = "Busy flag (busy-flag) in production"
    open_live(me, path)
    them.goto(path)

    # They flip the switch while I type: the switch follows, my edit stays, a note says why.
    me.get_by_label(TARGETS_ON).fill("someone")
    them.get_by_role("switch", name=name).click()
    confirm_change(them)
    expect(me.get_by_role("switch", name=name)).to_have_attribute("aria-checked", "true")
    expect(me.locator("#changed-elsewhere")).to_be_visible()
    expect(me.get_by_label(TARGETS_ON)).to_have_value("someone")
    # Saving anyway is refused and shows their change instead of overwriting it.
    save_changes(me)
    expect(me.get_by_role("alert")).to_contain_text("someone else changed this flag")
    expect(me.get_by_label(TARGETS_ON)).to_have_value("")
    shot(me, "10-stale-save")

    # Edits again; they add a rule. Mine stay until I choose to load theirs.
    me.wait_for_selector("[data-live-ready]")
    me.get_by_label(TARGETS_ON).fill("mine-1")
    them.reload()
    add_rule(them, "plan", "enterprise")
    expect(me.locator("#changed-elsewhere")).to_be_visible()
    expect(me.get_by_label(TARGETS_ON)).to_have_value("mine-1")
    expect(me.get_by_label("Attribute of rule 1 clause 1")).to_have_count(0)
    me.once("dialog", lambda dialog: dialog.accept())
    me.get_by_role("button", name="Load their change (discards your edits)").click()
    expect(me.get_by_label("Attribute of rule 1 clause 1")).to_have_value("plan")
    expect(me.get_by_label(TARGETS_ON)).to_have_value("")
    expect(me.locator("#changed-elsewhere")).to_be_hidden()


def test_flags_others_create_archive_restore_or_delete_come_and_go_in_an_open_list(
    new_context, server
):
    me, them, org = two_browsers(new_context, "lister@example.com", "Live one")
    open_live(me, f"/o/{org}/p/default/flags?q=live")
    expect(me.locator("#flag-count")).to_contain_text("Showing 1\u20131 of 1 flag")

    # Created elsewhere: the one the search matches appears, the other does not.
    create_flag(them, org, "Unrelated", "boolean", [])
    create_flag(them, org, "Live two", "boolean", [])
    expect(me.locator("#flag-live-two")).to_be_visible()
    expect(me.locator("#flag-count")).to_contain_text("Showing 1\u20132 of 2 flags")
    expect(me.locator("#live-status")).to_contain_text("Now listed: live-two.")
    expect(me.locator("#flag-unrelated")).to_have_count(0)

    # Archived elsewhere: it leaves the list of active flags; restored, it comes back.
    them.get_by_role("button", name="Archive flag").click()
    expect(them.get_by_role("button", name="Restore flag")).to_be_visible()
    expect(me.locator("#flag-live-two")).to_have_count(0)
    expect(me.locator("#live-status")).to_contain_text("No longer listed: live-two.")
    them.get_by_role("button", name="Restore flag").click()
    expect(them.get_by_role("button", name="Archive flag")).to_be_visible()
    expect(me.locator("#flag-live-two")).to_be_visible()

    # Deleted elsewhere (through the REST API with their session): it goes.
    token = them.locator('input[name="csrf_token"]').first.get_attribute("value")
    deleted = them.request.delete(
        f"/api/v1/orgs/{org}/projects/default/flags/live-two",
        headers={"X-CSRF-Token": token or "", "Origin": server.url},
    )
    assert deleted.status == 204, deleted.text()
    expect(me.locator("#flag-live-two")).to_have_count(0)
    expect(me.locator("#flag-count")).to_contain_text("Showing 1\u20131 of 1 flag")
    expect(me.locator("#flag-live-one")).to_be_visible()


def test_log_in_and_segment_pages(new_context):
    page = new_context().new_page()
    page.goto("/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    shot(page, "14-log-in")
    org = sign_up(page, "segments@example.com", "Sue Segment")
    page.goto(f"/o/{org}/p/default/segments?env=production")
    page.get_by_label("Name").fill("Beta testers")
    page.get_by_label("Key").fill("beta-testers")
    page.get_by_role("button", name="Create segment").click()
    page.wait_for_url(re.compile(r"/segments/beta-testers\?env=production$"))
    page.get_by_label("Included context keys").fill("alice\nbob, carol")
    page.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Attribute of rule 1 clause 1").fill("email")
    page.get_by_label("Operator of rule 1 clause 1").select_option("ends_with")
    page.get_by_label("Values of rule 1 clause 1").fill("@example.com")
    page.get_by_role("button", name="Save segment").click()
    # Production confirms changes: the flags using the segment serve by it at once.
    expect(page.get_by_role("dialog")).to_contain_text("Save your changes to segment")
    with page.expect_navigation():
        confirm_change(page)
    page.goto(f"/o/{org}/p/default/segments/beta-testers?env=production")
    expect(page.get_by_label("Included context keys")).to_have_value("alice\nbob\ncarol")
    expect(page.get_by_label("Attribute of rule 1 clause 1")).to_have_value("email")
    shot(page, "15-segment")
    page.goto(f"/o/{org}/p/default/segments?env=production")
    row = page.get_by_role("row", name=re.compile("Beta testers"))
    expect(row).to_contain_text("3")
    shot(page, "16-segments")
