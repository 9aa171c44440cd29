"""A new SDK server key is shown once after a redirect (a reload neither shows it again nor
makes another), and long flag lists come in pages of 50 with the filters kept."""

from __future__ import annotations

import re

import httpx

from tests.http.test_dashboard_security import csrf_of
from tests.support.api import ApiUser, signup

REVEALED = re.compile(r'<code id="revealed-key">(ls_srv_[^<]+)</code>')


def _rotations(user: ApiUser) -> int:
    entries = user.get(f"/api/v1/orgs/{user.org}/audit", params={"limit": 100}).json()
    return sum(1 for e in entries["entries"] if e["action"] == "sdk_key.rotated")


def _works(base_url: str, key: str) -> bool:
    answer = httpx.post(
        f"{base_url}/sdk/v1/evaluate",
        json={"context": {"key": "u-1"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    return answer.status_code == 200


def test_a_rotated_server_key_is_shown_once_and_a_reload_rotates_nothing(live):
    user = signup(live.url, "keys@example.com")
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(flags, json={"key": "f"}).status_code == 201  # the snippets show a flag
    page = f"/o/{user.org}/p/default/environments"
    token = csrf_of(user.get(page).text)
    form = {"csrf_token": token, "action": "rotate", "env": "production", "kind": "server"}

    # Without the confirmation the form only leads to the confirmation page.
    asked = user.http.post(page, data=form)
    assert asked.status_code == 303 and asked.headers["location"].endswith("/rotate?kind=server")
    assert _rotations(user) == 0

    rotated = user.http.post(page, data={**form, "confirm": "yes"})
    assert rotated.status_code == 303
    assert "ls_srv_" not in rotated.text and "ls_srv_" not in rotated.headers["location"]
    assert _rotations(user) == 1
    shown = user.get(rotated.headers["location"])
    match = REVEALED.search(shown.text)
    assert match, "the new key is not shown after the redirect"
    key = match.group(1)
    assert _works(live.url, key)
    assert shown.text.count(key) >= 2  # the banner and the filled-in snippets

    # Reloading the page (a GET) shows no key and makes none.
    again = user.get(rotated.headers["location"])
    assert key not in again.text and not REVEALED.search(again.text)
    assert _rotations(user) == 1
    assert _works(live.url, key)


def test_the_one_time_key_is_bound_to_the_session_and_cannot_be_forged(live):
    user = signup(live.url, "bound@example.com")
    page = f"/o/{user.org}/p/default/environments"
    token = csrf_of(user.get(page).text)
    rotated = user.http.post(
        page,
        data={"csrf_token": token, "action": "rotate", "env": "staging", "kind": "server",
              "confirm": "yes"},
    )  # fmt: skip
    flash = rotated.cookies.get("launchseq_flash")
    assert flash and "ls_srv_" not in flash  # the key is not readable in the cookie
    assert "httponly" in rotated.headers["set-cookie"].lower()

    # The same cookie in another session (the same person logged in elsewhere) shows nothing.
    other = httpx.Client(base_url=live.url)
    login = other.post(
        "/api/v1/auth/login", json={"email": "bound@example.com", "password": "correct horse"}
    )
    assert login.status_code == 200
    other.cookies.set("launchseq_flash", flash)
    assert not REVEALED.search(other.get(page).text)

    # A tampered cookie shows nothing either.
    user.http.cookies.set(
        "launchseq_flash", flash[:-4] + ("AAAA" if flash[-4:] != "AAAA" else "BBBB")
    )
    assert not REVEALED.search(user.get(page).text)


def test_a_new_environment_shows_its_server_key_once(live):
    user = signup(live.url, "newenv@example.com")
    page = f"/o/{user.org}/p/default/environments"
    token = csrf_of(user.get(page).text)
    created = user.http.post(
        page, data={"csrf_token": token, "action": "create", "key": "qa", "name": "QA"}
    )
    assert created.status_code == 303
    shown = user.get(created.headers["location"]).text
    match = REVEALED.search(shown)
    assert match and "Created the environment" in shown
    assert _works(live.url, match.group(1))
    assert not REVEALED.search(user.get(page).text)

    taken = user.http.post(
        page, data={"csrf_token": token, "action": "create", "key": "qa", "name": "Again"}
    )
    assert taken.status_code == 422 and 'id="key-error"' in taken.text
    assert 'value="Again"' in taken.text


def test_viewers_and_forged_posts_rotate_nothing(live):
    owner = signup(live.url, "owner-k@example.com")
    viewer = signup(live.url, "viewer-k@example.com")
    owner.post(f"/api/v1/orgs/{owner.org}/members", json={"email": viewer.email, "role": "viewer"})
    page = f"/o/{owner.org}/p/default/environments"
    form = {"action": "rotate", "env": "production", "kind": "server", "confirm": "yes"}
    seen = viewer.get(page).text
    assert "Rotate the server key" not in seen
    assert viewer.http.post(page, data={**form, "csrf_token": csrf_of(seen)}).status_code == 403
    assert owner.http.post(page, data=form).status_code == 403
    stranger = signup(live.url, "stranger-k@example.com")
    stoken = csrf_of(stranger.get(f"/o/{stranger.org}").text)
    assert stranger.http.post(page, data={**form, "csrf_token": stoken}).status_code == 404
    assert _rotations(owner) == 0


ROW = re.compile(r'<tr id="flag-([^"]+)" data-flag=')


def test_long_flag_lists_come_in_pages_with_the_filters_kept(live):
    user = signup(live.url, "pages@example.com")
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    for i in range(120):
        tags = ["even"] if i % 2 == 0 else ["odd"]
        body = {"key": f"flag-{i:03d}", "name": f"Flag {i}", "tags": tags}
        assert user.post(api, json=body).status_code == 201
    page = f"/o/{user.org}/p/default/flags"

    first = user.get(page).text
    assert ROW.findall(first) == [f"flag-{i:03d}" for i in range(50)]
    assert "Showing 1\u201350 of 120 flags" in first
    assert 'href="?page=2"' in first and 'href="?page=3"' in first

    third = user.get(page, params={"page": "3"}).text
    assert ROW.findall(third) == [f"flag-{i:03d}" for i in range(100, 120)]
    assert 'aria-current="page"><span class="visually-hidden">Page </span>3<' in third
    assert 'rel="next"' not in third and 'href="?page=2" rel="prev"' in third

    # Past the end (or nonsense) shows the nearest page.
    assert ROW.findall(user.get(page, params={"page": "999"}).text)[0] == "flag-100"
    assert ROW.findall(user.get(page, params={"page": "-1"}).text)[0] == "flag-000"

    # Filters are kept in the page links: 60 even flags, 2 pages.
    even = user.get(page, params={"tag": "even", "q": "flag"}).text
    assert "Showing 1\u201350 of 60 flags" in even
    assert 'href="?q=flag&amp;tag=even&amp;page=2"' in even
    second = user.get(page, params={"tag": "even", "q": "flag", "page": "2"}).text
    assert ROW.findall(second) == [f"flag-{i:03d}" for i in range(100, 120, 2)]

    # A switch pressed without JavaScript comes back to the same page and filters.
    back = re.search(r'name="back" value="([^"]+)"', second)
    assert back and back.group(1).replace("&amp;", "&").endswith("?tag=even&q=flag&page=2")
    toggled = user.http.post(
        f"/o/{user.org}/p/default/toggle",
        data={"csrf_token": csrf_of(second), "toggle": "flag-110 staging 1",
              "back": back.group(1).replace("&amp;", "&")},
    )  # fmt: skip
    assert toggled.status_code == 303
    assert toggled.headers["location"].endswith("?tag=even&q=flag&page=2")
    # Production asks first; its confirmation goes back there too.
    asked = user.http.post(
        f"/o/{user.org}/p/default/toggle",
        data={"csrf_token": csrf_of(second), "toggle": "flag-110 production 1",
              "back": back.group(1).replace("&amp;", "&")},
    )  # fmt: skip
    assert asked.status_code == 200 and 'name="confirmed" value="1"' in asked.text
    assert re.search(r'name="back" value="[^"]+\?tag=even&amp;q=flag&amp;page=2"', asked.text)


NEW_TOKEN = re.compile(r'<code id="new-token">([^<]+)</code>')
INVITE = re.compile(r'<code id="invite-url">([^<]+)</code>')


def test_a_new_api_token_and_invitation_link_are_shown_once(live):
    user = signup(live.url, "once@example.com")
    page = f"/o/{user.org}/settings"
    token = csrf_of(user.get(page).text)

    made = user.http.post(page, data={"csrf_token": token, "action": "create-token",
                                      "token_name": "deploys"})  # fmt: skip
    assert made.status_code == 303 and "location" in made.headers
    shown = user.get(made.headers["location"]).text
    match = NEW_TOKEN.search(shown)
    assert match, "the new token is not shown after the redirect"
    api_token = match.group(1)
    me = httpx.get(f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {api_token}"})
    assert me.status_code == 200
    again = user.get(made.headers["location"]).text  # a reload
    assert api_token not in again and not NEW_TOKEN.search(again)
    assert len(user.get("/api/v1/tokens").json()["tokens"]) == 1  # and no second token

    invited = user.http.post(page, data={"csrf_token": token, "action": "invite",
                                         "role": "viewer"})  # fmt: skip
    assert invited.status_code == 303
    link = INVITE.search(user.get(invited.headers["location"]).text)
    assert link and "/signup?invitation=" in link.group(1)
    assert not INVITE.search(user.get(invited.headers["location"]).text)
    assert len(user.get(f"/api/v1/orgs/{user.org}/invitations").json()["invitations"]) == 1
