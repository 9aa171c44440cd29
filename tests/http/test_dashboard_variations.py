"""Editing a flag's variations from the dashboard: values and names in place, adding one,
removing an unused one (later ones renumbered everywhere), and refusing to remove one in use."""

from __future__ import annotations

import re

from tests.http.test_dashboard_security import csrf_of
from tests.support.api import ApiUser, signup


def _flag(user: ApiUser, key: str = "banner") -> str:
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    body = {
        "key": key,
        "name": "Banner",
        "type": "string",
        "variations": [
            {"value": "blue", "name": "Blue"},
            {"value": "green", "name": "Green"},
            {"value": "red", "name": "Red"},
        ],
        "defaults": {"on_variation": 0, "off_variation": 0},
    }
    assert user.post(api, json=body).status_code == 201
    return f"/o/{user.org}/p/default/flags/{key}/variations"


def _form(user: ApiUser, page: str) -> dict[str, object]:
    html = user.get(page).text
    stamp = re.search(r'name="stamp" value="(\d+)"', html)
    assert stamp
    return {"csrf_token": csrf_of(html), "stamp": stamp.group(1)}


def _variations(user: ApiUser, key: str = "banner") -> list[dict[str, object]]:
    api = f"/api/v1/orgs/{user.org}/projects/default/flags/{key}"
    return user.get(api).json()["variations"]  # type: ignore[no-any-return]


def test_edit_values_names_and_add_a_variation(live):
    user = signup(live.url, "variations@example.com")
    page = _flag(user)
    form = {
        **_form(user, page),
        "variation_name": ["Navy <i>", "Green", "Red", "Purple"],
        "variation_value": ["navy", "green", "red", "purple"],
        "on_variation": "3",
        "off_variation": "0",
        "action": "save",
    }
    # Blue, served in production (when off) and staging, gets a new value: production confirms
    # changes, so the page asks first, the edits kept, and nothing is saved yet.
    asked = user.http.post(page, data={**form, "comment": "rebrand"})
    assert asked.status_code == 200, asked.text
    assert "Save the new values, served in Production?</h2>" in asked.text
    assert 'name="confirmed" value="1"' in asked.text and 'value="rebrand"' in asked.text
    assert 'value="navy"' in asked.text and 'value="purple"' in asked.text
    assert [v["value"] for v in _variations(user)] == ["blue", "green", "red"]
    saved = user.http.post(page, data={**form, "confirmed": "1", "comment": "rebrand"})
    assert saved.status_code == 303, saved.text
    assert [v["value"] for v in _variations(user)] == ["navy", "green", "red", "purple"]
    entry = user.get(f"/api/v1/orgs/{user.org}/audit").json()["entries"][0]
    assert entry["comment"] == "rebrand"
    # A new name only (nothing served changes) saves at once.
    renamed = user.http.post(
        page,
        data={**form, **_form(user, page), "variation_name": ["Navy", "Green", "Red", "Purple"]},
    )
    assert renamed.status_code == 303, renamed.text
    assert _variations(user)[0]["name"] == "Navy"
    form["stamp"] = _form(user, page)["stamp"]
    saved = user.http.post(page, data={**form, "confirmed": "1"})
    assert saved.status_code == 303, saved.text
    assert _variations(user)[0]["name"] == "Navy <i>"
    shown = user.get(saved.headers["location"]).text
    assert "Saved the variations." in shown
    assert "Navy &lt;i&gt;" in shown and "Navy <i>" not in shown
    flag = user.get(f"/api/v1/orgs/{user.org}/projects/default/flags/banner").json()
    assert flag["defaults"]["on_variation"] == 3

    # "Add a variation" only adds a row to the form: nothing is stored, what was typed is kept.
    added = user.http.post(
        page,
        data={**form, **_form(user, page), "variation_value": ["typed", "green", "red", "x"]}
        | {"action": "add"},
    )
    assert added.status_code == 200
    assert added.text.count('name="variation_value"') == 5
    assert 'value="typed"' in added.text
    assert len(_variations(user)) == 4


