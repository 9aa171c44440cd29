"""The two examples in a real browser against a real Launch Sequence server: the page shows the
right value from its first paint and follows a toggle made through the admin API within 1 s."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from playwright.sync_api import expect

from tests.sdk_browser.conftest import Env, load_example, shot

#: Records every text `#flag-state` shows, from the parser's first insertion on.
RECORD_STATES = """
window.__states = [];
new MutationObserver(() => {
  const el = document.getElementById('flag-state');
  if (el && window.__states[window.__states.length - 1] !== el.textContent) {
    window.__states.push(el.textContent);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""

FLAGS_JSON = re.compile(r'<script type="application/json" id="flags">(.*?)</script>', re.S)
STATE = re.compile(r'<strong id="flag-state">(on|off)</strong>')


def server_render(url: str) -> tuple[str, dict[str, Any], str]:
    """The page as the server sent it, before any JavaScript: the state, the bootstrap, the HTML."""
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200
    page = response.text
    state = STATE.search(page)
    flags = FLAGS_JSON.search(page)
    assert state and flags, page
    return state[1], json.loads(flags[1]), page


def test_python_app_renders_server_side_then_follows_live(page, env: Env, serve, flag_server):
    env.create("banner", client_side=True)  # a new flag is off
    example = load_example("python-app")
    site = serve(
        example.create_app(
            base_url=flag_server.url, server_key=env.server_key, client_key=env.client_key
        )
    )
    url = f"{site.url}/?user=alice"

    # The server's HTML: the Python SDK's value, and the bootstrap that carries the same value.
    state, bootstrap, html = server_render(url)
    assert state == "off"
    assert bootstrap["flags"]["banner"]["value"] is False  # no flash: the JS SDK starts here
    assert '<p id="banner" class="banner" hidden>' in html
    for tag in re.findall(r"<script[^>]*>", html):  # no inline executable script (CSP)
        assert 'type="application/json"' in tag or "src=" in tag, tag
    assert "script-src 'self'" in httpx.get(url).headers["content-security-policy"]

    page.add_init_script(RECORD_STATES)
    page.goto(url)
    expect(page.locator("#flag-state")).to_have_text("off")
    expect(page.locator("#banner")).to_be_hidden()
    page.wait_for_function("() => window.__streamsOpened >= 1")  # the page is live
    shot(page, "python-app-off")

    env.toggle("banner", True)
    expect(page.locator("#flag-state")).to_have_text("on", timeout=1000)
    expect(page.locator("#banner")).to_be_visible(timeout=1000)
    shot(page, "python-app-on")
    # Never showed anything but the server's value, then the toggled one: no flash, no reload.
    assert page.evaluate("window.__states") == ["off", "on"]
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    # The server side followed over the Python SDK's own stream: a new page renders "on".
    deadline = time.monotonic() + 1
    while (state := server_render(url)[0]) != "on" and time.monotonic() < deadline:
        time.sleep(0.02)
    state, bootstrap, _ = server_render(url)
    assert state == "on" and bootstrap["flags"]["banner"]["value"] is True

    env.toggle("banner", False)
    expect(page.locator("#flag-state")).to_have_text("off", timeout=1000)
    expect(page.locator("#banner")).to_be_hidden()
    assert page.errors == []  # no CSP violation, no exception


def test_plain_html_page_on_another_origin_follows_a_toggle(page, env: Env, static_server):
    env.create("banner", client_side=True)
    assert static_server != env.url  # another port: another origin, so CORS is exercised
    query = urlencode({"url": env.url, "key": env.client_key, "user": "bob"})
    page.goto(f"{static_server}/examples/html/index.html?{query}")
    expect(page.locator("#status")).to_have_text("live")
    expect(page.locator("#flag-state")).to_have_text("off")
    expect(page.locator("#banner")).to_be_hidden()
    page.wait_for_function("() => window.__streamsOpened >= 1")

    env.toggle("banner", True)
    expect(page.locator("#flag-state")).to_have_text("on", timeout=1000)
    expect(page.locator("#banner")).to_be_visible(timeout=1000)
    shot(page, "html-on")

    env.toggle("banner", False)
    expect(page.locator("#flag-state")).to_have_text("off", timeout=1000)
    assert page.errors == []


def test_plain_html_page_without_a_key_explains_itself(page, static_server):
    page.goto(f"{static_server}/examples/html/index.html")
    expect(page.locator("#usage")).to_be_visible()
    expect(page.locator("#flag-state")).to_have_text("unknown")
    assert page.errors == []
