"""How the dashboard looks: a favicon, dark mode when the system asks for it, keyboard focus
that never hides under the flag page's sticky save bar, and the pages the README shows
(test-artifacts/readme-*.png, copied to docs/screenshots once looked at)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, PASSWORD, create_flag, save_changes, shot, sign_up


def test_the_favicon_is_served(server):
    r = httpx.get(f"{server.url}/favicon.ico", timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in r.content


def test_dark_mode_follows_the_system(browser, server):
    for scheme, expect_dark in (("dark", True), ("light", False)):
        context = browser.new_context(base_url=server.url, color_scheme=scheme)
        try:
            page = context.new_page()
            page.goto("/login")
            rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
            channels = [int(c) for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
            assert (sum(channels) / 3 < 60) is expect_dark, (scheme, rgb)
            field = page.get_by_label("Email")
            ink = field.evaluate("e => getComputedStyle(e).color")
            assert ink != rgb
            if expect_dark:
                shot(page, "look-login-dark")
        finally:
            context.close()


def test_focus_never_hides_under_the_sticky_save_bar(new_context):
    page = new_context(1280, 800).new_page()
    org = sign_up(page, "look-focus@example.com")
    key = create_flag(page, org, "Focus check", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags/{key}")
    bar = page.locator(".actions.sticky")
    expect(bar).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("body").click(position={"x": 5, "y": 5})
    hidden = []
    for _ in range(60):  # every stop of the Tab order on the page
        page.keyboard.press("Tab")
        box = page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body || el.closest('.actions.sticky')) return null;
              const r = el.getBoundingClientRect();
              const bar = document.querySelector('.actions.sticky').getBoundingClientRect();
              return {name: el.name || el.id || el.textContent.trim().slice(0, 30),
                      covered: r.height > 0 && r.bottom > bar.top + 1 && r.top < bar.bottom - 1};
            }"""
        )
        if box and box["covered"]:
            hidden.append(box)
    assert hidden == []


def _api(page, method: str, path: str, data: object) -> None:  # type: ignore[no-untyped-def]
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
    origin = page.url.split("/o/", 1)[0]
    answer = page.request.fetch(
        f"/api/v1{path}", method=method, data=data,
        headers={"X-CSRF-Token": token, "Origin": origin},
    )  # fmt: skip
    assert answer.status in (200, 201), (path, answer.status, answer.text())


def _view(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The first screen of the page as it is, at the context's size (the README's pictures)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_the_pages_of_the_readme(browser, server, new_context):
    """A team's project as the README shows it, at 1280x800 and 390x844: the first steps of a
    new project, the flag list, a flag in production with its confirmation dialog, the
    environments with their settings, and the audit log with the comments given."""
    page = new_context(1280, 800).new_page()
    org = sign_up(page, "readme@example.com", "Ana Admin")
    page.goto(f"/o/{org}/p/default/flags")
    expect(page.locator("#first-steps")).to_contain_text("0 of 3 done")
    _view(page, "readme-first-steps")

    project = f"/orgs/{org}/projects/default"
    flags = [("new-checkout", "New checkout", ["web", "payments"]),
             ("dark-mode", "Dark mode", ["web"]), ("search-v2", "Search v2", ["api"]),
             ("onboarding-tour", "Onboarding tour", ["web", "growth"]),
             ("pricing-page", "Pricing page", ["growth"]), ("rate-limits", "Rate limits", ["api"]),
             ("beta-dashboard", "Beta dashboard", ["web"])]  # fmt: skip
    for key, name, tags in flags:
        _api(page, "POST", f"{project}/flags",
             {"key": key, "name": name, "tags": tags, "owner": "readme@example.com"})  # fmt: skip
    for key in ("dark-mode", "search-v2", "rate-limits"):
        _api(page, "PATCH", f"{project}/flags/{key}/environments/staging", {"on": True})
    _api(page, "PATCH", f"{project}/flags/dark-mode/environments/production", {"on": True})

    page.goto(f"/o/{org}/p/default/flags/new-checkout?env=production")
    page.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Attribute of rule 1 clause 1").fill("country")
    page.get_by_label("Values of rule 1 clause 1").fill("DE\nFR")
    page.get_by_label("Description of rule 1").fill("Europe first")
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    page.locator("#flag-status").get_by_role("switch").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(re.compile("^Comment")).fill("Launch in Europe, ticket WEB-482")
    _view(page, "readme-confirm-dialog")
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#flag-status").get_by_role("switch")).to_have_attribute(
        "aria-checked", "true"
    )
    page.goto(f"/o/{org}/p/default/flags/new-checkout?env=production")
    _view(page, "readme-flag-page")

    page.goto(f"/o/{org}/p/default/flags")
    expect(page.locator("#first-steps")).to_contain_text("1 of 3 done")
    page.locator("#first-steps").get_by_role("button", name="Dismiss the first steps").click()
    expect(page.locator("#first-steps")).to_have_count(0)
    # The list as anyone opens it: not the one-time note that answers the dismissal.
    page.goto(f"/o/{org}/p/default/flags")
    expect(page.locator("#flag-rows")).to_contain_text("Beta dashboard")
    expect(page.get_by_text("Dismissed the first steps")).to_have_count(0)
    _view(page, "readme-flag-list")

    page.goto(f"/o/{org}/p/default/environments")
    expect(page.get_by_label("Confirm changes in Production")).to_be_checked()
    _view(page, "readme-environments")

    page.goto(f"/o/{org}/audit")
    expect(page.locator("#main")).to_contain_text("Launch in Europe, ticket WEB-482")
    page.locator(".audit-entry").first.locator("summary").click()
    _view(page, "readme-audit")

    phone = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    try:
        small = phone.new_page()
        small.goto("/login")
        small.get_by_label("Email").fill("readme@example.com")
        small.get_by_label("Password").fill(PASSWORD)
        small.get_by_role("button", name="Log in").click()
        small.wait_for_url(re.compile(r"/o/[^/]+$"))
        small.goto(f"/o/{org}/p/default/flags")
        _view(small, "readme-flag-list-390")
        small.goto(f"/o/{org}/p/default/flags/new-checkout?env=production")
        small.locator("#flag-status").get_by_role("switch").click()
        expect(small.get_by_role("dialog")).to_be_visible()
        _view(small, "readme-confirm-dialog-390")
    finally:
        phone.close()
