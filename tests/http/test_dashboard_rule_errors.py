"""The rule editor's own checks (numbers for `gt`, rollouts adding up to 100, an attribute named)
refuse a save with the error beside the field concerned, keep what was typed and store nothing;
on a flag's page and on a segment's page alike."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import ApiUser, signup
from tests.support.forms import field_error, form_fields

FLAGS = "/api/v1/orgs/{org}/projects/default/flags"


def _config(user: ApiUser, flag: str) -> dict[str, Any]:
    answer = user.get(f"{FLAGS.format(org=user.org)}/{flag}/environments/production")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _press(user: ApiUser, page: str, fields: dict[str, str], action: str) -> httpx.Response:
    return user.http.post(page, data={**fields, "action": action, "confirmed": "1"})


def _refused(
    answer: httpx.Response, field: str, message: str, form: str = "rule_count"
) -> dict[str, str]:
    """Assert the save was refused with `message` beside `field`; the form as sent back."""
    assert answer.status_code == 422, answer.text[:500]
    shown = field_error(answer.text, field)
    assert shown is not None, f"no error beside {field}"
    assert message in shown
    return form_fields(answer.text, form)


def test_flag_rule_errors_appear_beside_their_field_and_nothing_is_stored(live):
    user = signup(live.url, "rules@example.com")
    created = user.post(FLAGS.format(org=user.org), json={"key": "checkout", "name": "Checkout"})
    assert created.status_code == 201
    page = f"/o/{user.org}/p/default/flags/checkout?env=production"
    before = _config(user, "checkout")

    # Add a rule with the editor's button, then fill its clause as a user would.
    added = _press(user, page, form_fields(user.get(page).text, "rule_count"), "add-rule")
    assert added.status_code == 200
    fields = form_fields(added.text, "rule_count")
    assert fields["rule_count"] == "1"
    fields |= {
        "r0.description": "Big spenders",
        "r0.c0.attribute": "spend",
        "r0.c0.op": "gt",
        "r0.c0.values": "abc",
        "r0.serve": "0",
    }

    # A number operator with a word.
    fields = _refused(_press(user, page, fields, "save"), "r0.c0.values", "must be numbers")
    assert fields["r0.c0.values"] == "abc"
    assert fields["r0.c0.attribute"] == "spend" and fields["r0.description"] == "Big spenders"
    assert _config(user, "checkout") == before

    # A rollout whose percentages add up to 90.
    fields |= {"r0.c0.values": "100", "r0.serve": "rollout", "r0.w0": "30", "r0.w1": "60"}
    answer = _press(user, page, fields, "save")
    fields = _refused(answer, "r0.serve", "add up to 90, not 100")
    assert (fields["r0.serve"], fields["r0.w0"], fields["r0.w1"]) == ("rollout", "30", "60")
    assert 'aria-invalid="true" aria-describedby="r0.serve-error"' in answer.text
    assert _config(user, "checkout") == before

    # The default rule's rollout: a percentage that is not a number.
    fields |= {"r0.w1": "70", "ft.serve": "rollout", "ft.w0": "half", "ft.w1": "50"}
    fields = _refused(_press(user, page, fields, "save"), "ft.w0", "must be a percentage")
    assert fields["ft.w0"] == "half"
    assert _config(user, "checkout") == before

    # A clause without its attribute.
    fields |= {"ft.serve": "1", "r0.c0.attribute": ""}
    fields = _refused(_press(user, page, fields, "save"), "r0.c0.attribute", "name the attribute")
    assert fields["r0.c0.values"] == "100" and fields["r0.w0"] == "30"
    assert _config(user, "checkout") == before

    # Put right, the same form saves exactly what was typed.
    fields |= {"r0.c0.attribute": "spend"}
    saved = _press(user, page, fields, "save")
    assert saved.status_code == 303, saved.text[:500]
    rule = _config(user, "checkout")["rules"][0]
    assert rule["description"] == "Big spenders"
    assert rule["clauses"] == [{"attribute": "spend", "op": "gt", "values": [100], "negate": False}]
    weights = rule["serve"]["rollout"]["weights"]
    assert weights == [{"variation": 0, "weight": 30_000}, {"variation": 1, "weight": 70_000}]


def test_segment_rule_errors_appear_beside_their_field_and_nothing_is_stored(live):
    user = signup(live.url, "segment-rules@example.com")
    segments = f"/o/{user.org}/p/default/segments"
    listing = user.get(f"{segments}?env=production").text
    created = user.http.post(
        segments, data={**form_fields(listing, "key"), "name": "Big spenders", "key": "big"}
    )
    assert created.status_code == 303
    page = f"{segments}/big?env=production"
    api = f"/api/v1/orgs/{user.org}/projects/default/environments/production/segments/big"
    before = user.get(api).json()

    added = _press(user, page, form_fields(user.get(page).text, "rule_count"), "add-rule")
    fields = form_fields(added.text, "rule_count") | {
        "included": "alice",
        "r0.c0.attribute": "spend",
        "r0.c0.op": "gte",
        "r0.c0.values": "lots",
    }
    answer = _press(user, page, fields, "save")
    fields = _refused(answer, "r0.c0.values", "must be numbers")
    assert fields["r0.c0.values"] == "lots" and fields["included"] == "alice"
    assert user.get(api).json() == before

    fields |= {"r0.c0.values": "1000", "r0.c0.attribute": " "}
    answer = _press(user, page, fields, "save")
    _refused(answer, "r0.c0.attribute", "name the attribute")
    assert "Not saved: name the attribute" in answer.text
    assert user.get(api).json() == before
