"""Renaming and deleting projects and environments, renaming the organization, and adding an
existing user by email, from the dashboard: success, errors next to the field, viewers refused,
other organizations' objects 404, and no change without the CSRF token."""

from __future__ import annotations

from tests.http.test_dashboard_security import FORM, csrf_of
from tests.support.api import ApiUser, signup


def _viewer_of(owner: ApiUser, email: str, live_url: str) -> ApiUser:
    viewer = signup(live_url, email)
    added = owner.post(f"/api/v1/orgs/{owner.org}/members", json={"email": email, "role": "viewer"})
    assert added.status_code == 201
    return viewer


def _project(user: ApiUser, key: str = "default") -> dict[str, object]:
    return user.get(f"/api/v1/orgs/{user.org}/projects/{key}").json()  # type: ignore[no-any-return]


def test_rename_and_delete_a_project(live):
    user = signup(live.url, "projects@example.com")
    assert (
        user.post(f"/api/v1/orgs/{user.org}/projects", json={"key": "shop", "name": "Shop"})
    ).status_code == 201
    page = f"/o/{user.org}/p/shop/settings"
    token = csrf_of(user.get(page).text)

    renamed = user.http.post(
        page, data={"csrf_token": token, "action": "rename", "name": "Shop <2>"}
    )
    assert renamed.status_code == 303
    assert _project(user, "shop")["name"] == "Shop <2>"
    shown = user.get(f"/o/{user.org}").text
    assert "Shop &lt;2&gt;" in shown and "Shop <2>" not in shown

    empty = user.http.post(page, data={"csrf_token": token, "action": "rename", "name": "  "})
    assert empty.status_code == 422
    assert 'id="name-error"' in empty.text

    # The confirmation names the project; a wrong key deletes nothing and keeps what was typed.
    confirm = user.get(page).text
    assert "Type shop to confirm" in confirm
    wrong = user.http.post(
        page, data={"csrf_token": token, "action": "delete", "confirm_key": "shopp"}
    )
    assert wrong.status_code == 422
    assert 'id="confirm_key-error"' in wrong.text and 'value="shopp"' in wrong.text
    assert user.get(f"/api/v1/orgs/{user.org}/projects/shop").status_code == 200

    deleted = user.http.post(
        page, data={"csrf_token": token, "action": "delete", "confirm_key": "shop"}
    )
    assert deleted.status_code == 303
    assert user.get(f"/api/v1/orgs/{user.org}/projects/shop").status_code == 404
    assert "Deleted the project" in user.get(deleted.headers["location"]).text


def test_project_forms_refuse_viewers_strangers_and_missing_csrf(live):
    owner = signup(live.url, "owner-p@example.com")
    viewer = _viewer_of(owner, "viewer-p@example.com", live.url)
    page = f"/o/{owner.org}/p/default/settings"

    seen = viewer.get(page)
    assert seen.status_code == 200
    assert "Delete the project" not in seen.text and "Rename the project" not in seen.text
    assert "Project settings" not in viewer.get(f"/o/{owner.org}/p/default/flags").text
    for data in (
        {"action": "rename", "name": "Hacked"},
        {"action": "delete", "confirm_key": "default"},
    ):
        refused = viewer.http.post(page, data={"csrf_token": csrf_of(seen.text), **data})
        assert refused.status_code == 403
    assert _project(owner)["name"] != "Hacked"

    stranger = signup(live.url, "stranger-p@example.com")
    assert stranger.get(page).status_code == 404
    token = csrf_of(stranger.get(f"/o/{stranger.org}").text)
    gone = stranger.http.post(
        page, data={"csrf_token": token, "action": "delete", "confirm_key": "default"}
    )
    assert gone.status_code == 404

    forged = owner.http.post(page, data={"action": "delete", "confirm_key": "default"})
    assert forged.status_code == 403
    assert owner.get(f"/api/v1/orgs/{owner.org}/projects/default").status_code == 200


