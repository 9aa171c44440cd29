"""The flag page with OpenFeature's semantics: an unset off variation or default ("the
application's default"), prerequisites and dependents, and metadata; saving keeps prerequisites."""

from __future__ import annotations

from tests.http.test_dashboard_rule_errors import _press
from tests.support.api import signup
from tests.support.forms import form_fields


def test_the_flag_page_serves_the_applications_default_and_shows_prerequisites(live):
    user = signup(live.url, "dash-of@example.com")
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(flags, json={"key": "billing"}).status_code == 201
    created = user.post(flags, json={"key": "checkout", "metadata": {"owner": "team-pay"}})
    assert created.status_code == 201
    config = f"{flags}/checkout/environments/production"
    gated = user.patch(config, json={"on": True, "prerequisites": [{"flag": "billing",
                                                                    "variation": 0}]})  # fmt: skip
    assert gated.status_code == 200, gated.text

    page = f"/o/{user.org}/p/default/flags/checkout?env=production"
    shown = user.get(page)
    assert shown.status_code == 200
    assert 'id="prerequisites"' in shown.text
    assert form_fields(shown.text, "off_variation")["prereq0"] == "billing:0"
    assert 'value="billing:0" selected>billing serves On (true)' in shown.text
    assert "<dt>owner</dt><dd>team-pay</dd>" in shown.text
    billing = user.get(f"/o/{user.org}/p/default/flags/billing?env=production").text
    assert 'id="dependents"' in billing and ">checkout</a>" in billing

    # Choose "the application's default" for both the off variation and the default rule.
    fields = form_fields(shown.text, "off_variation")
    fields |= {"off_variation": "", "ft.serve": "default"}
    saved = _press(user, page, fields, "save")
    assert saved.status_code == 303, saved.text[:2000]  # saved: back to the page
    stored = user.get(config).json()
    assert (stored["off_variation"], stored["fallthrough"]) == (None, None)
    assert stored["prerequisites"] == [{"flag": "billing", "variation": 0}]  # kept
    again = form_fields(user.get(page).text, "off_variation")
    assert (again["off_variation"], again["ft.serve"]) == ("", "default")
