"""Archiving or deleting a flag that other flags require as a prerequisite asks first: the API
answers 409 `flag_has_dependents` listing them by environment until `force=true`, and the
dashboard's confirmation page names them with what they will serve instead."""

from __future__ import annotations

from tests.http.test_live_flag_guard import _project, _refusal
from tests.support.api import ApiUser, signup
from tests.support.forms import page_forms


def _gated(user: ApiUser) -> str:
    """`billing` (off everywhere) required by `checkout` in production; `billing`'s API path."""
    api = f"{_project(user)}/flags"
    for key in ("billing", "checkout"):
        assert user.post(api, json={"key": key, "type": "boolean"}).status_code == 201
    gate = {"on": True, "prerequisites": [{"flag": "billing", "variation": 0}]}
    r = user.patch(f"{api}/checkout/environments/production", json=gate)
    assert r.status_code == 200, r.text
    return f"{api}/billing"


def test_archiving_or_deleting_a_required_flag_answers_409_listing_dependents_until_forced(live):
    user = signup(live.url, "dependents-api@example.com")
    billing = _gated(user)

    archive = _refusal(user.patch(billing, json={"archived": True}), "flag_has_dependents")
    assert archive["dependents"] == {"production": ["checkout"]}
    assert archive["environments"] == ["production"] and archive["flags"] == ["checkout"]
    assert "checkout" in archive["message"]
    delete = _refusal(user.delete(billing), "flag_has_dependents")
    assert delete["dependents"] == {"production": ["checkout"]}
    assert user.get(billing).json()["archived"] is False  # nothing changed

    # On somewhere too: the live-flag refusal comes first and names the dependents as well.
    assert user.patch(f"{billing}/environments/staging", json={"on": True}).status_code == 200
    live_too = _refusal(user.patch(billing, json={"archived": True}), "flag_in_use")
    assert live_too["dependents"] == {"production": ["checkout"]}

    forced = user.patch(f"{billing}?force=true", json={"archived": True})
    assert forced.status_code == 200 and forced.json()["archived"] is True
    assert user.patch(billing, json={"archived": False}).status_code == 200
    assert user.delete(f"{billing}?force=true").status_code == 204
    assert user.get(billing).status_code == 404


def test_an_archived_dependent_does_not_hold_a_flag_back(live):
    user = signup(live.url, "dependents-archived@example.com")
    billing = _gated(user)
    checkout = billing.replace("/billing", "/checkout")
    assert user.patch(f"{checkout}?force=true", json={"archived": True}).status_code == 200
    assert user.patch(billing, json={"archived": True}).status_code == 200


def test_the_archive_confirmation_lists_dependents_and_what_they_will_serve(live):
    user = signup(live.url, "dependents-page@example.com")
    billing = _gated(user)
    page = f"/o/{user.org}/p/default/flags/billing"
    archive = next(
        f
        for f in page_forms(user.get(f"{page}?env=production").text)
        if ("action", "archive") in f.buttons
    )
    asked = user.http.post(page, data=dict(archive.fields) | {"action": "archive"})
    assert asked.status_code == 200, asked.text[:500]
    assert 'id="dependent-flags"' in asked.text
    assert ">checkout</a> will serve Off (false)" in asked.text
    assert user.get(billing).json()["archived"] is False

    confirm = next(f for f in page_forms(asked.text) if ("action", "archive") in f.buttons)
    done = user.http.post(page, data=dict(confirm.fields) | {"action": "archive"})
    assert done.status_code == 303
    assert user.get(billing).json()["archived"] is True


def test_removing_a_variation_another_flag_requires_is_refused_and_later_ones_renumbered(live):
    user = signup(live.url, "dependents-variations@example.com")
    api = f"{_project(user)}/flags"
    plan = {
        "key": "plan",
        "type": "string",
        "variations": [{"value": v} for v in "abc"],
        "defaults": {"on_variation": 0, "off_variation": 0},
    }
    assert user.post(api, json=plan).status_code == 201
    assert user.post(api, json={"key": "checkout", "type": "boolean"}).status_code == 201
    config = f"{api}/checkout/environments/production"
    gate = {"prerequisites": [{"flag": "plan", "variation": 2}]}
    assert user.patch(config, json=gate).status_code == 200

    refused = user.request("DELETE", f"{api}/plan/variations/2")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "variation_in_use" and "checkout in production" in error["message"]
    assert len(user.get(f"{api}/plan").json()["variations"]) == 3  # nothing changed

    # Removing an earlier one: checkout still requires "c", now variation 1.
    removed = user.request("DELETE", f"{api}/plan/variations/1")
    assert removed.status_code == 200, removed.text
    assert user.get(config).json()["prerequisites"] == [{"flag": "plan", "variation": 1}]
    assert user.get(f"{api}/plan").json()["variations"][1]["value"] == "c"
