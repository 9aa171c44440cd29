"""In a browser: one on/off control per environment (the switch at the top of the flag page;
the form has none), and production's "confirm changes": a dialog asks before a toggle or a
save applies, Cancel changes nothing, the comment reaches the audit log; staging applies at
once; unticking the setting on the environments page stops the questions.
Screenshots: test-artifacts/confirm-dialog.png, confirm-save-dialog.png."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import create_flag, shot, sign_up


def _config(page: Any, org: str, flag: str, env: str = "production") -> dict[str, Any]:
    answer = page.request.get(
        f"/api/v1/orgs/{org}/projects/default/flags/{flag}/environments/{env}"
    )
    assert answer.status == 200
    return dict(answer.json())


def test_a_toggle_in_production_asks_in_a_dialog_and_keeps_the_comment(new_context):
    page = new_context().new_page()
    org = sign_up(page, "confirm@example.com", "Cora Confirm")
    flag = create_flag(page, org, "Big launch", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    expect(page.get_by_label(re.compile("^On in"))).to_have_count(0)  # no second control
    switch = page.locator("#flag-status").get_by_role("switch")
    dialog = page.get_by_role("dialog")

    switch.click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Turn Big launch (big-launch) on in Production?")
    expect(dialog.get_by_label(re.compile("^Comment"))).to_be_focused()
    page.keyboard.press("Escape")  # cancelled: nothing sent
    expect(dialog).to_be_hidden()
    expect(switch).to_have_attribute("aria-checked", "false")
    assert _config(page, org, flag)["on"] is False

    switch.click()
    dialog.get_by_label(re.compile("^Comment")).fill("launch with the campaign")
    shot(page, "confirm-dialog")
    dialog.get_by_role("button", name="Confirm").click()
    expect(switch).to_have_attribute("aria-checked", "true")
    assert _config(page, org, flag)["on"] is True

    # Saving the configuration asks too; Cancel keeps the edits unsaved.
    page.get_by_label(re.compile("^Context keys served On")).fill("vip-1")
    page.get_by_role("button", name="Save changes to production").click()
    expect(dialog).to_contain_text("Save your changes to Big launch in Production?")
    shot(page, "confirm-save-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert _config(page, org, flag)["targets"] == []
    page.get_by_role("button", name="Save changes to production").click()
    dialog.get_by_label(re.compile("^Comment")).fill("VIP preview")
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    assert _config(page, org, flag)["targets"] == [{"variation": 0, "values": ["vip-1"]}]

    page.goto(f"/o/{org}/audit")
    expect(page.locator(".audit-entry").first).to_contain_text("changed the targeting of")
    detail = page.locator("#main")
    expect(detail).to_contain_text("VIP preview")
    expect(detail).to_contain_text("launch with the campaign")


def test_the_flag_list_asks_for_production_only_and_the_setting_turns_it_off(new_context):
    page = new_context().new_page()
    org = sign_up(page, "confirm-list@example.com", "Lee List")
    create_flag(page, org, "Dark mode", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags")
    dialog = page.get_by_role("dialog")
    staging = page.get_by_role("switch", name="Dark mode (dark-mode) in staging")
    staging.click()  # staging does not ask
    expect(staging).to_have_attribute("aria-checked", "true")
    expect(dialog).to_be_hidden()

    production = page.get_by_role("switch", name="Dark mode (dark-mode) in production")
    production.click()
    expect(dialog).to_contain_text("Turn Dark mode (dark-mode) on in Production?")
    dialog.get_by_role("button", name="Confirm").click()
    expect(production).to_have_attribute("aria-checked", "true")

    # Production stops asking once its setting is unticked.
    page.goto(f"/o/{org}/p/default/environments")
    box = page.get_by_label("Confirm changes in Production")
    expect(box).to_be_checked()
    box.uncheck()
    page.get_by_role("button", name="Save settings of production").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the settings")
    expect(page.get_by_label("Confirm changes in Production")).not_to_be_checked()
    page.goto(f"/o/{org}/p/default/flags")
    production = page.get_by_role("switch", name="Dark mode (dark-mode) in production")
    production.click()
    expect(production).to_have_attribute("aria-checked", "false")
    expect(dialog).to_be_hidden()


def test_a_browser_without_dialogs_gets_the_server_s_question(new_context):
    """Where <dialog> cannot open, nothing goes as confirmed without a question: the switch
    and the save are sent as plain forms, and the server's own page asks."""
    context = new_context()
    context.add_init_script("delete HTMLDialogElement.prototype.showModal;")
    page = context.new_page()
    org = sign_up(page, "no-dialog@example.com", "Nico Nodialog")
    flag = create_flag(page, org, "Old browser", "boolean", [])

    page.goto(f"/o/{org}/p/default/flags")
    page.get_by_role("switch", name="Old browser (old-browser) in production").click()
    question = page.locator("#confirm-toggle")
    expect(question).to_contain_text("Turn Old browser on in Production?")
    assert _config(page, org, flag)["on"] is False
    question.get_by_role("button", name="Turn on in Production").click()
    page.wait_for_url(re.compile(r"/flags$"))
    assert _config(page, org, flag)["on"] is True

    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    page.get_by_label(re.compile("^Context keys served On")).fill("vip-9")
    page.get_by_role("button", name="Save changes to production").click()
    expect(page.locator("#confirm-save")).to_contain_text("Save your changes to Production?")
    assert _config(page, org, flag)["targets"] == []
    page.get_by_role("button", name="Confirm and save to Production").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    assert _config(page, org, flag)["targets"] == [{"variation": 0, "values": ["vip-9"]}]
