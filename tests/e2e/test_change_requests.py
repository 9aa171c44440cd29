"""In a browser, two people: the owner protects production, proposes turning a flag on there as
a change request, a second member approves it in their own session, the owner applies it, and
the flag is on. The request's page (its diff) is the screenshot in docs/governance.md."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import create_flag, shot, sign_up


def test_open_approve_and_apply_a_change_request(new_context: Any, server: Any) -> None:
    owner = new_context().new_page()
    org = sign_up(owner, "olga@example.com", "Olga")
    reviewer = new_context().new_page()
    sign_up(reviewer, "ravi@example.com", "Ravi")

    # Olga adds Ravi as an admin (through the API with her session, as the page would).
    cookies = {c["name"]: c["value"] for c in owner.context.cookies()}
    with httpx.Client(base_url=server.url, cookies=cookies) as api:
        csrf = api.get("/api/v1/me").json()["csrf_token"]
        added = api.post(
            f"/api/v1/orgs/{org}/members",
            json={"email": "ravi@example.com", "role": "admin"},
            headers={"X-CSRF-Token": csrf},
        )
        assert added.status_code == 201, added.text

    key = create_flag(owner, org, "New checkout", "boolean", [])
    owner.goto(f"/o/{org}/p/default/environments")
    settings = owner.locator("#settings-production")
    settings.get_by_label(
        "Protected: changes to flags here need an approved change request"
    ).check()
    settings.get_by_role("button", name="Save settings of production").click()
    expect(owner.locator("#protected-production")).to_have_text("protected: 1 approval")

    owner.goto(f"/o/{org}/p/default/flags/{key}?env=production")
    expect(owner.get_by_role("button", name="Save changes to production")).to_have_count(0)
    # The form proposes targeting (on/off is the switch's own request).
    owner.get_by_label(re.compile("^Context keys served On")).fill("beta-1\nbeta-2")
    owner.get_by_label("Comment on the request").fill("Launch the new checkout for everyone")
    owner.get_by_role("button", name="Request change to production").click()
    owner.wait_for_url(re.compile(r"/change-requests/\d+\?done=opened$"))
    request_url = owner.url.split("?")[0]
    expect(owner.locator("#request-state")).to_have_text("open")
    expect(owner.get_by_role("button", name="Approve")).to_have_count(0)  # not her own
    expect(owner.locator("#request-diff .d-add").first).to_be_visible()
    expect(owner.locator("#request-diff")).to_contain_text('"beta-2"')

    reviewer.goto(request_url)
    expect(reviewer.locator("#request-comment")).to_contain_text("Launch the new checkout")
    expect(reviewer.locator("#request-diff")).to_contain_text('"beta-1"')
    reviewer.get_by_role("button", name="Approve").click()
    reviewer.wait_for_url(re.compile(r"done=approve$"))
    expect(reviewer.locator("#request-state")).to_have_text("approved")

    owner.goto(request_url)
    expect(owner.locator("#request-approvals")).to_contain_text("ravi@example.com")
    owner.set_viewport_size({"width": 1100, "height": 760})
    shot(owner, "change-request")
    owner.get_by_role("button", name="Apply change").click()
    owner.wait_for_url(re.compile(r"done=apply$"))
    expect(owner.locator("#request-state")).to_have_text("applied")

    owner.goto(f"/o/{org}/p/default/flags/{key}?env=production")
    expect(owner.locator("#protected-state")).to_have_text("Off in production (protected)")
    expect(owner.get_by_label(re.compile("^Context keys served On"))).to_have_value(
        "beta-1\nbeta-2"
    )

    # The switch proposes too: turning it on is a request, approved, applied: it is on.
    owner.locator("#toggle-request-comment").fill("Go live")
    owner.get_by_role("button", name="Request turning it on").click()
    owner.wait_for_url(re.compile(r"/change-requests/\d+\?done=opened$"))
    toggle_url = owner.url.split("?")[0]
    reviewer.goto(toggle_url)
    expect(reviewer.locator("#request-diff")).to_contain_text('"on": true')
    reviewer.get_by_role("button", name="Approve").click()
    reviewer.wait_for_url(re.compile(r"done=approve$"))
    owner.goto(toggle_url)
    owner.get_by_role("button", name="Apply change").click()
    owner.wait_for_url(re.compile(r"done=apply$"))
    owner.goto(f"/o/{org}/p/default/flags/{key}?env=production")
    expect(owner.locator("#protected-state")).to_have_text("On in production (protected)")
