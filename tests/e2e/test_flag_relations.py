"""A user edits a flag's prerequisite and its metadata on the flag page, in a real browser, and
sees both saved; leaving with an unsaved prerequisite asks first."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import create_flag, save_changes, shot, sign_up
from tests.e2e.test_unsaved_work import stored


def test_a_prerequisite_and_metadata_are_edited_and_saved_on_the_flag_page(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "relations@example.com", "Rel Ations")
    billing = create_flag(page, org, "Billing", "boolean", [])
    flag = create_flag(page, org, "Checkout", "boolean", [])
    url = f"/o/{org}/p/default/flags/{flag}?env=production"
    dialogs: list[str] = []

    def stay(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)

    page.goto(url)
    page.get_by_role("button", name="Add a prerequisite").click()
    page.get_by_label("Prerequisite 1").select_option(label=f"{billing} serves On (true)")
    # An unsaved prerequisite is unsaved work: leaving asks first.
    page.get_by_role("link", name="Staging", exact=True).click()
    for _ in range(50):  # the dialog arrives as an event: wait for it, at most 5 s
        if dialogs:
            break
        page.wait_for_timeout(100)
    assert dialogs == ["beforeunload"]
    assert stored(page, org, flag)["prerequisites"] == []

    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    assert stored(page, org, flag)["prerequisites"] == [{"flag": billing, "variation": 0}]
    expect(page.get_by_label("Prerequisite 1")).to_have_value(f"{billing}:0")
    assert dialogs == ["beforeunload"]  # saving is not leaving

    page.get_by_text("Edit name, description, tags and metadata").click()
    page.get_by_label("Metadata (one entry a line: name = value)").fill(
        "owner = web team\nbeta = true\nlimit = 3"
    )
    page.get_by_role("button", name="Save name, description, tags and metadata").click()
    expect(page.get_by_role("status").filter(has_text="tags and metadata")).to_be_visible()
    expect(page.locator("#metadata")).to_contain_text("web team")
    answer = page.request.get(f"/api/v1/orgs/{org}/projects/default/flags/{flag}")
    assert answer.json()["metadata"] == {"owner": "web team", "beta": True, "limit": 3}
    shot(page, "flag-prerequisite-and-metadata")

    # The prerequisite's own page names the flag that requires it.
    page.goto(f"/o/{org}/p/default/flags/{billing}?env=production")
    expect(page.locator("#dependents")).to_contain_text(flag)
    assert re.search("production", page.locator("#dependents").inner_text())
