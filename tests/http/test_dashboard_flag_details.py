"""Editing a flag's name, description and tags from its page."""

from __future__ import annotations

from tests.http.test_dashboard_security import csrf_of
from tests.support.api import signup


def test_edit_name_description_and_tags(live):
    user = signup(live.url, "details@example.com")
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(api, json={"key": "checkout", "name": "Checkout"}).status_code == 201
    page = f"/o/{user.org}/p/default/flags/checkout"
    token = csrf_of(user.get(f"{page}?env=production").text)
    form = {
        "csrf_token": token,
        "env": "production",
        "action": "details",
        "name": "New checkout <b>",
        "description": "The redesigned flow",
        "tags": "web, q4",
    }

    saved = user.http.post(page, data=form)
    assert saved.status_code == 303 or saved.is_success
    flag = user.get(f"{api}/checkout").json()
    assert flag["name"] == "New checkout <b>"
    assert flag["description"] == "The redesigned flow"
    assert flag["tags"] == ["web", "q4"]
    shown = user.get(f"{page}?env=production").text
    assert "New checkout &lt;b&gt;" in shown and "New checkout <b>" not in shown

    # A name that is too long: refused next to the field, what was typed kept, nothing stored.
    refused = user.http.post(page, data={**form, "name": "x" * 201, "tags": "kept"})
    assert refused.status_code == 422
    assert 'id="details-name-error"' in refused.text
    assert 'value="kept"' in refused.text
    assert user.get(f"{api}/checkout").json()["name"] == "New checkout <b>"

    # Without the CSRF token nothing changes.
    forged = user.http.post(
        page, data={k: v for k, v in form.items() if k != "csrf_token"} | {"name": "Forged"}
    )
    assert forged.status_code == 403
    assert user.get(f"{api}/checkout").json()["name"] == "New checkout <b>"
