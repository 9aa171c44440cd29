"""The JavaScript SDK (sdks/js/src/index.js) in headless Chromium, loaded from another origin
than the flag server's, against a real Launch Sequence server: ready, bootstrap, live changes,
identify, and reconnection after the server restarts."""

from __future__ import annotations

import re
import time
from typing import Any

from launchsequence_sdk import Client

from launchsequence.app import create_app
from tests.sdk_browser.conftest import Env, PortServer, new_env, settings_in
from tests.support.live import free_port

VIP = {  # true for the individual target vip-1, false for everyone else
    "on": True,
    "off_variation": 1,
    "fallthrough": {"variation": 1},
    "targets": [{"variation": 0, "values": ["vip-1"]}],
}

START = """async ({ url, key, context, bootstrap, extra }) => {
  const { createClient } = await import('/sdks/js/src/index.js');
  const c = createClient({
    clientKey: key, baseUrl: url, context, bootstrap, storage: false, ...extra,
  });
  window.c = c;
  window.changes = [];
  c.on('change', (changes) => window.changes.push(changes));
  const before = { value: c.value('banner', null), details: c.details('banner', null) };
  const ready = await c.ready();
  return { before, ready, value: c.value('banner', null), version: c.version };
}"""


def start(page: Any, static_server: str, env: Env, context: dict[str, Any], **options: Any) -> Any:
    page.goto(f"{static_server}/blank.html")
    return page.evaluate(
        START,
        {
            "url": env.url,
            "key": env.client_key,
            "context": context,
            "bootstrap": options.pop("bootstrap", None),
            "extra": options,
        },
    )


def wait_value(page: Any, key: str, expected: Any, timeout_ms: int = 1000) -> None:
    page.wait_for_function(
        "([key, expected]) => window.c.value(key, null) === expected",
        arg=[key, expected],
        timeout=timeout_ms,
    )


def test_ready_resolves_with_the_servers_values(page, env: Env, static_server):
    env.create("banner", {"on": True}, client_side=True)
    env.create("server-only", {"on": True})  # not client-side: never reaches a client key
    result = start(page, static_server, env, {"key": "u-1"})
    assert result["before"]["value"] is None  # nothing known before the server answered
    assert result["ready"] is True
    assert result["value"] is True
    assert result["version"] > 0
    assert page.evaluate("window.c.all()") == {"banner": True}
    assert page.evaluate("window.c.details('banner', false).reason") == "STATIC"
    assert page.errors == []


def test_bootstrap_from_the_python_sdk_is_served_before_any_request(page, env: Env, static_server):
    env.create("banner", {"on": True}, client_side=True)
    with Client(env.server_key, base_url=env.url) as server_side:
        assert server_side.wait_until_ready(5)
        bootstrap = server_side.bootstrap({"key": "u-1"})
    assert bootstrap["flags"]["banner"]["value"] is True
    result = start(page, static_server, env, {"key": "u-1"}, bootstrap=bootstrap)
    # Read synchronously right after createClient: no response could have arrived yet.
    assert result["before"]["value"] is True
    assert result["before"]["details"]["reason"] == bootstrap["flags"]["banner"]["reason"]
    assert result["ready"] is True
    page.wait_for_function("() => window.__streamsOpened >= 1")
    # The stream's first put confirms the bootstrapped values: no change event.
    assert page.evaluate("window.changes") == []


def test_a_toggle_reaches_the_page_within_a_second(page, env: Env, static_server):
    env.create("banner", client_side=True)
    assert start(page, static_server, env, {"key": "u-1"})["value"] is False
    page.wait_for_function("() => window.__streamsOpened >= 1")
    page.evaluate("window.changes = []")  # forget the first put's
    env.toggle("banner", True)
    wait_value(page, "banner", True)
    assert page.evaluate("window.changes") == [{"banner": {"previous": False, "current": True}}]
    env.toggle("banner", False)
    wait_value(page, "banner", False)


def test_identify_switches_to_the_new_contexts_values(page, env: Env, static_server):
    env.create("banner", client_side=True)
    env.create("vip", VIP, client_side=True)
    start(page, static_server, env, {"key": "u-1"})
    assert page.evaluate("window.c.value('vip', null)") is False
    assert page.evaluate("window.c.identify({ key: 'vip-1' })") is True
    assert page.evaluate("window.c.value('vip', null)") is True
    assert page.evaluate("window.c.context") == {"key": "vip-1"}
    assert page.evaluate("window.changes.at(-1)") == {"vip": {"previous": False, "current": True}}
    # The stream follows the new context: a change to its targeting arrives live.
    page.wait_for_function("() => window.__streamsOpened >= 2")
    env.configure("vip", {"targets": []})
    wait_value(page, "vip", False)


def test_reconnects_after_the_server_restarts(page, static_server, tmp_path):
    settings = settings_in(tmp_path / "data")
    port = free_port()
    server = PortServer(create_app(settings), port).start()
    try:
        env = new_env(server.url)
        env.create("banner", client_side=True)
        extra = {"initialRetryDelay": 100, "maxRetryDelay": 400}
        assert start(page, static_server, env, {"key": "u-1"}, **extra)["value"] is False
        page.wait_for_function("() => window.__streamsOpened >= 1")
    finally:
        server.stop()

    time.sleep(0.3)  # the stream is gone and the client retries against a closed port
    assert page.evaluate("window.c.value('banner', null)") is False  # last values still served

    server = PortServer(create_app(settings), port).start()  # same port, same data
    try:
        page.wait_for_function("() => window.__streamsOpened >= 2", timeout=5000)
        env.toggle("banner", True)  # the session survives the restart (it is in the database)
        wait_value(page, "banner", True)
        # The only errors are the browser's own, for requests made while the server was down.
        for error in page.errors:
            assert re.search(r"ERR_(CONNECTION_REFUSED|INCOMPLETE_CHUNKED_ENCODING)", error), error
    finally:
        env.user.close()
        server.stop()


def test_the_fetch_transport_works_cross_origin_too(page, env: Env, static_server):
    env.create("banner", client_side=True)
    # Without bootstrap, ready() resolves on the stream's first put: the stream is open.
    assert start(page, static_server, env, {"key": "u-1"}, transport="fetch")["ready"] is True
    assert page.evaluate("window.__streamsOpened") == 0  # no EventSource: fetch read the stream
    env.toggle("banner", True)
    wait_value(page, "banner", True)
