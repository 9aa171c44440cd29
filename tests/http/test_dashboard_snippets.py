"""What the environment page's snippets hold, per role and state: a real flag of the project
(or a "create a flag first" state), the right kind of key, the server key in full only on the
one page that shows it (just created or rotated; otherwise read from LAUNCHSEQ_SERVER_KEY,
never cut short), the URL the browser reached, and environments made at sign-up that start
without a server key and offer to create it. tests/e2e/test_snippets.py runs each snippet."""

from __future__ import annotations

import html
import re

import httpx

from launchsequence.app import create_app
from launchsequence.jsassets import asset
from tests.http.test_dashboard_security import csrf_of
from tests.support.api import ApiUser, signup
from tests.support.live import serving

SNIPPET = re.compile(r'<code id="snip-([a-z]+)-([a-z-]+)">(.*?)</code>', re.S)
REVEALED = re.compile(r'<code id="revealed-key">(ls_srv_[^<]+)</code>')
SERVER_SNIPPETS = ("python", "node", "openfeature-python", "openfeature-node", "curl", "ofrep")
VARIABLE = "LAUNCHSEQ_SERVER_KEY"


def snippets(page: str, env: str = "production") -> dict[str, str]:
    """The snippets of one environment as the page shows them (text, unescaped)."""
    return {slug: html.unescape(code) for e, slug, code in SNIPPET.findall(page) if e == env}


def _page(user: ApiUser) -> str:
    return f"/o/{user.org}/p/default/environments"


