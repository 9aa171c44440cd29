"""The JS SDK as the server serves it to browsers (launchsequence.jsassets): a plain page on
another origin loads the ES module or the classic script from the flag server with the
integrity attribute the dashboard shows, sees a flag's value and a live change; a tampered
integrity value makes Chromium refuse the script."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from launchsequence.jsassets import JsAsset, asset
from tests.sdk_browser.conftest import Env, shot

OUT = "() => document.getElementById('out').textContent"

#: What a page does with the SDK, whichever way it was loaded: `sdk` holds createClient.
USE = """
  const flags = sdk.createClient({ clientKey: %(key)s, baseUrl: %(url)s,
    context: { key: 'u-1' }, storage: false });
  const out = document.getElementById('out');
  flags.ready().then(() => { out.textContent = String(flags.value('banner', null)); });
  flags.on('change:banner', (current) => { out.textContent = String(current); });
"""


def classic_page(env: Env, served: JsAsset, integrity: str) -> str:
    use = USE % {"key": json.dumps(env.client_key), "url": json.dumps(env.url)}
    return (
        "<!doctype html><meta charset=utf-8><title>classic</title><p id=out>loading</p>\n"
        f'<script src="{env.url}{served.url_path}" integrity="{integrity}"'
        ' crossorigin="anonymous"></script>\n'
        f"<script>\n  const sdk = window.LaunchSequence;\n{use}</script>\n"
    )


def module_page(env: Env, served: JsAsset, integrity: str) -> str:
    use = USE % {"key": json.dumps(env.client_key), "url": json.dumps(env.url)}
    src = f"{env.url}{served.url_path}"
    return (
        "<!doctype html><meta charset=utf-8><title>module</title><p id=out>loading</p>\n"
        # The tag checks the integrity; the import below finds that module, already checked.
        f'<script type="module" src="{src}" integrity="{integrity}"'
        ' crossorigin="anonymous"></script>\n'
        f'<script type="module">\n  import * as sdk from "{src}";\n{use}</script>\n'
    )


def open_page(page: Any, static_server: str, html: str) -> None:
    """`html` as a page of the static server's origin (not the flag server's). Written into a
    page that server served, so that Chromium sees a real loopback page loading scripts from
    another loopback origin (a page that Playwright made up would have no address space)."""
    page.goto(f"{static_server}/blank.html")
    page.set_content(html)


def tampered() -> str:
    """A well-formed sha384 integrity value of other bytes."""
    return "sha384-" + base64.b64encode(hashlib.sha384(b"not the SDK").digest()).decode()


def sees_value_and_live_change(page: Any, env: Env) -> None:
    page.wait_for_function(f"() => ({OUT})() === 'true'")
    page.wait_for_function("() => window.__streamsOpened >= 1")
    env.toggle("banner", False)
    page.wait_for_function(f"() => ({OUT})() === 'false'", timeout=2000)


def test_the_served_classic_script_with_integrity_evaluates_and_follows_a_toggle(
    page, env: Env, static_server
):
    env.create("banner", {"on": True}, client_side=True)
    served = asset("classic")
    open_page(page, static_server, classic_page(env, served, served.integrity))
    sees_value_and_live_change(page, env)
    assert page.evaluate("typeof window.LaunchSequence.createTestClient") == "function"
    shot(page, "served-classic")
    assert page.errors == []


def test_the_served_es_module_with_integrity_evaluates_and_follows_a_toggle(
    page, env: Env, static_server
):
    env.create("banner", {"on": True}, client_side=True)
    served = asset("esm")
    open_page(page, static_server, module_page(env, served, served.integrity))
    sees_value_and_live_change(page, env)
    assert page.evaluate("typeof window.LaunchSequence") == "undefined"  # a module: no global
    assert page.errors == []


def test_a_tampered_integrity_value_is_refused_by_the_browser(page, env: Env, static_server):
    env.create("banner", {"on": True}, client_side=True)
    for kind, make in (("classic", classic_page), ("esm", module_page)):
        served = asset(kind)  # type: ignore[arg-type]
        page.errors.clear()
        open_page(page, static_server, make(env, served, tampered()))
        page.wait_for_timeout(500)  # the script is refused, not slow: give it time to show
        assert page.evaluate(OUT) == "loading", kind
        assert page.evaluate("typeof window.LaunchSequence") == "undefined", kind
        assert any("integrity" in e for e in page.errors), (kind, page.errors)
