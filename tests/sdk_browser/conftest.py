"""Browser tests of the SDK examples and of the JavaScript SDK in headless Chromium.

Chromium comes from the system package (`apt-get install chromium`). Without it (or without
Playwright) these tests skip loudly, except under CI (`CI` set), where they fail.

Every fixture holding Playwright is module-scoped: its sync API keeps an event loop marked
running while open, and only one may be open at a time in a process (tests/e2e has its own).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import importlib.util
import itertools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PROJECT = "/api/v1/orgs/{org}/projects/default"

#: Runs before any script of every page: counts EventSource streams that opened (the SDK's
#: transport in a browser), so a test can wait until a page is really live before toggling.
TRACK_STREAMS = """
window.__streamsOpened = 0;
if (window.EventSource) {
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('open', () => { window.__streamsOpened += 1; });
    }
  };
}
"""


def _unavailable(reason: str) -> None:
    message = f"SDK BROWSER TESTS NOT RUN: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    print(f"\n*** {message} ***")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no chromium on PATH (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no shared storage), closed after the test."""
    context = browser.new_context(viewport={"width": 1000, "height": 600})
    context.set_default_timeout(5000)
    context.add_init_script(TRACK_STREAMS)
    page = context.new_page()
    page.errors = []  # uncaught exceptions and console errors, for tests to assert on
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def console(msg: Any) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            page.errors.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("console", console)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"sdk-browser-{name}.png"), full_page=True)


# --- servers -------------------------------------------------------------------------------


def settings_in(data_dir: Path) -> Settings:
    return Settings(
        data_dir=str(data_dir), secret_key="sdk-browser-secret", sdk_key_grace_seconds=0
    )


class PortServer(LiveServer):
    """A LiveServer on a given port: a restarted server must answer where clients reconnect.
    (tests/support/live.py always picks a free port.)"""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)


@pytest.fixture(scope="module")
def flag_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real Launch Sequence server, shared by a module's tests (each signs up its own org)."""
    server = LiveServer(create_app(settings_in(tmp_path_factory.mktemp("flags")))).start()
    yield server
    server.stop()


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """The repository's plain HTML example and the JS SDK, nothing else; `/blank.html` is an
    empty page to load the SDK into."""

    ALLOWED = ("/examples/html/", "/sdks/js/src/")
    extensions_map = {  # noqa: RUF012 - the base class declares it a plain dict
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
    }

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/blank.html":
            body = b"<!doctype html><meta charset=utf-8><title>blank</title><p id=out></p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if not path.startswith(self.ALLOWED) or ".." in path:
            self.send_error(404)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def static_server() -> Iterator[str]:
    """A tiny static server on its own port: another origin than the flag server (CORS)."""
    handler = functools.partial(_StaticHandler, directory=str(ROOT))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# --- flags through the admin API -----------------------------------------------------------

_emails = itertools.count(1)


@dataclass
class Env:
    """A signed-up user's default project, production environment, with its SDK keys."""

    url: str
    user: ApiUser
    base: str
    server_key: str
    client_key: str

    def create(self, key: str, config: dict[str, Any] | None = None, **fields: Any) -> None:
        r = self.user.post(f"{self.base}/flags", json={"key": key, **fields})
        assert r.status_code == 201, r.text
        if config is not None:
            self.configure(key, config)

    def configure(self, key: str, config: dict[str, Any]) -> None:
        path = f"{self.base}/flags/{key}/environments/production"
        write = self.user.put if "fallthrough" in config else self.user.patch
        r = write(path, json=config)
        assert r.status_code == 200, r.text

    def toggle(self, key: str, on: bool) -> None:
        self.configure(key, {"on": on})


def new_env(url: str) -> Env:
    user = signup(url, f"browser-{next(_emails)}@example.com")
    base = PROJECT.format(org=user.org)
    r = user.post(
        f"{base}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
    )
    assert r.status_code == 201, r.text
    server_key = r.json()["key"]
    r = user.get(f"{base}/environments/production")
    assert r.status_code == 200, r.text
    client_key = next(k["key"] for k in r.json()["sdk_keys"] if k["kind"] == "client")
    return Env(url, user, base, server_key, client_key)


@pytest.fixture
def env(flag_server: LiveServer) -> Iterator[Env]:
    e = new_env(flag_server.url)
    yield e
    e.user.close()


def load_example(name: str) -> ModuleType:
    """`examples/<name>/app.py` as a module (the directory name is not importable)."""
    path = ROOT / "examples" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"example_{name.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def serve() -> Iterator[Callable[[Any], LiveServer]]:
    """Starts apps on loopback for one test; stops them after it."""
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()
