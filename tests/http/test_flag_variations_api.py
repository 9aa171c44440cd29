"""Removing a flag's variation over the REST API: configurations refer to variations by index,
so a shorter list through PATCH is refused and DELETE .../variations/{index} renumbers every
environment in one change."""

from __future__ import annotations

import httpx

from tests.http.test_delivery import server_key
from tests.support.api import ApiUser, signup


def _setup(user: ApiUser) -> str:
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    body = {
        "key": "banner",
        "name": "Banner",
        "type": "string",
        "variations": [
            {"value": "blue", "name": "Blue"},
            {"value": "green", "name": "Green"},
            {"value": "red", "name": "Red"},
        ],
        "defaults": {"on_variation": 1, "off_variation": 1},
    }
    assert user.post(api, json=body).status_code == 201
    flag = f"{api}/banner"
    # production serves red to alice and green to everyone else (and green when off): blue
    # is used nowhere.
    put = user.request(
        "PATCH",
        f"{flag}/environments/production",
        json={
            "on": True,
            "targets": [{"variation": 2, "values": ["alice"]}],
            "fallthrough": {"variation": 1},
        },
    )
    assert put.status_code == 200, put.text
    return flag


def _served(user: ApiUser, key: str) -> object:
    """What production serves `key`, through the SDK evaluation endpoint."""
    sdk_key = server_key(user, f"/api/v1/orgs/{user.org}/projects/default")
    answer = httpx.post(
        f"{user.base_url}/sdk/v1/evaluate",
        headers={"Authorization": f"Bearer {sdk_key}"},
        json={"context": {"key": key}, "flags": ["banner"]},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["flags"]["banner"]["value"]


def test_a_shorter_list_through_patch_is_refused_and_changes_nothing(live):
    user = signup(live.url, "shorter@example.com")
    flag = _setup(user)
    before = user.get(flag).json()
    answer = user.request(
        "PATCH",
        flag,
        json={"variations": [{"value": "blue", "name": "Blue"}, {"value": "red", "name": "Red"}]},
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "variation_removal"
    assert error.get("field") == "variations"
    assert user.get(flag).json() == before
    assert _served(user, "alice") == "red"
    assert _served(user, "bob") == "green"


def test_delete_renumbers_every_configuration(live):
    user = signup(live.url, "renumber@example.com")
    flag = _setup(user)
    version = user.get(f"{flag}/environments/production").json()["version"]
    removed = user.request("DELETE", f"{flag}/variations/0")
    assert removed.status_code == 200, removed.text
    assert [v["value"] for v in removed.json()["variations"]] == ["green", "red"]
    config = user.get(f"{flag}/environments/production").json()
    assert config["version"] > version
    # The same people get the same values as before, under the new numbering.
    assert _served(user, "alice") == "red"
    assert _served(user, "bob") == "green"
    staging = user.get(f"{flag}/environments/staging").json()
    assert staging["off_variation"] == 0  # green, renumbered there too
    assert user.get(flag).json()["defaults"] == {"on_variation": 0, "off_variation": 0}
    audit = user.get(f"/api/v1/orgs/{user.org}/audit", params={"flag": "banner"}).json()
    assert audit["entries"][0]["action"] == "flag.updated"


def test_delete_of_a_variation_in_use_names_where(live):
    user = signup(live.url, "inuse@example.com")
    flag = _setup(user)
    before = user.get(flag).json()
    answer = user.request("DELETE", f"{flag}/variations/2")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "variation_in_use"
    assert "production" in error["message"]
    assert user.get(flag).json() == before
    assert user.request("DELETE", f"{flag}/variations/3").status_code == 422
    assert user.request("DELETE", f"{flag}/variations/x").status_code == 422


def test_another_organization_gets_404_and_changes_nothing(live):
    owner = signup(live.url, "owner-v@example.com")
    flag = _setup(owner)
    stranger = signup(live.url, "stranger-v@example.com")
    answer = stranger.request("DELETE", f"{flag}/variations/0")
    assert answer.status_code == 404
    assert [v["value"] for v in owner.get(flag).json()["variations"]] == ["blue", "green", "red"]