def _flags(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default/flags"


def _create_server_key(user: ApiUser, env: str = "production") -> httpx.Response:
    form = {"csrf_token": csrf_of(user.get(_page(user)).text), "action": "create_server_key",
            "env": env}  # fmt: skip
    return user.http.post(_page(user), data=form)


def _works(base_url: str, key: str) -> bool:
    answer = httpx.post(f"{base_url}/sdk/v1/evaluate", json={"context": {}},
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    return answer.status_code == 200


def test_sign_up_makes_no_unseen_server_key_and_the_page_creates_it_once(live):
    user = signup(live.url, "first@example.com")
    env = user.get(f"/api/v1/orgs/{user.org}/projects/default/environments/production").json()
    assert [k["kind"] for k in env["sdk_keys"]] == ["client"], "no server key nobody saw"
    client_key = env["sdk_keys"][0]["key"]

    # No flag yet: no made-up flag key, but a way to make one.
    first = user.get(_page(user)).text
    assert snippets(first) == {}
    assert 'id="no-flag-production"' in first and "create a flag first" in first
    assert f'href="/o/{user.org}/p/default/flags/new"' in first
    assert "Create the server key of Production" in first
    assert 'id="no-server-key-production"' in first

    assert user.post(_flags(user), json={"key": "new-checkout"}).status_code == 201
    shown = user.get(_page(user)).text
    code = snippets(shown)
    assert set(SERVER_SNIPPETS) <= set(code)
    assert "ls_srv_" not in shown, "no server key, whole or cut, before one is shown"
    for slug in SERVER_SNIPPETS:
        assert '"new-checkout"' in code[slug] or "new-checkout" in code[slug], slug
        assert VARIABLE in code[slug], f"the {slug} snippet reads the key from {VARIABLE}"
    assert client_key not in "".join(code[s] for s in SERVER_SNIPPETS)
    for slug in ("browser", "react"):
        assert f'"{client_key}"' in code[slug], f"the {slug} snippet has the client key"
        assert "ls_srv_" not in code[slug] and VARIABLE not in code[slug]
    classic = asset("classic")
    assert f'<script src="{live.url}{classic.url_path}"' in code["browser"]
    assert f'integrity="{classic.integrity}" crossorigin="anonymous"' in code["browser"]
    assert httpx.get(live.url + classic.url_path).content == classic.body
    assert 'flags.value("new-checkout", false)' in code["browser"]
    assert 'useFlag("new-checkout", false)' in code["react"]
    assert "launchsequence-react-" in code["react-install"]
    # A copy button per snippet, hidden until the page's script can copy (app.js shows them);
    # without scripts the code is plain selectable text.
    for slug in code:
        assert f'data-copy="snip-production-{slug}" hidden>' in shown, slug
    assert f'base_url="{live.url}"' in code["python"]
    assert f"curl -s {live.url}/sdk/v1/evaluate" in code["curl"]
    assert '"flags": ["new-checkout"]' in code["curl"]
    assert f"{live.url}/ofrep/v1/evaluate/flags/new-checkout" in code["ofrep"]
    assert "bool_value(flag, CONTEXT, False)" in code["python"]
    assert "get_boolean_value(FLAG, False, context)" in code["openfeature-python"]
    assert "getBooleanValue(flag, false," in code["openfeature-node"]
    assert "launchsequence-js-" in code["node-install"] and "make dist" in code["python-install"]

    # Create it: shown once, in the banner and in every server-side snippet.
    created = _create_server_key(user)
    assert created.status_code == 303 and "ls_srv_" not in created.headers["location"]
    once = user.get(created.headers["location"]).text
    key = REVEALED.search(once)
    assert key and _works(live.url, key.group(1))
    code = snippets(once)
    for slug in SERVER_SNIPPETS:
        assert key.group(1) in code[slug], f"the {slug} snippet holds the new key"
        assert VARIABLE not in code[slug]
    assert key.group(1) not in code["browser"] + code["react"], "never in a page's code"
    assert "These snippets hold the new server key of Production" in once
    assert key.group(1) not in "".join(snippets(once, "staging").values())

    # Afterwards: the variable again, a prefix in the key list, and rotation offered.
    later = user.get(_page(user)).text
    assert key.group(1) not in later and not REVEALED.search(later)
    assert all(VARIABLE in snippets(later)[slug] for slug in SERVER_SNIPPETS)
    assert "Rotate and show a new server key" in later
    assert "Create the server key of Production" not in later
    assert "Create the server key of Staging" in later

    # A second "create" (another tab, a resent form) never replaces the key shown.
    again = _create_server_key(user)
    assert again.status_code == 409 and "has a server key" in again.text
    assert _works(live.url, key.group(1))
    actions = [e["action"] for e in user.get(f"/api/v1/orgs/{user.org}/audit").json()["entries"]]
    assert actions.count("sdk_key.created") == 1


def test_a_rotated_key_fills_the_snippets_of_its_environment_only(live):
    user = signup(live.url, "rotate-snip@example.com")
    assert user.post(_flags(user), json={"key": "beta"}).status_code == 201
    page = _page(user)
    form = {"csrf_token": csrf_of(user.get(page).text), "action": "rotate", "env": "staging",
            "kind": "server", "confirm": "yes"}  # fmt: skip
    rotated = user.http.post(page, data=form)
    shown = user.get(rotated.headers["location"]).text
    key = REVEALED.search(shown)
    assert key
    assert all(key.group(1) in snippets(shown, "staging")[s] for s in SERVER_SNIPPETS)
    assert all(VARIABLE in snippets(shown, "production")[s] for s in SERVER_SNIPPETS)


def test_viewers_see_snippets_without_secrets_and_cannot_create_keys(live):
    owner = signup(live.url, "owner-snip@example.com")
    viewer = signup(live.url, "viewer-snip@example.com")
    member = {"email": viewer.email, "role": "viewer"}
    assert owner.post(f"/api/v1/orgs/{owner.org}/members", json=member).status_code == 201
    seen = viewer.get(_page(owner)).text
    assert 'id="no-flag-production"' in seen and "flags/new" not in seen
    assert owner.post(_flags(owner), json={"key": "kill-switch"}).status_code == 201
    seen = viewer.get(_page(owner)).text
    code = snippets(seen)
    assert all(VARIABLE in code[slug] for slug in SERVER_SNIPPETS)
    assert "ls_srv_" not in seen
    client_key = re.search(r'<code id="client-production">([^<]+)</code>', seen)
    assert client_key and f'"{client_key.group(1)}"' in code["browser"], "the public key"
    assert "Create the server key" not in seen and "Rotate and show" not in seen
    assert "An admin of the project can create it" in seen

    form = {"action": "create_server_key", "env": "production"}
    refused = viewer.http.post(_page(owner), data={**form, "csrf_token": csrf_of(seen)})
    assert refused.status_code == 403
    assert owner.http.post(_page(owner), data=form).status_code == 403, "no CSRF token"
    stranger = signup(live.url, "stranger-snip@example.com")
    token = csrf_of(stranger.get(f"/o/{stranger.org}").text)
    assert stranger.http.post(_page(owner), data={**form, "csrf_token": token}).status_code == 404
    env = owner.get(f"/api/v1/orgs/{owner.org}/projects/default/environments/production").json()
    assert [k["kind"] for k in env["sdk_keys"]] == ["client"], "nobody made a server key"


def test_the_snippets_show_a_recent_boolean_flag_that_is_not_archived(live):
    user = signup(live.url, "choice@example.com")
    flags = _flags(user)
    for body in (
        {"key": "old-switch"},
        {"key": "newer-switch"},
        {"key": "copy", "type": "string", "variations": [{"value": "a"}, {"value": "b"}]},
    ):
        assert user.post(flags, json=body).status_code == 201, body

    def shown() -> str:
        return snippets(user.get(_page(user)).text)["ofrep"].split("/evaluate/flags/")[1].split()[0]

    assert shown() == "newer-switch", "a boolean before a more recent string flag"
    config = f"{flags}/old-switch/environments/production"
    assert user.patch(config, json={"on": True}).status_code == 200
    assert shown() == "old-switch", "the most recently changed boolean"
    assert user.patch(config, json={"on": False}).status_code == 200
    assert user.patch(f"{flags}/old-switch", json={"archived": True}).status_code == 200
    assert shown() == "newer-switch", "never an archived flag"
    assert user.patch(f"{flags}/newer-switch", json={"archived": True}).status_code == 200
    code = snippets(user.get(_page(user)).text)
    assert 'string_value(flag, CONTEXT, "")' in code["python"]
    assert 'get_string_value(FLAG, "", context)' in code["openfeature-python"]
    assert "no-client-flag-production" in user.get(_page(user)).text

    # The browser and React snippets show a flag that client keys may see, when one may.
    body = {"key": "public-banner", "client_side": True}
    assert user.post(flags, json=body).status_code == 201
    page = user.get(_page(user)).text
    code = snippets(page)
    assert 'useFlag("public-banner", false)' in code["react"]
    assert 'flags.value("public-banner", false)' in code["browser"]
    assert "no-client-flag-production" not in page


def test_the_snippets_use_the_url_the_browser_reached(make_settings, tmp_path):
    proxied = {"Host": "flags.example.com", "X-Forwarded-Proto": "https"}
    # Behind a trusted proxy (loopback, the default), its scheme counts.
    with serving(create_app(make_settings(data_dir=str(tmp_path / "a")))) as server:
        user = signup(server.url, "proxy@example.com")
        assert user.post(_flags(user), json={"key": "f"}).status_code == 201
        code = snippets(user.get(_page(user), headers=proxied).text)
        assert 'base_url="https://flags.example.com"' in code["python"]
        assert "curl -s https://flags.example.com/sdk/v1/evaluate" in code["curl"]
    # From a peer that is not a trusted proxy, it does not.
    untrusted = create_app(make_settings(data_dir=str(tmp_path / "b"), trusted_proxies="10.9.8.7"))
    with serving(untrusted, forwarded_allow_ips="10.9.8.7") as server:
        user = signup(server.url, "direct@example.com")
        assert user.post(_flags(user), json={"key": "f"}).status_code == 201
        code = snippets(user.get(_page(user), headers=proxied).text)
        assert 'base_url="http://flags.example.com"' in code["python"]
    # A configured public URL wins.
    fixed = create_app(
        make_settings(data_dir=str(tmp_path / "c"), base_url="https://ff.example.org/")
    )
    with serving(fixed) as server:
        user = signup(server.url, "fixed@example.com")
        assert user.post(_flags(user), json={"key": "f"}).status_code == 201
        code = snippets(user.get(_page(user), headers=proxied).text)
        assert 'base_url="https://ff.example.org"' in code["python"]


def test_a_project_made_in_the_dashboard_has_no_server_key_nobody_saw(live):
    user = signup(live.url, "project-form@example.com")
    home = f"/o/{user.org}"
    form = {"csrf_token": csrf_of(user.get(home).text), "key": "shop", "name": "Shop"}
    assert user.http.post(home, data=form).status_code == 303
    envs = user.get(f"/api/v1/orgs/{user.org}/projects/shop/environments").json()
    assert [[k["kind"] for k in e["sdk_keys"]] for e in envs["environments"]] == [["client"]] * 2
    page = user.get(f"/o/{user.org}/p/shop/environments").text
    assert "Create the server key of Production" in page
    # The API answer that makes a project shows its keys: those are made, and shown there.
    made = user.post(f"/api/v1/orgs/{user.org}/projects", json={"key": "api", "name": "API"})
    assert all(
        any(k["kind"] == "server" and k["key"].startswith("ls_srv_") for k in e["sdk_keys"])
        for e in made.json()["environments"]
    )
