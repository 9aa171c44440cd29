"""A real OpenID provider for the SSO tests: tests/oidc/provider.js (the `oidc-provider` npm
package) run by Node on 127.0.0.1, and a driver that walks its redirect flow over HTTP.

`npm ci` runs first when tests/oidc/node_modules is missing, so a fresh clone works. Without
Node the tests skip loudly, except under CI (`CI` set), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.support.live import free_port
from tests.support.procs import end

__all__ = ["ACCOUNTS", "OidcProvider", "oidc_provider", "walk_to_callback"]

HERE = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "launchseq"
CLIENT_SECRET = "launchseq-test-secret"

#: The provider's people: login name -> claims. The emails' domains are what org settings allow.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@acme.test", "email_verified": True, "name": "Alice Acme"},
    "bob": {"email": "bob@acme.test", "email_verified": True, "name": "Bob Acme"},
    "uma": {"email": "uma@acme.test", "email_verified": False, "name": "Uma Unverified"},
    "olga": {"email": "olga@elsewhere.test", "email_verified": True, "name": "Olga Elsewhere"},
    "ursula": {"email": "ursula@elsewhere.test", "email_verified": False, "name": "Ursula"},
}


def _unavailable(reason: str) -> None:
    message = f"SSO TESTS NOT RUN: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    print(f"\n*** {message} ***")
    pytest.skip(message)


@dataclass
class OidcProvider:
    url: str
    process: subprocess.Popen[str]

    def issuer(self, name: str) -> str:
        return f"{self.url}/{name}"

    def settings(self, *names: str, display: str = "Test IdP") -> str:
        """LAUNCHSEQ_OIDC_PROVIDERS for these providers of the test server (see provider.js)."""
        return json.dumps(
            [
                {
                    "id": name,
                    "name": display if len(names) == 1 else f"{display} {name}",
                    "issuer": self.issuer(name),
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                }
                for name in names
            ]
        )


def _start() -> Iterator[OidcProvider]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed to run the test OpenID provider")
    assert node is not None and npm is not None
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    env = {**os.environ, "PORT": str(port), "ACCOUNTS": json.dumps(ACCOUNTS)}
    process = subprocess.Popen(
        [node, "provider.js"],
        cwd=HERE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready = threading.Event()

    def watch() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "ready":
                ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the test OpenID provider did not start within 30 s")
        yield OidcProvider(f"http://127.0.0.1:{port}", process)
    finally:
        end(process)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    yield from _start()


_FORM = re.compile(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S)
_INPUT = re.compile(r"<input([^>]*)>")
_ATTR = re.compile(r"(\w+)=\"([^\"]*)\"")


def _submit_login(http: httpx.Client, page: httpx.Response, login: str) -> httpx.Response:
    """Fill the provider's development log-in form as a person would, and send it."""
    found = _FORM.search(page.text)
    assert found, f"no form on the provider's page: {page.text[:300]}"
    data: dict[str, str] = {}
    for attrs in _INPUT.findall(found.group(2)):
        fields = dict(_ATTR.findall(attrs))
        if "name" in fields:
            data[fields["name"]] = unescape(fields.get("value", ""))
    data["login"] = login
    data["password"] = "any password"
    return http.post(urljoin(str(page.url), unescape(found.group(1))), data=data)


def walk_to_callback(http: httpx.Client, start: str, login: str, app_url: str) -> str:
    """Follow the flow from `start` (our /login/sso/ID) through the provider's log-in as
    `login`, up to the redirect back to us: that callback URL, not yet requested."""
    answer = http.get(start)
    for _ in range(20):
        if answer.status_code in (302, 303):
            location = urljoin(str(answer.url), answer.headers["location"])
            if location.startswith(app_url + "/login/sso/"):
                return location
            answer = http.get(location)
        elif answer.status_code == 200 and "<form" in answer.text:
            answer = _submit_login(http, answer, login)
        else:
            raise AssertionError(f"unexpected answer {answer.status_code}: {answer.text[:300]}")
    raise AssertionError("the flow did not come back within 20 steps")
