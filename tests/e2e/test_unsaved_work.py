"""Unsaved edits on a flag's page survive what used to drop them without a word: the session
ending before Save, testing a context, and leaving the page (which now asks first)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import delete, select

from launchsequence.store.tables import sessions, users
from tests.e2e.conftest import PASSWORD, create_flag, save_changes, shot, sign_up, turn_on
from tests.support.live import LiveServer

TARGETS_ON = re.compile("^Context keys served On")
CLIENT_SIDE = "Available to client-side SDKs (client key)"


def end_sessions(server: LiveServer, email: str) -> None:
    """End every session of `email` on the server, as expiry or a revocation elsewhere does."""
    with server.app.state.services.rt.write_db.begin() as conn:
        user_id = select(users.c.id).where(users.c.email == email).scalar_subquery()
        conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def stored(page: Any, org: str, flag: str) -> dict[str, Any]:
    """The configuration in production as the server holds it (the page's own session)."""
    answer = page.request.get(
        f"/api/v1/orgs/{org}/projects/default/flags/{flag}/environments/production"
    )
    assert answer.status == 200, answer.text()
    return dict(answer.json())


def test_edits_saved_after_the_session_ended_come_back_after_logging_in(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "drafter@example.com", "Dee Drafter")
    flag = create_flag(page, org, "Kept edits", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    page.get_by_label(TARGETS_ON).fill("vip-1\nvip-2")
    page.get_by_label(CLIENT_SIDE).check()

    end_sessions(server, "drafter@example.com")
    save_changes(page)
    page.wait_for_url(re.compile(r"/login\?"))
    expect(page.locator("#kept-notice")).to_contain_text("They are kept")
    page.get_by_label("Email").fill("drafter@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(re.compile(f"/flags/{flag}$"))
    expect(
        page.get_by_role("status").filter(has_text="Restored your unsaved changes")
    ).to_be_visible()
    expect(page.get_by_label(TARGETS_ON)).to_have_value("vip-1\nvip-2")
    expect(page.get_by_label(CLIENT_SIDE)).to_be_checked()
    shot(page, "unsaved-restored-after-login")
    assert stored(page, org, flag)["targets"] == []  # kept, not saved behind the user's back

    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    config = stored(page, org, flag)
    assert config["client_side"] is True
    assert config["targets"] == [{"variation": 0, "values": ["vip-1", "vip-2"]}]


def test_testing_a_context_uses_the_unsaved_form_and_keeps_it(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "panel-user@example.com", "Pat Panel")
    flag = create_flag(page, org, "Try first", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    before = stored(page, org, flag)
    turn_on(page)
    before = stored(page, org, flag)
    page.get_by_label(TARGETS_ON).fill("vip-7")
    page.get_by_label(CLIENT_SIDE).check()
    page.get_by_text("Edit as JSON").click()  # the raw JSON, beside the key and attribute rows
    page.get_by_label("Context (JSON)").fill('{"key": "vip-7"}')

    page.get_by_role("button", name="Evaluate in production").click()
    expect(page.locator("#test-reason")).to_have_text("TARGETING_MATCH")
    expect(page.locator("#test-value")).to_have_text("true")
    expect(page.locator("#test-source")).to_contain_text("unsaved edits")
    expect(page.get_by_label(TARGETS_ON)).to_have_value("vip-7")
    expect(page.get_by_label(CLIENT_SIDE)).to_be_checked()
    expect(page.get_by_label("Context (JSON)")).to_have_value('{"key": "vip-7"}')
    shot(page, "unsaved-test-a-context")
    after = stored(page, org, flag)
    assert (after["version"], after["client_side"], after["targets"]) == (
        before["version"],
        False,
        [],
    )

    # Another context against the same edits, still unsaved.
    page.get_by_text("Edit as JSON").click()
    page.get_by_label("Context (JSON)").fill('{"key": "someone"}')
    page.get_by_role("button", name="Evaluate in production").click()
    expect(page.locator("#test-reason")).to_have_text("DEFAULT")
    expect(page.get_by_label(TARGETS_ON)).to_have_value("vip-7")


def test_leaving_a_page_with_unsaved_edits_asks_first(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "leaver@example.com", "Lee Leaver")
    flag = create_flag(page, org, "Stay put", "boolean", [])
    url = f"/o/{org}/p/default/flags/{flag}?env=production"
    dialogs: list[str] = []

    def stay(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)

    # No edits: the tabs just go.
    page.goto(url)
    page.get_by_role("link", name="Staging", exact=True).click()
    page.wait_for_url(re.compile(r"env=staging$"))
    assert dialogs == []

    page.goto(url)
    page.get_by_label(CLIENT_SIDE).check()
    page.get_by_label(TARGETS_ON).fill("vip-9")
    page.get_by_role("link", name="Staging", exact=True).click()
    for _ in range(50):  # the dialog arrives as an event: wait for it, at most 5 s
        if dialogs:
            break
        page.wait_for_timeout(100)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith("env=production")  # stayed
    expect(page.get_by_label(TARGETS_ON)).to_have_value("vip-9")

    # Saving is not leaving: no question, and the edits are stored.
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    assert dialogs == ["beforeunload"]
    page.get_by_role("link", name="Staging", exact=True).click()
    page.wait_for_url(re.compile(r"env=staging$"))
    assert dialogs == ["beforeunload"]


def test_leaving_a_segment_with_unsaved_edits_asks_first(new_context, server):
    page = new_context().new_page()
    org = sign_up(page, "segments@example.com", "Sue Segment")
    page.goto(f"/o/{org}/p/default/segments?env=production")
    page.get_by_label("Key").fill("vips")
    page.get_by_role("button", name=re.compile("^Create")).click()
    page.wait_for_url(re.compile(r"/segments/vips\?env=production$"))
    dialogs: list[str] = []

    def stay(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.get_by_label("Included context keys").fill("vip-1")
    page.get_by_role("link", name="Flags", exact=True).click()
    for _ in range(50):  # the dialog arrives as an event: wait for it, at most 5 s
        if dialogs:
            break
        page.wait_for_timeout(100)
    assert dialogs == ["beforeunload"]
    expect(page.get_by_label("Included context keys")).to_have_value("vip-1")
