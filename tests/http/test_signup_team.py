"""Sign-up asks for the team's name: the new organization is named after the team, not the
person (the person's name when none is given); an invitation's sign-up makes no organization."""

from __future__ import annotations

import httpx

from tests.support.forms import form_fields


def test_the_signup_form_names_the_organization_after_the_team(live):
    client = httpx.Client(base_url=live.url, timeout=30)
    page = client.get("/signup").text
    assert 'name="organization"' in page and "Team or company name" in page
    fields = form_fields(page, "organization")
    fields.update(
        {"organization": "Acme Rockets", "name": "Ana", "email": "ana@acme.test",
         "password": "correct horse battery"}
    )  # fmt: skip
    done = client.post("/signup", data=fields)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/o/acme-rockets"
    home = client.get("/o/acme-rockets").text
    assert "Acme Rockets" in home

    too_long = {"name": "Bo", "email": "bo@acme.test", "password": "correct horse battery",
                "organization": "x" * 201}  # fmt: skip
    fresh = httpx.Client(base_url=live.url, timeout=30)
    refused = fresh.post("/signup", data={**form_fields(fresh.get("/signup").text, "email"),
                                          **too_long})  # fmt: skip
    assert refused.status_code == 422
    shown = 'id="organization-error">must be 1 to 200 characters</p>'
    assert shown in refused.text and 'aria-invalid="true"' in refused.text


def test_the_api_takes_the_team_name_and_defaults_to_the_person(live):
    named = httpx.post(f"{live.url}/api/v1/auth/signup", json={
        "email": "cy@team.test", "password": "correct horse battery", "name": "Cy",
        "organization": "Team Cy"})  # fmt: skip
    assert named.status_code == 201, named.text
    assert named.json()["organizations"][0]["name"] == "Team Cy"
    plain = httpx.post(f"{live.url}/api/v1/auth/signup", json={
        "email": "di@team.test", "password": "correct horse battery", "name": "Di"})  # fmt: skip
    assert plain.json()["organizations"][0]["name"] == "Di"
