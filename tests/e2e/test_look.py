"""How the dashboard looks: a favicon, dark mode when the system asks for it, and keyboard focus
that never hides under the flag page's sticky save bar."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import create_flag, shot, sign_up


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
