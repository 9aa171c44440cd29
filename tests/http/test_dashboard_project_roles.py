"""Project roles in the dashboard: pages of a project follow the role in that project, the
forms of a project viewer are refused, and the project's Members page changes roles."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.api import ApiUser, signup
from tests.support.forms import page_forms


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def user_id(user: ApiUser) -> int:
    return int(ok(user.get("/api/v1/me"))["user"]["id"])


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def is_on(owner: ApiUser, project: str, flag: str = "x") -> bool:
    path = f"/api/v1/orgs/{owner.org}/projects/{project}/flags/{flag}/environments/production"
    return bool(ok(owner.get(path))["on"])


def team(url: str) -> tuple[ApiUser, ApiUser, ApiUser]:
    """An owner; a member who is viewer of the organization and admin of project `b`; an
    admin of the organization made viewer of `default`. Both projects have a flag `x`."""
    owner = signup(url, "owner@example.com")
    viewer = signup(url, "viewer@example.com", name="Vera Viewer")
    admin = signup(url, "admin@example.com", name="Adam Admin")
    org = f"/api/v1/orgs/{owner.org}"
    ok(owner.post(f"{org}/members", json={"email": viewer.email, "role": "viewer"}), 201)
    ok(owner.post(f"{org}/members", json={"email": admin.email, "role": "admin"}), 201)
    ok(owner.post(f"{org}/projects", json={"key": "b", "name": "Billing"}), 201)
    ok(owner.put(f"{org}/projects/b/members/{user_id(viewer)}", json={"role": "admin"}))
    ok(owner.put(f"{org}/projects/default/members/{user_id(admin)}", json={"role": "viewer"}))
    for project in ("default", "b"):
        ok(owner.post(f"{org}/projects/{project}/flags", json={"key": "x", "name": "X"}), 201)
    viewer.org = admin.org = owner.org
    return owner, viewer, admin


def test_a_project_viewer_s_toggle_and_forms_are_refused(live):
    owner, viewer, admin = team(live.url)
    o = owner.org
    for member in (viewer, admin):
        page = member.get(f"/o/{o}/p/default/flags")
        assert page.status_code == 200
        # Read only here: the switches are disabled and no "New flag" button is offered.
        assert "New flag" not in page.text
        assert re.search(r'class="switch"[^>]*disabled', page.text), "a live switch for a viewer"
        token = csrf_of(page.text)
        refused = [
            member.http.post(
                f"/o/{o}/p/default/toggle",
                data={"toggle": "x production 1", "csrf_token": token},
            ),
            member.http.post(
                f"/o/{o}/p/default/flags/new",
                data={"key": "y", "name": "Y", "type": "boolean", "csrf_token": token},
            ),
            member.http.post(
                f"/o/{o}/p/default/edges",
                data={"action": "create", "name": "edge", "csrf_token": token},
            ),
            member.http.post(
                f"/o/{o}/p/default/settings",
                data={"action": "rename", "name": "Mine", "csrf_token": token},
            ),
        ]
        for answer in refused:
            assert answer.status_code == 403, f"{answer.request.url}: {answer.status_code}"
            assert "viewers can read but not change anything" in answer.text
    assert not is_on(owner, "default")
    flags = ok(owner.get(f"/api/v1/orgs/{o}/projects/default/flags"))["flags"]
    assert [f["key"] for f in flags] == ["x"]

    # In project b, where the organization viewer is admin, the same switch works.
    page = viewer.get(f"/o/{o}/p/b/flags")
    assert "New flag" in page.text
    press = {"toggle": "x production 1", "csrf_token": csrf_of(page.text)}
    asked = viewer.http.post(f"/o/{o}/p/b/toggle", data=press, follow_redirects=False)
    assert asked.status_code == 200 and "Turn X on in Production?" in asked.text  # confirms
    toggled = viewer.http.post(
        f"/o/{o}/p/b/toggle", data={**press, "confirmed": "1"}, follow_redirects=False
    )
    assert toggled.status_code == 303, toggled.text
    assert is_on(owner, "b")


def test_the_members_page_shows_and_changes_project_roles(live):
    owner, viewer, admin = team(live.url)
    o = owner.org
    here = f"/o/{o}/p/b/members"

    page = owner.get(here)
    assert page.status_code == 200
    rows = dict(re.findall(r'<th scope="row">([^<]+)<br>.*?</th>\s*<td>(\w+)</td>', page.text))
    assert rows == {"owner@example.com": "owner", "Vera Viewer": "viewer", "Adam Admin": "admin"}
    assert "What each role may do in this project" in page.text
    assert "changes this project" in page.text  # the admin's description

    forms = [f for f in page_forms(page.text) if f.method == "post" and f.action != "/logout"]
    assert len(forms) == 2  # one per member but the owner, whom a project role cannot change
    vera = next(f for f in forms if ("user_id", str(user_id(viewer))) in f.fields)
    assert ("role", "admin") in vera.fields  # her project role is selected
    data = {**dict(vera.fields), "role": "org"}
    saved = owner.http.post(here, data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    after = owner.get(saved.headers["location"])
    assert "viewer@example.com is now viewer in this project (their organization role)" in (
        after.text
    )
    listed = ok(owner.get(f"/api/v1/orgs/{o}/projects/b/members"))["members"]
    vera_now = next(m for m in listed if m["email"] == viewer.email)
    assert (vera_now["project_role"], vera_now["role"]) == (None, "viewer")

    # The organization viewer sees the page without forms, and a forged post is refused.
    seen = viewer.get(here)
    assert [f.action for f in page_forms(seen.text) if f.method == "post"] == ["/logout"]
    assert 'id="my-role">viewer<' in seen.text
    forged = viewer.http.post(
        here, data={**data, "role": "admin", "csrf_token": csrf_of(seen.text)}
    )
    assert forged.status_code == 403
    listed = ok(owner.get(f"/api/v1/orgs/{o}/projects/b/members"))["members"]
    assert next(m for m in listed if m["email"] == viewer.email)["role"] == "viewer"

    # An admin cannot change an owner (the form is not offered; a forged one is refused).
    token = csrf_of(admin.get(here).text)
    forged = admin.http.post(
        here, data={"user_id": str(user_id(owner)), "role": "viewer", "csrf_token": token}
    )
    assert forged.status_code == 403

    # The audit log says it in a sentence.
    audit = owner.get(f"/o/{o}/audit")
    text = re.sub(r"<[^>]+>", "", audit.text)
    text = re.sub(r"\s+", " ", text)
    assert "changed the project role of viewer@example.com in project b back to" in text


def test_a_demoted_admin_keeps_no_project_role_they_gave_themselves(live):
    owner = signup(live.url, "owner@example.com")
    admin = signup(live.url, "admin@example.com")
    org = f"/api/v1/orgs/{owner.org}"
    ok(owner.post(f"{org}/members", json={"email": admin.email, "role": "admin"}), 201)
    ok(owner.post(f"{org}/projects", json={"key": "b", "name": "Billing"}), 201)
    me = user_id(admin)
    ok(admin.put(f"{org}/projects/b/members/{me}", json={"role": "admin"}))

    ok(owner.patch(f"{org}/members/{me}", json={"role": "viewer"}))

    members = ok(owner.get(f"{org}/projects/b/members"))["members"]
    [mine] = [m for m in members if m["user_id"] == me]
    assert (mine["project_role"], mine["role"]) == (None, "viewer")
    refused = admin.post(f"{org}/projects/b/flags", json={"key": "late", "name": "Late"})
    assert refused.status_code == 403, refused.text
    page = admin.get(f"/o/{owner.org}/p/b/flags")
    assert page.status_code == 200 and "New flag" not in page.text
    entries = ok(owner.get(f"{org}/audit", params={"action": "member.project_role_changed"}))
    ended = [e for e in entries["entries"] if e["actor"] == owner.email]
    assert len(ended) == 1 and ended[0]["project"] == "b"
    assert ended[0]["before"]["role"] == "admin" and ended[0]["after"]["role"] == "viewer"
