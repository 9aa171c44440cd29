"""Editing a flag's metadata and its prerequisites per environment from the flag page: saved
through the same service as the API, refused beside the field (a cycle too), drafts tested."""

from __future__ import annotations

import html
import re

from tests.http.test_dashboard_rule_errors import _press
from tests.support.api import ApiUser, signup
from tests.support.forms import field_error, form_fields


def _metadata_error(page: str) -> str | None:
    """The error shown right below the metadata field, where its user looks."""
    m = re.search(
        r'name="metadata"[^>]*>[^<]*</textarea>\s*<p class="field-error" '
        r'id="details-metadata-error">([^<]*)</p>',
        page,
    )
    return html.unescape(m.group(1)) if m else None


def _flags(user: ApiUser, *keys: str) -> str:
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    for key in keys:
        assert user.post(api, json={"key": key, "type": "boolean"}).status_code == 201
    return api


def test_metadata_is_edited_one_entry_a_line_and_refused_beside_the_field(live):
    user = signup(live.url, "meta-dash@example.com")
    api = _flags(user, "checkout")
    page = f"/o/{user.org}/p/default/flags/checkout"
    fields = form_fields(user.get(f"{page}?env=production").text, "metadata")
    typed = 'owner = web team\nteam_size = 3\nbeta = true\nratio=2.5\n\nticket = "42"'
    saved = _press(user, page, fields | {"metadata": typed}, "details")
    assert saved.status_code == 303, saved.text[:1000]
    assert user.get(f"{api}/checkout").json()["metadata"] == {
        "owner": "web team", "team_size": 3, "beta": True, "ratio": 2.5, "ticket": "42",
    }  # fmt: skip
    shown = form_fields(user.get(f"{page}?env=production").text, "metadata")["metadata"]
    assert shown.splitlines() == [
        "owner = web team", "team_size = 3", "beta = true", "ratio = 2.5", 'ticket = "42"',
    ]  # fmt: skip

    for bad, message in [
        ("no equals sign here", "line 1: write one entry a line"),
        ("a = 1\na = 2", "line 2: a is named twice"),
        ("list = [1, 2]", "a value is true, false, a number or text"),
        (f"{'n' * 65} = 1", "entry names have 1 to 64 characters"),
        (f"long = {'x' * 1001}", "a string of at most 1000 characters"),
        ("\n".join(f"k{i} = {i}" for i in range(33)), "at most 32 entries"),
    ]:
        refused = _press(user, page, fields | {"metadata": bad}, "details")
        assert refused.status_code == 422, bad
        error = _metadata_error(refused.text)
        assert error is not None and message in error, (bad, error)
        assert form_fields(refused.text, "metadata")["metadata"] == bad  # what was typed, kept
    assert user.get(f"{api}/checkout").json()["metadata"]["owner"] == "web team"

    cleared = _press(user, page, fields | {"metadata": ""}, "details")
    assert cleared.status_code == 303
    assert user.get(f"{api}/checkout").json()["metadata"] == {}


def test_prerequisites_are_added_saved_and_removed_with_the_configuration(live):
    user = signup(live.url, "prereq-dash@example.com")
    api = _flags(user, "billing", "checkout")
    config = f"{api}/checkout/environments/production"
    page = f"/o/{user.org}/p/default/flags/checkout"
    fields = form_fields(user.get(f"{page}?env=production").text, "off_variation")
    assert "prereq0" not in fields

    added = _press(user, page, fields, "prereq-add")
    assert added.status_code == 200
    fields = form_fields(added.text, "off_variation")
    assert fields["prereq0"] == ""  # a new row, nothing chosen yet
    assert 'value="billing:0">billing serves On (true)' in added.text
    assert 'value="checkout:0"' not in added.text  # not itself

    # Test a context evaluates the unsaved prerequisite (billing is off, so it fails).
    assert user.patch(config, json={"on": True}).status_code == 200  # the switch's part
    fields |= {"prereq0": "billing:0", "version": str(user.get(config).json()["version"])}
    tested = _press(user, page, fields | {"context": '{"key": "u-1"}'}, "test")
    assert tested.status_code == 200
    assert "its prerequisite billing does not hold in production" in tested.text
    assert user.get(config).json()["prerequisites"] == []

    saved = _press(user, page, fields, "save")
    assert saved.status_code == 303, saved.text[:1000]
    assert user.get(config).json()["prerequisites"] == [{"flag": "billing", "variation": 0}]
    assert user.get(f"{api}/checkout/environments/staging").json()["prerequisites"] == []
    fields = form_fields(user.get(f"{page}?env=production").text, "off_variation")
    assert fields["prereq0"] == "billing:0"

    removed = _press(user, page, fields, "prereq-remove-0")
    assert removed.status_code == 200
    fields = form_fields(removed.text, "off_variation")
    assert "prereq0" not in fields
    assert _press(user, page, fields, "save").status_code == 303
    assert user.get(config).json()["prerequisites"] == []


def test_a_prerequisite_cycle_is_refused_beside_its_row(live):
    user = signup(live.url, "prereq-cycle@example.com")
    api = _flags(user, "billing", "checkout")
    gate = {"prerequisites": [{"flag": "billing", "variation": 0}]}
    assert user.patch(f"{api}/checkout/environments/production", json=gate).status_code == 200
    page = f"/o/{user.org}/p/default/flags/billing"
    fields = form_fields(user.get(f"{page}?env=production").text, "off_variation")
    fields = form_fields(_press(user, page, fields, "prereq-add").text, "off_variation")

    refused = _press(user, page, fields | {"prereq0": "checkout:1"}, "save")
    assert refused.status_code == 422
    error = field_error(refused.text, "prereq0")
    assert error is not None and "billing -> checkout -> billing" in error
    assert form_fields(refused.text, "off_variation")["prereq0"] == "checkout:1"  # kept
    assert user.get(f"{api}/billing/environments/production").json()["prerequisites"] == []

    forged = _press(user, page, fields | {"prereq0": "checkout"}, "save")
    assert forged.status_code == 422
    assert field_error(forged.text, "prereq0") == "choose a flag and a variation"


def test_a_form_without_prerequisite_rows_keeps_the_stored_ones(live):
    user = signup(live.url, "prereq-keep@example.com")
    api = _flags(user, "billing", "checkout")
    config = f"{api}/checkout/environments/production"
    gate = {"prerequisites": [{"flag": "billing", "variation": 0}]}
    assert user.patch(config, json=gate).status_code == 200
    page = f"/o/{user.org}/p/default/flags/checkout"
    fields = form_fields(user.get(f"{page}?env=production").text, "off_variation")
    # As a page loaded before prerequisites were editable would send it.
    old = {k: v for k, v in fields.items() if not k.startswith("prereq")}
    # An "on" field (the form once had one) changes nothing: the switch turns flags on.
    assert _press(user, page, old | {"on": "1"}, "save").status_code == 303
    stored = user.get(config).json()
    assert stored["on"] is False and stored["prerequisites"] == gate["prerequisites"]
