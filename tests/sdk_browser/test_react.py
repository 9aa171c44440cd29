"""@launchsequence/react in headless Chromium: a page rendered by React on a Node server (the
SSR fixture sdks/react/test/ssr/server.js, which fetches the bootstrap from a real Launch
Sequence server per request) and hydrated in the browser. What a visitor would notice: the
page never shows another value than the server rendered (no hydration mismatch, no flicker, no
second render), and a toggle at the flag server reaches it within a second, re-rendering only
the component that reads that flag."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sdk_browser.conftest import Env

PACKAGE = Path(__file__).resolve().parents[2] / "sdks" / "react"

COLOR = {
    "type": "string",
    "variations": [{"value": "red", "name": "Red"}, {"value": "blue", "name": "Blue"}],
}
VIP = {  # on for the individual target vip-1 only
    "on": True,
    "off_variation": 1,
    "fallthrough": {"variation": 1},
    "targets": [{"variation": 0, "values": ["vip-1"]}],
}

#: Runs before the page's scripts: counts renders (the fixture's components read
#: `__renders`), and from the moment the server's HTML is parsed (before the module script
#: hydrates it) logs the text of each flag after every DOM mutation.
OBSERVE = """
window.__renders = {};
window.__texts = [];
document.addEventListener('readystatechange', () => {
  if (document.readyState !== 'interactive') return;
  const text = (id) => document.getElementById(id)?.textContent ?? null;
  window.__served = { banner: text('banner'), color: text('color') };
  const log = () => window.__texts.push({ banner: text('banner'), color: text('color') });
  new MutationObserver(log).observe(document.getElementById('root'),
    { subtree: true, childList: true, characterData: true });
});
"""


def _node_modules() -> None:
    """The binding's pinned dev dependencies (React, react-dom, esbuild), as `make test-js`
    installs them; this test may run first."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed for the React browser tests", pytrace=False)
        pytest.skip("no node/npm")
    if not (PACKAGE / "node_modules" / ".package-lock.json").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True, timeout=600
        )


@pytest.fixture
def ssr() -> Iterator[Callable[[Env], str]]:
    """Starts the SSR fixture against an environment; returns its URL. Stopped after the test."""
    _node_modules()
    procs: list[subprocess.Popen[str]] = []

    def start(env: Env) -> str:
        proc = subprocess.Popen(
            ["node", "test/ssr/server.js"],
            cwd=PACKAGE,
            env={
                **os.environ,
                "LS_BASE_URL": env.url,
                "LS_CLIENT_KEY": env.client_key,
                "PORT": "0",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(30)
        found = re.search(r"listening on (\S+)", first[0] if first else "")
        assert found, f"the SSR server did not start: {first}"
        return found.group(1)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def open_page(page: Any, url: str) -> None:
    page.context.add_init_script(OBSERVE)
    page.goto(url, timeout=30_000)  # a loaded machine renders the first page slowly
    page.wait_for_function("() => window.__hydrated === true && window.__streamsOpened >= 1")
    # The stream's first put (the same values as the bootstrap) has time to arrive.
    page.wait_for_timeout(300)


def server_html(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


@pytest.mark.parametrize(("user", "banner"), [("u-1", "Old banner"), ("vip-1", "New banner")])
def test_hydration_shows_exactly_what_the_server_rendered(
    page: Any, env: Env, ssr: Callable[[Env], str], user: str, banner: str
) -> None:
    env.create("banner", VIP, client_side=True)
    env.create("color", {"on": True}, client_side=True, **COLOR)
    url = f"{ssr(env)}/?user={user}"
    assert f'<p id="banner">{banner}</p>' in server_html(url)  # rendered on the server

    open_page(page, url)
    assert page.evaluate("window.__served") == {"banner": banner, "color": "red"}
    assert page.evaluate("window.__hydrationErrors") == []
    assert page.errors == []  # React's development build logs any hydration mismatch
    assert page.evaluate("window.__texts") == [], "the DOM never changed: no flicker"
    assert page.evaluate("window.__renders") == {"banner": 1, "color": 1, "status": 1}
    assert page.text_content("#status") == "ready=true stale=false"


def test_a_toggle_rerenders_within_a_second_and_only_its_reader(
    page: Any, env: Env, ssr: Callable[[Env], str]
) -> None:
    env.create("banner", client_side=True)
    env.create("color", {"on": True}, client_side=True, **COLOR)
    open_page(page, f"{ssr(env)}/?user=u-1")
    assert page.text_content("#banner") == "Old banner"

    env.toggle("banner", True)
    page.wait_for_function(
        "() => document.getElementById('banner').textContent === 'New banner'", timeout=5000
    )
    assert page.evaluate("window.__renders") == {"banner": 2, "color": 1, "status": 1}
    env.configure("color", {"off_variation": 1, "on": False})
    page.wait_for_function(
        "() => document.getElementById('color').textContent === 'blue'", timeout=5000
    )
    assert page.evaluate("window.__renders") == {"banner": 2, "color": 2, "status": 1}
    # The DOM went from the server's values to each new one, never anywhere else.
    assert page.evaluate("window.__texts") == [
        {"banner": "New banner", "color": "red"},
        {"banner": "New banner", "color": "blue"},
    ]
    assert page.errors == []
