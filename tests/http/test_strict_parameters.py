"""Numbers, ids and keys in the dashboard's URLs and forms, in the admin API's paths and in the
SDK streams' Last-Event-ID are read strictly: ASCII digits in a stated range. Digits of other
scripts ("²" passes `str.isdigit()` and fails `int()`; "٣" passes both), numbers beyond 64 bits
and NUL characters get a clear 4xx with a message, never a 500, and change nothing.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.api import ApiUser, signup
from tests.support.forms import field_error, form_fields

SUPERSCRIPT_TWO = "\u00b2"
ARABIC_THREE = "\u0663"
HUGE = "9" * 25  # beyond 64 bits
API = "/api/v1/orgs/{org}"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _shows(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    assert "text/html" in answer.headers["content-type"]
    assert message in answer.text, answer.text[:2000]


def _number_flag(user: ApiUser) -> str:
    flags = f"{API.format(org=user.org)}/projects/default/flags"
    body = {"key": "price", "type": "number", "variations": [{"value": 1}, {"value": 2}]}
    assert user.post(flags, json=body).status_code == 201
    return f"/o/{user.org}/p/default/flags/price"


def test_page_and_before_in_pages_any_viewer_opens_answer_400_with_a_message(live):
    user = signup(live.url, "pages@example.com")
    flags = f"/o/{user.org}/p/default/flags"
    for bad in (SUPERSCRIPT_TWO, ARABIC_THREE, "1.5", "1_0"):
        _shows(user.get(flags, params={"page": bad}), 400, "page must be a whole number")
        _shows(
            user.get(f"/o/{user.org}/audit", params={"before": bad}),
            400,
            "before must be a whole number from 1 to 2147483647",
        )
    # A whole number past the end still shows the nearest page, however long it is.
    assert user.get(flags, params={"page": HUGE}).status_code == 200
    assert user.get(flags, params={"page": ""}).status_code == 200
    _shows(user.get(f"/o/{user.org}/audit", params={"before": HUGE}), 400, "from 1 to 2147483647")


@pytest.mark.parametrize(
    ("action", "field", "api_list"),
    [
        ("revoke-token", "id", "/api/v1/tokens"),
        ("revoke-invitation", "id", API + "/invitations"),
        ("remove-member", "user_id", API + "/members"),
        ("set-role", "user_id", API + "/members"),
    ],
)
def test_ids_beyond_any_row_in_the_settings_forms_answer_422_and_change_nothing(
    live, action, field, api_list
):
    owner = signup(live.url, "owner@example.com")
    signup(live.url, "member@example.com").close()
    org = API.format(org=owner.org)
    added = owner.post(f"{org}/members", json={"email": "member@example.com", "role": "viewer"})
    assert added.status_code == 201
    assert owner.post("/api/v1/tokens", json={"name": "ci"}).status_code == 201
    assert owner.post(f"{org}/invitations", json={"role": "viewer"}).status_code == 201
    listed = api_list.format(org=owner.org)
    before = owner.get(listed).json()
    page = f"/o/{owner.org}/settings"
    token = _csrf(owner.get(page).text)
    for bad in (HUGE, "2147483648", SUPERSCRIPT_TWO, ARABIC_THREE, "-1", ""):
        answer = owner.http.post(
            page, data={"csrf_token": token, "action": action, field: bad, "role": "admin"}
        )
        _shows(answer, 422, f"{field} must be a whole number from 1 to 2147483647")
    assert owner.get(listed).json() == before


def test_the_flag_editor_refuses_unicode_digits_and_huge_numbers_beside_the_field(live):
    user = signup(live.url, "editor@example.com")
    page = _number_flag(user) + "?env=production"
    fields = form_fields(user.get(page).text, "rule_count")
    added = user.http.post(page, data={**fields, "action": "add-rule"})
    fields = form_fields(added.text, "rule_count") | {
        "r0.c0.attribute": "age",
        "r0.c0.op": "gt",
        "r0.serve": "rollout",
        "r0.w0": "50",
        "r0.w1": "50",
    }
    config = user.get(
        f"{API.format(org=user.org)}/projects/default/flags/price/environments/production"
    )

    def refused(changes: dict[str, str], field: str, message: str) -> None:
        answer = user.http.post(
            page, data={**fields, **changes, "action": "save", "confirmed": "1"}
        )
        assert answer.status_code == 422, answer.text[:300]
        assert message in (field_error(answer.text, field) or ""), field_error(answer.text, field)

    refused({"r0.c0.values": ARABIC_THREE}, "r0.c0.values", "must be numbers")
    refused({"r0.c0.values": "1e999"}, "r0.c0.values", "must be finite numbers")
    refused(
        {"r0.c0.values": "18", "off_variation": SUPERSCRIPT_TWO},
        "off_variation",
        "choose a variation",
    )
    refused({"r0.c0.values": "18", "ft.serve": SUPERSCRIPT_TWO}, "ft.serve", "choose a variation")
    refused({"r0.c0.values": "18", "r0.w0": ARABIC_THREE}, "r0.w0", "must be a percentage")
    # Hidden fields and buttons only a tampered form sends otherwise: a page saying which.
    for changes, message in (
        ({"version": SUPERSCRIPT_TWO}, "version must be a whole number"),
        ({"rule_count": SUPERSCRIPT_TWO}, "rule_count must be a whole number"),
        ({"action": f"remove-rule:{SUPERSCRIPT_TWO}"}, "unknown action"),
    ):
        _shows(
            user.http.post(page, data={**fields, "action": "save", "confirmed": "1", **changes}),
            400,
            message,
        )
    unchanged = user.get(
        f"{API.format(org=user.org)}/projects/default/flags/price/environments/production"
    )
    assert unchanged.json() == config.json()

    # A whole number beyond 64 bits is stored as the API would read it: a float.
    saved = user.http.post(
        page, data={**fields, "r0.c0.values": "1" + "0" * 20, "action": "save", "confirmed": "1"}
    )
    assert saved.status_code == 303, saved.text[:300]
    rules = user.get(unchanged.request.url).json()["rules"]
    assert rules[0]["clauses"][0]["values"] == [1e20]
    assert user.get(page).status_code == 200


def test_variation_forms_refuse_unicode_digits(live):
    user = signup(live.url, "variations@example.com")
    flag = _number_flag(user)
    new = f"/o/{user.org}/p/default/flags/new?type=number"
    fields = form_fields(user.get(new).text, "key") | {"key": "n", "type": "number"}
    typed = {**fields, "variation_value": ARABIC_THREE}
    answer = user.http.post(new, data={**typed, "action": "create"})
    assert answer.status_code == 422
    assert 'id="variations[0].value-error">must be a number</p>' in answer.text
    for action in (f"remove-variation:{SUPERSCRIPT_TWO}", "remove-variation:" + HUGE):
        assert (
            user.http.post(new, data={**fields, "action": action, "confirmed": "1"}).status_code
            == 200
        )
    answer = user.http.post(
        new, data={**fields, "variation_value": ["1", "2"], "on_variation": SUPERSCRIPT_TWO}
    )
    assert answer.status_code == 422, answer.text[:300]

    page = f"{flag}/variations"
    fields = form_fields(user.get(page).text, "stamp")
    for action in (f"remove:{SUPERSCRIPT_TWO}", f"remove:{HUGE}"):
        assert (
            user.http.post(page, data={**fields, "action": action, "confirmed": "1"}).status_code
            == 200
        )
    answer = user.http.post(
        page, data={**fields, "on_variation": SUPERSCRIPT_TWO, "action": "save", "confirmed": "1"}
    )
    assert answer.status_code == 422, answer.text[:300]

    # A whole number beyond 64 bits is stored as the API reads it, a float: the page still opens.
    big = {**fields, "variation_value": "1" + "0" * 20, "action": "save", "confirmed": "1"}
    assert user.http.post(page, data=big).status_code == 303
    assert user.get(page).status_code == 200
    stored = user.get(f"{API.format(org=user.org)}/projects/default/flags/price").json()
    assert stored["variations"][0]["value"] == 1e20


def test_nul_characters_and_impossible_keys_answer_4xx_on_every_database(live_any_db):
    user = signup(live_any_db.url, "nul@example.com")
    flags = f"/o/{user.org}/p/default/flags"
    _shows(user.get(flags, params={"q": "a\x00b"}), 400, "NUL character")
    segments = f"/o/{user.org}/p/default/segments"
    token = _csrf(user.get(segments).text)
    answer = user.http.post(segments, data={"csrf_token": token, "key": "s", "name": "a\x00"})
    _shows(answer, 400, "NUL character")
    _shows(user.get(f"/o/{user.org}/p/%00/flags"), 404, "no such project")
    _shows(user.get(f"/o/{user.org}/p/default/flags/{SUPERSCRIPT_TWO}"), 404, "no such flag")
    events = user.get("/ui/events", params={"org": user.org, "project": "a\x00"})
    assert events.status_code == 404


def test_api_ids_and_page_sizes_are_ascii_digits_within_their_range(live):
    user = signup(live.url, "api@example.com")
    org = API.format(org=user.org)
    assert user.post("/api/v1/tokens", json={"name": "ci"}).status_code == 201
    # Pydantic alone reads "1_0" as 10 and " 1", "+1", "1.0" as 1; user ids had no bound.
    for bad in (HUGE, "2147483648", "0", "1_0", "+1", " 1", "1.0", SUPERSCRIPT_TWO):
        for answer, field in (
            (user.patch(f"{org}/members/{bad}", json={"role": "admin"}), "path.user_id"),
            (user.delete(f"{org}/members/{bad}"), "path.user_id"),
            (user.delete(f"/api/v1/tokens/{bad}"), "path.token_id"),
            (user.delete(f"{org}/invitations/{bad}"), "path.invitation_id"),
            (user.get(f"{org}/audit", params={"before": bad}), "query.before"),
            (user.get(f"{org}/audit", params={"limit": bad}), "query.limit"),
        ):
            assert answer.status_code == 422, (answer.request.url, answer.text)
            assert answer.json()["error"]["field"] == field
            assert answer.json()["error"]["code"] == "invalid"
    assert len(user.get("/api/v1/tokens").json()["tokens"]) == 1
    assert (
        user.get(f"{org}/audit", params={"limit": "5", "before": "2147483647"}).status_code == 200
    )


def _stream_start(url: str, key: str, last_event_id: bytes) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}", "Last-Event-ID": last_event_id}
    with httpx.stream("GET", f"{url}/sdk/v1/stream", headers=headers, timeout=10) as answer:
        first = b""
        for chunk in answer.iter_bytes():
            first += chunk
            if b"event: put" in first or len(first) > 100_000:
                break
        return answer.status_code, first


def test_a_last_event_id_that_is_not_ascii_digits_gets_the_whole_ruleset(live):
    user = signup(live.url, "stream@example.com")
    keys = f"{API.format(org=user.org)}/projects/default/environments/production/sdk-keys"
    key: Any = user.post(keys, json={"kind": "server"}).json()["key"]
    # Header values travel as Latin-1: "²" is a byte there, and str.isdigit() is true for it.
    for last in ("\u00b2".encode("latin-1"), b"1\xb2", b"9" * 40, b"-1"):
        status, first = _stream_start(live.url, key, last)
        assert status == 200
        assert b"event: put" in first
