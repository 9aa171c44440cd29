"""Dashboard security: CSRF tokens on every form, other organizations' pages answer 404, and
user-supplied text is escaped."""

from __future__ import annotations

import re

import httpx

from tests.support.api import ApiUser, signup

FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S)


def pages(org: str) -> list[str]:
    base = f"/o/{org}/p/default"
    return [
        f"/o/{org}",
        f"/o/{org}/audit",
        f"/o/{org}/settings",
        f"{base}/flags",
        f"{base}/flags/new",
        f"{base}/flags/sec-flag?env=production",
        f"{base}/segments?env=production",
        f"{base}/segments/sec-segment?env=production",
        f"{base}/environments",
        f"{base}/environments/production/rotate?kind=server",
        f"{base}/edges",
        f"{base}/members",
    ]


def populate(user: ApiUser) -> None:
    base = f"/api/v1/orgs/{user.org}/projects/default"
    assert user.post(f"{base}/flags", json={"key": "sec-flag", "name": "Sec"}).status_code == 201
    segment = user.put(f"{base}/environments/production/segments/sec-segment", json={})
    assert segment.status_code == 201
    relay = user.post(f"{base}/relay-keys", json={"name": "sec-edge"})
    assert relay.status_code == 201


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_every_form_carries_a_csrf_token_and_is_refused_without_one(live):
    alice = signup(live.url, "alice@example.com")
    populate(alice)
    checked = 0
    for path in pages(alice.org):
        page = alice.get(path)
        assert page.status_code == 200, path
        for form in FORM.findall(page.text):
            if re.search(r'method="post"', form):
                assert 'name="csrf_token"' in form, (
                    f"{path}: a form without a CSRF token: {form[:200]}"
                )
                checked += 1
    assert checked >= 20
    with httpx.Client(base_url=live.url) as anonymous:
        for path in ("/login", "/signup"):
            assert 'name="csrf_token"' in anonymous.get(path).text

    base = f"/o/{alice.org}/p/default"
    posts = [
        (f"{base}/toggle", {"toggle": "sec-flag production 1"}),
        (f"{base}/flags/new", {"name": "X", "key": "x", "type": "boolean", "action": "create"}),
        (
            f"{base}/flags/sec-flag",
            {
                "env": "production",
                "version": "1",
                "on": "1",
                "off_variation": "1",
                "ft.serve": "0",
                "action": "save",
                "confirmed": "1",
            },
        ),
        (f"{base}/segments", {"env": "production", "key": "new-seg"}),
        (f"{base}/segments/sec-segment", {"env": "production", "action": "delete"}),
        (
            f"{base}/environments",
            {"action": "rotate", "env": "production", "kind": "server", "confirm": "yes"},
        ),
        (f"{base}/edges", {"action": "create", "name": "edge"}),
        (f"{base}/edges", {"action": "revoke", "key_id": "1"}),
        (f"/o/{alice.org}/settings", {"action": "invite", "role": "owner"}),
        (f"/o/{alice.org}/settings", {"action": "create-token", "token_name": "t"}),
        (f"/o/{alice.org}", {"key": "p2", "name": "P2"}),
        ("/logout", {}),
    ]
    audit = alice.get(f"/api/v1/orgs/{alice.org}/audit").json()
    for path, data in posts:
        for token in (None, "wrong", "0" * 64):
            body = dict(data) if token is None else {**data, "csrf_token": token}
            answer = alice.http.post(path, data=body)
            assert answer.status_code == 403, f"{path} without a valid token: {answer.status_code}"
    # A cross-site Origin is refused even with the right token.
    token = csrf_of(alice.get(f"{base}/flags").text)
    answer = alice.http.post(
        f"{base}/toggle",
        data={"toggle": "sec-flag production 1", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert alice.get(f"/api/v1/orgs/{alice.org}/audit").json() == audit  # nothing changed
    assert alice.get("/api/v1/me").status_code == 200  # still logged in
    # Anonymous forms too: log-in without the pre-session token is refused.
    with httpx.Client(base_url=live.url) as anonymous:
        answer = anonymous.post(
            "/login", data={"email": "alice@example.com", "password": "correct horse"}
        )
        assert answer.status_code == 403


def test_no_page_of_another_organization_is_reachable(live):
    alice = signup(live.url, "alice@example.com")
    bob = signup(live.url, "bob@example.com")
    populate(alice)
    populate(bob)
    for path in pages(alice.org):
        theirs = bob.get(path)
        missing = bob.get(path.replace(f"/o/{alice.org}", "/o/no-such-org"))
        assert theirs.status_code == 404, f"{path}: {theirs.status_code}"
        assert missing.status_code == 404
    # Bob's own organization with Alice's-only objects: 404 too.
    token = csrf_of(bob.get(f"/o/{bob.org}/p/default/flags").text)
    for path, data in (
        (f"/o/{alice.org}/p/default/toggle", {"toggle": "sec-flag production 1"}),
        (f"/o/{alice.org}/settings", {"action": "invite", "role": "viewer"}),
        (f"/o/{alice.org}/p/default/edges", {"action": "create", "name": "edge"}),
        (
            f"/o/{alice.org}/p/default/environments",
            {"action": "rotate", "env": "production", "kind": "server", "confirm": "yes"},
        ),
    ):
        answer = bob.http.post(path, data={**data, "csrf_token": token})
        assert answer.status_code == 404, f"{path}: {answer.status_code}"
    events = bob.http.get(f"/ui/events?org={alice.org}&project=default")
    assert events.status_code == 404
    flag = alice.get(f"/api/v1/orgs/{alice.org}/projects/default/flags/sec-flag").json()
    assert flag["environments"]["production"]["on"] is False
    assert alice.get(f"/api/v1/orgs/{alice.org}/invitations").json()["invitations"] == []
    relay_keys = alice.get(f"/api/v1/orgs/{alice.org}/projects/default/relay-keys").json()
    assert [k["name"] for k in relay_keys["relay_keys"]] == ["sec-edge"]


def test_user_supplied_text_is_shown_as_text(live):
    alice = signup(live.url, "alice@example.com")
    evil = "<script>alert(1)</script>"
    base = f"/api/v1/orgs/{alice.org}/projects/default"
    created = alice.post(
        f"{base}/flags",
        json={"key": "evil", "name": evil, "description": evil, "tags": ["x"]},
    )
    assert created.status_code == 201
    for path in (
        f"/o/{alice.org}/p/default/flags",
        f"/o/{alice.org}/p/default/flags/evil",
        f"/o/{alice.org}/audit",
    ):
        html = alice.get(path).text
        assert evil not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    # The strict CSP is on every page: no inline script could run even if one slipped through.
    csp = alice.get(f"/o/{alice.org}").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
