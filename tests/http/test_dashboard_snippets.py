"""The usage snippets of the environments page, run as a user would paste them: the Python one
with the SDK in a fresh interpreter, the curl and OFREP ones with curl, against the live server,
with the keys the page fills in after a rotation shows the server key once."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.http.test_dashboard_security import csrf_of
from tests.support.api import ApiUser, signup

ON = {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}}
PLACEHOLDER = "\n        ..."  # the body of the Python snippet's `if`: the user's code goes there


def _snippets(user: ApiUser) -> dict[str, str]:
    """Rotate production's server key through the dashboard, then read the snippets that the
    one page showing the new key has (the only time they carry the full server key)."""
    page = f"/o/{user.org}/p/default/environments"
    form = {"csrf_token": csrf_of(user.get(page).text), "action": "rotate",
            "env": "production", "kind": "server", "confirm": "yes"}  # fmt: skip
    rotated = user.http.post(page, data=form)
    assert rotated.status_code == 303, rotated.text
    shown = user.get(rotated.headers["location"]).text
    key = re.search(r'<code id="revealed-key">(ls_srv_[^<]+)</code>', shown)
    assert key, "the new server key is shown once"
    found = dict(re.findall(r'<code id="snip-production-([a-z]+)">(.*?)</code>', shown, re.S))
    snippets = {slug: html.unescape(code) for slug, code in found.items()}
    for slug in ("python", "ofrep", "curl"):
        assert key.group(1) in snippets[slug], f"the {slug} snippet has the full server key"
    return snippets


def _set_flag(user: ApiUser, on: bool) -> None:
    path = f"/api/v1/orgs/{user.org}/projects/default/flags/my-flag/environments/production"
    assert user.patch(path, json={"on": on}).status_code == 200


def _run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_python_and_curl_snippets_work_as_pasted(live):
    user = signup(live.url, "snippets@example.com")
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(flags, json={"key": "my-flag", "name": "My flag"}).status_code == 201
    assert user.put(f"{flags}/my-flag/environments/production", json=ON).status_code == 200
    snippets = _snippets(user)

    # Python: the snippet as shown, the user's code (`...`) being a print.
    python = snippets["python"]
    assert python.count(PLACEHOLDER) == 1 and python.endswith(PLACEHOLDER)
    program = python.replace(PLACEHOLDER, '\n        print("my-flag is on")')
    assert _run([sys.executable, "-c", program]) == "my-flag is on\n"
    _set_flag(user, False)
    assert _run([sys.executable, "-c", program]) == "", "the snippet's `if` reads the flag"
    _set_flag(user, True)

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the curl and OFREP snippets were not run")
    evaluated = json.loads(_run(["sh", "-c", snippets["curl"]]))
    assert evaluated["flags"]["my-flag"]["value"] is True
    assert evaluated["flags"]["my-flag"]["reason"] == "STATIC"
    ofrep = json.loads(_run(["sh", "-c", snippets["ofrep"]]))
    assert (ofrep["key"], ofrep["value"]) == ("my-flag", True)
    _set_flag(user, False)
    assert json.loads(_run(["sh", "-c", snippets["curl"]]))["flags"]["my-flag"]["value"] is False
    assert json.loads(_run(["sh", "-c", snippets["ofrep"]]))["value"] is False