def test_a_bad_value_is_refused_next_to_its_field_and_kept(live):
    user = signup(live.url, "bad-value@example.com")
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    body = {"key": "size", "type": "number", "variations": [{"value": 10}, {"value": 20}]}
    assert user.post(api, json=body).status_code == 201
    page = f"/o/{user.org}/p/default/flags/size/variations"
    refused = user.http.post(
        page,
        data={
            **_form(user, page),
            "variation_name": ["", ""],
            "variation_value": ["10", "twenty"],
            "action": "save",
        },
    )
    assert refused.status_code == 422
    assert 'id="variations[1].value-error"' in refused.text
    assert "must be a number" in refused.text
    assert 'value="twenty"' in refused.text
    assert [v["value"] for v in _variations(user, "size")] == [10, 20]

    # Two equal values: refused, nothing stored.
    same = user.http.post(
        page,
        data={
            **_form(user, page),
            "variation_name": ["", ""],
            "variation_value": ["10", "10"],
            "action": "save",
        },
    )
    assert same.status_code == 422
    assert "distinct" in same.text
    assert [v["value"] for v in _variations(user, "size")] == [10, 20]


def test_a_variation_in_use_cannot_be_removed_and_an_unused_one_renumbers_the_rest(live_any_db):
    live = live_any_db  # SQLite, and PostgreSQL when its URL is set
    user = signup(live.url, "remove@example.com")
    page = _flag(user)
    config = f"/api/v1/orgs/{user.org}/projects/default/flags/banner/environments/production"
    # production: off serves Blue (0), a rule serves Red (2), the default rule serves Red.
    put = user.put(
        config,
        json={
            "on": True,
            "off_variation": 0,
            "rules": [
                {"clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
                 "serve": {"variation": 2}},
            ],
            "fallthrough": {"variation": 2},
        },
    )  # fmt: skip
    assert put.status_code == 200, put.text

    refused = user.http.post(page, data={**_form(user, page), "action": "remove:2"})
    assert refused.status_code == 422
    error = re.search(r'id="variations\[2\]-error">([^<]*)<', refused.text)
    assert error, refused.text
    assert "in use in production" in error.group(1) and "rule 1" in error.group(1)
    assert len(_variations(user)) == 3

    # Green (1) is served nowhere: removing it moves Red from 2 to 1 in every configuration.
    removed = user.http.post(page, data={**_form(user, page), "action": "remove:1"})
    assert removed.status_code == 303
    assert [v["value"] for v in _variations(user)] == ["blue", "red"]
    after = user.get(config).json()
    assert after["rules"][0]["serve"] == {"variation": 1}
    assert after["fallthrough"] == {"variation": 1}
    assert "Removed the variation." in user.get(removed.headers["location"]).text

    # What is served did not change: a pro user still gets red, evaluated by the engine.
    tested = user.get(
        f"/o/{user.org}/p/default/flags/banner",
        params={"env": "production", "context": '{"key": "u-1", "plan": "pro"}'},
    )
    assert '<code id="test-value">&#34;red&#34;</code>' in tested.text


def test_viewers_csrf_and_other_organizations(live):
    owner = signup(live.url, "owner-v@example.com")
    page = _flag(owner)
    viewer = signup(live.url, "viewer-v@example.com")
    added = owner.post(
        f"/api/v1/orgs/{owner.org}/members", json={"email": viewer.email, "role": "viewer"}
    )
    assert added.status_code == 201

    seen = viewer.get(page)
    assert seen.status_code == 200
    for button in ("Save variations", "Remove variation", "Add a variation"):
        assert button not in seen.text
    refused = viewer.http.post(
        page,
        data={
            "csrf_token": csrf_of(seen.text),
            "stamp": re.search(r'name="stamp" value="(\d+)"', seen.text).group(1),  # type: ignore[union-attr]
            "variation_name": ["Hacked", "Green", "Red"],
            "variation_value": ["blue", "green", "red"],
            "action": "save",
        },
    )
    assert refused.status_code == 403
    assert _variations(owner)[0]["name"] == "Blue"

    stranger = signup(live.url, "stranger-v@example.com")
    assert stranger.get(page).status_code == 404
    assert (
        stranger.http.post(
            page, data={"csrf_token": csrf_of(stranger.get(f"/o/{stranger.org}").text)}
        ).status_code
        == 404
    )

    forged = owner.http.post(
        page,
        data={
            "stamp": _form(owner, page)["stamp"],
            "variation_name": ["Forged", "Green", "Red"],
            "variation_value": ["blue", "green", "red"],
            "action": "save",
        },
    )
    assert forged.status_code == 403
    assert _variations(owner)[0]["name"] == "Blue"
