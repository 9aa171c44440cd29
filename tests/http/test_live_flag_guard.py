"""Archiving or deleting what running applications use asks first: over the REST API, a flag
that is on somewhere (or an environment or a project with flags on) answers 409 with a stable
code naming where, and changes nothing, until the request says `force=true`."""

from __future__ import annotations

from typing import Any

import httpx

from tests.http.test_delivery import server_key
from tests.support.api import ApiUser, signup


def _project(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default"


def _flag(user: ApiUser, key: str, *, on_in: tuple[str, ...] = ("production",)) -> str:
    api = f"{_project(user)}/flags"
    assert user.post(api, json={"key": key, "name": key, "type": "boolean"}).status_code == 201
    for env in on_in:
        r = user.patch(f"{api}/{key}/environments/{env}", json={"on": True})
        assert r.status_code == 200, r.text
    return f"{api}/{key}"


def _served(user: ApiUser, sdk_key: str, flag: str) -> dict[str, Any]:
    """What production's SDK endpoint answers for `flag` now."""
    answer = httpx.post(
        f"{user.base_url}/sdk/v1/evaluate",
        headers={"Authorization": f"Bearer {sdk_key}"},
        json={"context": {"key": "u-1"}, "flags": [flag]},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["flags"][flag])


def _refusal(answer: httpx.Response, code: str) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    error = dict(answer.json()["error"])
    assert error["code"] == code, error
    return error


def test_archiving_a_flag_that_is_on_answers_409_naming_where_until_forced(live):
    user = signup(live.url, "archiver@example.com")
    sdk = server_key(user, _project(user))
    flag = _flag(user, "checkout", on_in=("production", "staging"))
    assert _served(user, sdk, "checkout")["value"] is True

    error = _refusal(user.patch(flag, json={"archived": True}), "flag_in_use")
    assert error["environments"] == ["staging", "production"] or error["environments"] == [
        "production",
        "staging",
    ]
    assert error["flags"] == ["checkout"]
    assert "FLAG_NOT_FOUND" in error["message"] and "force=true" in error["message"]
    # Nothing changed: the flag is active and still served.
    assert user.get(flag).json()["archived"] is False
    assert _served(user, sdk, "checkout")["value"] is True

    forced = user.patch(flag, params={"force": "true"}, json={"archived": True})
    assert forced.status_code == 200, forced.text
    assert forced.json()["archived"] is True
    assert _served(user, sdk, "checkout").get("error_code") == "FLAG_NOT_FOUND"

    # Restoring needs no confirmation.
    restored = user.patch(flag, json={"archived": False})
    assert restored.status_code == 200 and restored.json()["archived"] is False


def test_a_flag_that_is_off_everywhere_archives_and_deletes_without_force(live):
    user = signup(live.url, "tidy@example.com")
    flag = _flag(user, "old-banner", on_in=())
    assert user.patch(flag, json={"archived": True}).status_code == 200
    on_but_archived = _flag(user, "retired", on_in=("production",))
    assert user.patch(on_but_archived, params={"force": "1"}, json={"archived": True}).is_success
    # An archived flag is served nowhere, so deleting it takes nothing from applications.
    assert user.delete(flag).status_code == 204
    assert user.delete(on_but_archived).status_code == 204


def test_deleting_a_flag_that_is_on_answers_409_until_forced(live):
    user = signup(live.url, "deleter@example.com")
    sdk = server_key(user, _project(user))
    flag = _flag(user, "pricing")

    error = _refusal(user.delete(flag), "flag_in_use")
    assert error["environments"] == ["production"]
    assert user.get(flag).status_code == 200
    assert _served(user, sdk, "pricing")["value"] is True

    assert user.delete(flag, params={"force": "true"}).status_code == 204
    assert user.get(flag).status_code == 404
    assert _served(user, sdk, "pricing").get("error_code") == "FLAG_NOT_FOUND"


def test_force_must_be_a_boolean(live):
    user = signup(live.url, "typo@example.com")
    flag = _flag(user, "beta")
    answer = user.delete(flag, params={"force": "perhaps"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "query.force" or "force" in answer.text
    assert user.get(flag).status_code == 200


def test_deleting_an_environment_or_a_project_with_flags_on_answers_409_until_forced(live):
    user = signup(live.url, "cleaner@example.com")
    project = _project(user)
    _flag(user, "a-on", on_in=("staging",))
    _flag(user, "b-off", on_in=())

    error = _refusal(user.delete(f"{project}/environments/staging"), "environment_in_use")
    assert error["environments"] == ["staging"] and error["flags"] == ["a-on"]
    assert user.get(f"{project}/environments/staging").status_code == 200
    # An environment where nothing is on goes at once.
    made = user.post(f"{project}/environments", json={"key": "qa", "name": "QA"})
    assert made.status_code == 201, made.text
    assert user.delete(f"{project}/environments/qa").status_code == 204

    error = _refusal(user.delete(project), "project_in_use")
    assert error["environments"] == ["staging"] and error["flags"] == ["a-on"]
    assert user.get(project).status_code == 200

    forced = user.delete(f"{project}/environments/staging", params={"force": "true"})
    assert forced.status_code == 204, forced.text
    # Nothing is on any more: the project goes without force.
    assert user.delete(project).status_code == 204


def test_another_organizations_flag_answers_404_even_with_force(live):
    owner = signup(live.url, "owner@example.com")
    flag = _flag(owner, "secret")
    stranger = signup(live.url, "stranger@example.com")
    foreign = flag.replace(f"/orgs/{owner.org}/", f"/orgs/{owner.org}/")
    answer = stranger.delete(foreign, params={"force": "true"})
    assert answer.status_code == 404, answer.text
    assert owner.get(flag).status_code == 200