def test_rename_and_delete_an_environment(live):
    user = signup(live.url, "envs@example.com")
    page = f"/o/{user.org}/p/default/environments"
    token = csrf_of(user.get(page).text)

    renamed = user.http.post(
        page, data={"csrf_token": token, "action": "rename", "env": "staging", "name": "QA <x>"}
    )
    assert renamed.status_code == 303
    envs = {e["key"]: e["name"] for e in _project(user)["environments"]}  # type: ignore[attr-defined]
    assert envs["staging"] == "QA <x>"
    assert "QA &lt;x&gt;" in user.get(renamed.headers["location"]).text

    refused = user.http.post(
        page, data={"csrf_token": token, "action": "rename", "env": "staging", "name": ""}
    )
    assert refused.status_code == 422
    assert 'id="env-staging-name-error"' in refused.text

    confirm_page = f"{page}/staging/delete"
    confirm = user.get(confirm_page)
    assert confirm.status_code == 200 and "Type staging to confirm" in confirm.text
    wrong = user.http.post(confirm_page, data={"csrf_token": token, "confirm_key": "production"})
    assert wrong.status_code == 422 and 'value="production"' in wrong.text
    assert len(_project(user)["environments"]) == 2  # type: ignore[arg-type]
    deleted = user.http.post(confirm_page, data={"csrf_token": token, "confirm_key": "staging"})
    assert deleted.status_code == 303
    assert [e["key"] for e in _project(user)["environments"]] == ["production"]  # type: ignore[attr-defined]


def test_environment_forms_refuse_viewers_strangers_and_missing_csrf(live):
    owner = signup(live.url, "owner-e@example.com")
    viewer = _viewer_of(owner, "viewer-e@example.com", live.url)
    page = f"/o/{owner.org}/p/default/environments"
    seen = viewer.get(page).text
    assert "Save settings of staging" not in seen and "/staging/delete" not in seen
    token = csrf_of(seen)
    assert viewer.get(f"{page}/staging/delete").status_code == 403
    assert (
        viewer.http.post(
            f"{page}/staging/delete", data={"csrf_token": token, "confirm_key": "staging"}
        )
    ).status_code == 403
    assert (
        viewer.http.post(
            page, data={"csrf_token": token, "action": "rename", "env": "staging", "name": "X"}
        )
    ).status_code == 403

    stranger = signup(live.url, "stranger-e@example.com")
    stoken = csrf_of(stranger.get(f"/o/{stranger.org}").text)
    assert stranger.get(f"{page}/staging/delete").status_code == 404
    assert (
        stranger.http.post(
            f"{page}/staging/delete", data={"csrf_token": stoken, "confirm_key": "staging"}
        )
    ).status_code == 404

    assert (
        owner.http.post(f"{page}/staging/delete", data={"confirm_key": "staging"}).status_code
        == 403
    )
    assert len(_project(owner)["environments"]) == 2  # type: ignore[arg-type]
    envs = {e["key"]: e["name"] for e in _project(owner)["environments"]}  # type: ignore[attr-defined]
    assert envs["staging"] == "Staging"


def test_rename_the_organization(live):
    owner = signup(live.url, "org@example.com")
    page = f"/o/{owner.org}/settings"
    token = csrf_of(owner.get(page).text)
    renamed = owner.http.post(
        page, data={"csrf_token": token, "action": "rename-org", "org_name": "Acme <Inc>"}
    )
    assert renamed.status_code == 303
    assert owner.get(f"/api/v1/orgs/{owner.org}").json()["name"] == "Acme <Inc>"
    assert "Acme &lt;Inc&gt;" in owner.get(renamed.headers["location"]).text

    too_long = owner.http.post(
        page, data={"csrf_token": token, "action": "rename-org", "org_name": "y" * 201}
    )
    assert too_long.status_code == 422
    assert 'id="org_name-error"' in too_long.text and 'value="' + "y" * 201 + '"' in too_long.text

    viewer = _viewer_of(owner, "viewer-o@example.com", live.url)
    seen = viewer.get(page).text
    assert "Rename the organization" not in seen and "Add member" not in seen
    refused = viewer.http.post(
        page, data={"csrf_token": csrf_of(seen), "action": "rename-org", "org_name": "Hacked"}
    )
    assert refused.status_code == 403
    stranger = signup(live.url, "stranger-o@example.com")
    stoken = csrf_of(stranger.get(f"/o/{stranger.org}").text)
    assert (
        stranger.http.post(
            page, data={"csrf_token": stoken, "action": "rename-org", "org_name": "X"}
        )
    ).status_code == 404
    assert (
        owner.http.post(page, data={"action": "rename-org", "org_name": "Forged"}).status_code
        == 403
    )
    assert owner.get(f"/api/v1/orgs/{owner.org}").json()["name"] == "Acme <Inc>"


