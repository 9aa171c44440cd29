"""Project roles in a real browser: an owner makes a viewer admin of one project on its Members
page, and that member can then turn that project's flag on, and only that project's."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, confirm_change, create_flag, log_in, shot
from tests.support.api import signup


def test_an_owner_gives_a_viewer_one_project(new_context, server):
    owner = new_context().new_page()
    owner.goto("/signup")
    owner.get_by_label("Your name").fill("Ana Owner")
    owner.get_by_label("Email").fill("roles-owner@example.com")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_label("Team or company name").fill("Acme")
    owner.get_by_role("button", name=re.compile("^Sign up")).click()
    owner.wait_for_url(re.compile(r"/o/[^/]+$"))
    org = owner.url.rsplit("/o/", 1)[1]
    members = [
        ("roles-ben@example.com", "Ben Builder", "admin"),
        ("roles-cleo@example.com", "Cleo Checker", "admin"),
        ("roles-dev@example.com", "Dev Writer", "viewer"),
    ]
    api = {}
    for email, name, _ in members:
        api[email] = signup(server.url, email, password=PASSWORD, name=name)
    # Added on the organization's settings page, as an owner does.
    owner.goto(f"/o/{org}/settings")
    for email, _, role in members:
        owner.get_by_label("Their email").fill(email)
        owner.get_by_label("Their role").select_option(role)
        owner.get_by_role("button", name="Add member").click()
        expect(owner.get_by_text(f"Added {email}")).to_be_visible()
    create_flag(owner, org, "Checkout", "boolean", [])

    owner.goto(f"/o/{org}/p/default/members")
    expect(owner.get_by_role("heading", name="Members of the project Default")).to_be_visible()
    owner.get_by_label("Role of roles-dev@example.com in this project").select_option("admin")
    owner.get_by_role("button", name="Save role of roles-dev@example.com").click()
    expect(owner.get_by_role("status")).to_have_text(
        "roles-dev@example.com is now admin in this project."
    )
    owner.get_by_label("Role of roles-cleo@example.com in this project").select_option("viewer")
    owner.get_by_role("button", name="Save role of roles-cleo@example.com").click()
    expect(owner.get_by_role("status")).to_have_text(
        "roles-cleo@example.com is now viewer in this project."
    )
    expect(owner.get_by_text("What each role may do in this project")).to_be_visible()
    shot(owner, "project-members")

    # Dev, a viewer of the organization, turns the flag on in this project.
    dev = new_context().new_page()
    log_in(dev, "roles-dev@example.com")
    dev.goto(f"/o/{org}/p/default/flags")
    switch = dev.get_by_role("switch", name=re.compile(r"^Checkout .* in production$"))
    expect(switch).to_be_enabled()
    switch.click()
    confirm_change(dev)  # production asks first
    expect(switch).to_have_attribute("aria-checked", "true")
    # Cleo, an admin of the organization, only reads it now.
    cleo = new_context().new_page()
    log_in(cleo, "roles-cleo@example.com")
    cleo.goto(f"/o/{org}/p/default/flags")
    expect(
        cleo.get_by_role("switch", name=re.compile(r"^Checkout .* in production$"))
    ).to_be_disabled()
    expect(cleo.get_by_role("link", name="New flag")).to_have_count(0)
    for client in api.values():
        client.close()
