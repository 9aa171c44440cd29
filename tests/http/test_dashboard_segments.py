"""Segments from the dashboard: create one, edit its included and excluded keys and a rule,
use it in a flag's rule, see the SDK and the test panel evaluate it, and be refused, clearly,
when deleting it while a flag uses it."""

from __future__ import annotations

import re

import httpx

from tests.http.test_delivery import env_of, evaluate
from tests.support.api import ApiUser, signup
from tests.support.forms import field_error, form_fields


def _press(user: ApiUser, page: str, fields: dict[str, str], action: str) -> httpx.Response:
    return user.http.post(page, data={**fields, "action": action, "confirmed": "1"})


def test_create_edit_use_and_delete_a_segment(live):
    user = signup(live.url, "segments@example.com")
    segments = f"/o/{user.org}/p/default/segments"
    api = f"/api/v1/orgs/{user.org}/projects/default/environments/production/segments"

    # Create: the list's form takes a name and a key and opens the new segment.
    listing = user.get(f"{segments}?env=production").text
    assert "No segments in production yet." in listing
    create = form_fields(listing, "key") | {"name": "Beta testers", "key": "beta-testers"}
    created = user.http.post(segments, data=create)
    assert created.status_code == 303
    page = created.headers["location"]
    assert page == f"{segments}/beta-testers?env=production"

    # Edit: keys pasted in bulk, and a rule added with the editor's button, then saved.
    added = _press(user, page, form_fields(user.get(page).text, "rule_count"), "add-rule")
    assert added.status_code == 200
    fields = form_fields(added.text, "rule_count") | {
        "description": "People trying new things",
        "included": "alice, bob\nalice",
        "excluded": "mallory",
        "r0.description": "Staff",
        "r0.c0.attribute": "email",
        "r0.c0.op": "ends_with",
        "r0.c0.values": "@example.com",
    }
    saved = _press(user, page, fields, "save")
    assert saved.status_code == 303, saved.text[:500]
    stored = user.get(f"{api}/beta-testers").json()
    assert stored["included"] == ["alice", "bob"]
    assert stored["excluded"] == ["mallory"]
    assert stored["description"] == "People trying new things"
    [rule] = stored["rules"]
    assert rule["description"] == "Staff"
    assert rule["clauses"] == [
        {"attribute": "email", "op": "ends_with", "values": ["@example.com"], "negate": False}
    ]
    again = form_fields(user.get(page).text, "rule_count")
    assert (again["included"], again["excluded"]) == ("alice\nbob", "mallory")
    assert again["r0.c0.values"] == "@example.com"
    row = re.search(r"beta-testers</code></th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>",
                    user.get(f"{segments}?env=production").text)  # fmt: skip
    assert row and row.groups() == ("2", "1", "1")

    # Use it: a flag rule "is in segment beta-testers" serving true, false otherwise.
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(flags, json={"key": "new-ui", "name": "New UI"}).status_code == 201
    flag_page = f"/o/{user.org}/p/default/flags/new-ui?env=production"
    # On through the API: the page's switch turns it on, not its form.
    on = user.patch(f"{flags}/new-ui/environments/production", json={"on": True})
    assert on.status_code == 200
    added = _press(user, flag_page, form_fields(user.get(flag_page).text, "rule_count"), "add-rule")
    fields = form_fields(added.text, "rule_count") | {
        "r0.c0.op": "segment_match",
        "r0.c0.values": "beta-testers",
        "r0.serve": "0",
        "ft.serve": "1",
    }
    saved = _press(user, flag_page, fields, "save")
    assert saved.status_code == 303, saved.text[:500]

    e = env_of(live.url, user, user.org, "default")
    expected = {
        "alice": True,  # included
        "mallory": False,  # excluded, although the rule would match
        "carol": True,  # the segment's rule
        "dave": False,  # nothing
    }
    for key, value in expected.items():
        email = "dave@elsewhere.org" if key == "dave" else f"{key}@example.com"
        got = evaluate(e, {"key": key, "email": email}, ["new-ui"])["flags"]["new-ui"]
        assert got["value"] is value, key

    panel = user.get(flag_page, params={"context": '{"key": "carol", "email": "c@example.com"}'})
    assert re.search(r'<dd id="test-matched">Rule 1 \(id [0-9a-f]+\)</dd>', panel.text)

    # A segment that a flag uses cannot be deleted; the page says which flag, nothing changes.
    refused = _press(user, page, form_fields(user.get(page).text, "rule_count"), "delete")
    assert refused.status_code == 409
    assert "Not deleted: the segment is used by flag new-ui" in refused.text
    assert user.get(f"{api}/beta-testers").status_code == 200
    assert evaluate(e, {"key": "alice"}, ["new-ui"])["flags"]["new-ui"]["value"] is True

    # Once no flag uses it, it can be deleted.
    unused = form_fields(user.get(flag_page).text, "rule_count") | {"rule_count": "0"}
    assert _press(user, flag_page, unused, "save").status_code == 303
    deleted = _press(user, page, form_fields(user.get(page).text, "rule_count"), "delete")
    assert deleted.status_code == 303
    assert user.get(f"{api}/beta-testers").status_code == 404
    assert "No segments in production yet." in user.get(f"{segments}?env=production").text


def test_a_bad_segment_key_is_refused_beside_its_field(live):
    user = signup(live.url, "segment-key@example.com")
    segments = f"/o/{user.org}/p/default/segments"
    create = form_fields(user.get(segments).text, "key") | {"name": "Bad", "key": "Not OK"}
    refused = user.http.post(segments, data=create)
    assert refused.status_code == 422
    assert field_error(refused.text, "key")
    assert 'value="Not OK"' in refused.text
    assert "No segments in production yet." in refused.text