def test_add_an_existing_user_by_email(live):
    owner = signup(live.url, "team@example.com")
    signup(live.url, "bob@example.com", name="Bob <b>")
    page = f"/o/{owner.org}/settings"
    token = csrf_of(owner.get(page).text)
    members = f"/api/v1/orgs/{owner.org}/members"

    unknown = owner.http.post(
        page,
        data={"csrf_token": token, "action": "add-member", "member_email": "nobody@example.com",
              "member_role": "admin"},
    )  # fmt: skip
    assert unknown.status_code == 422
    assert 'id="member_email-error"' in unknown.text and "invite them" in unknown.text
    assert 'value="nobody@example.com"' in unknown.text

    bad_role = owner.http.post(
        page,
        data={"csrf_token": token, "action": "add-member", "member_email": "bob@example.com",
              "member_role": "emperor"},
    )  # fmt: skip
    assert bad_role.status_code == 422 and 'id="member_role-error"' in bad_role.text

    added = owner.http.post(
        page,
        data={"csrf_token": token, "action": "add-member", "member_email": " Bob@Example.com ",
              "member_role": "admin"},
    )  # fmt: skip
    assert added.status_code == 303
    roles = {m["email"]: m["role"] for m in owner.get(members).json()["members"]}
    assert roles["bob@example.com"] == "admin"
    shown = owner.get(added.headers["location"]).text
    assert "Added bob@example.com" in shown and "Bob &lt;b&gt;" in shown

    again = owner.http.post(
        page,
        data={"csrf_token": token, "action": "add-member", "member_email": "bob@example.com",
              "member_role": "viewer"},
    )  # fmt: skip
    assert again.status_code == 409 and 'id="member_email-error"' in again.text

    signup(live.url, "carol@example.com")
    viewer = _viewer_of(owner, "viewer-m@example.com", live.url)
    vtoken = csrf_of(viewer.get(page).text)
    refused = viewer.http.post(
        page,
        data={"csrf_token": vtoken, "action": "add-member", "member_email": "carol@example.com",
              "member_role": "owner"},
    )  # fmt: skip
    assert refused.status_code == 403
    forged = owner.http.post(
        page,
        data={"action": "add-member", "member_email": "carol@example.com", "member_role": "viewer"},
    )
    assert forged.status_code == 403
    assert "carol@example.com" not in {m["email"] for m in owner.get(members).json()["members"]}


def test_every_new_form_carries_a_csrf_token(live):
    user = signup(live.url, "forms@example.com")
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(flags, json={"key": "f", "name": "F"}).status_code == 201
    base = f"/o/{user.org}/p/default"
    checked = 0
    for path in (
        f"{base}/settings",
        f"{base}/environments",
        f"{base}/environments/staging/delete",
        f"{base}/flags/f/variations",
        f"/o/{user.org}/settings",
    ):
        page = user.get(path)
        assert page.status_code == 200, path
        for form in FORM.findall(page.text):
            if 'method="post"' in form:
                assert 'name="csrf_token"' in form, f"{path}: {form[:200]}"
                checked += 1
    assert checked >= 12
