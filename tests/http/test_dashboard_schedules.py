"""Scheduled changes on the dashboard: "Schedule" beside Save on the flag page, the flag's and
the project's lists, edit and cancel, a failure's reason shown, viewers and CSRF."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from typing import Any

import pytest

from launchsequence.app import create_app
from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields, page_forms
from tests.support.live import LiveServer

WAIT = 10.0


@pytest.fixture
def server(make_settings: Any, clock: Any) -> Iterator[LiveServer]:
    live = LiveServer(create_app(make_settings(schedule_check_seconds=0.05), clock=clock)).start()
    yield live
    live.stop()


def api(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default"


def flag_page(user: ApiUser, key: str = "checkout") -> str:
    return f"/o/{user.org}/p/default/flags/{key}?env=production"


def utc_input(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000))


def schedules(user: ApiUser) -> list[dict[str, Any]]:
    return user.get(f"{api(user)}/schedules").json()["schedules"]  # type: ignore[no-any-return]


def schedule_from_page(user: ApiUser, at_ms: int, comment: str, **edits: str) -> Any:
    """Post the flag page's configuration form as a browser would, with `edits`, pressing
    Schedule."""
    fields = form_fields(user.get(flag_page(user)).text, "schedule_at")
    fields = {**fields, **edits, "schedule_at": utc_input(at_ms), "schedule_comment": comment}
    fields = {k: v for k, v in fields.items() if v is not None}
    return user.http.post(flag_page(user), data={**fields, "action": "schedule"})


def test_schedule_a_toggle_from_the_flag_page_and_see_it_apply(server, clock):
    alice = signup(server.url, "alice@example.com")
    assert alice.post(f"{api(alice)}/flags", json={"key": "checkout"}).status_code == 201
    page = alice.get(flag_page(alice)).text
    assert 'value="schedule"' in page and "Scheduled changes in production" in page

    at = clock() + 3_600_000
    sent = schedule_from_page(alice, at, "launch at nine", schedule_on="1")
    assert sent.status_code == 303, sent.text
    [made] = schedules(alice)
    assert made["changes"] == {"on": True} and made["comment"] == "launch at nine"
    assert made["at"] == at // 1000 * 1000 and made["status"] == "pending"
    assert alice.get(f"{api(alice)}/flags/checkout/environments/production").json()["on"] is False

    shown = alice.get(sent.headers["location"]).text
    assert "Scheduled. It applies at its time" in shown
    assert "Turn on" in shown and "launch at nine" in shown and "pending" in shown

    clock.advance(3601)
    deadline = time.monotonic() + WAIT
    while schedules(alice)[0]["status"] == "pending":
        assert time.monotonic() < deadline, "not applied"
        time.sleep(0.05)
    assert alice.get(f"{api(alice)}/flags/checkout/environments/production").json()["on"] is True
    shown = alice.get(flag_page(alice)).text
    assert 'data-status="applied"' in shown


def test_nothing_changed_or_a_bad_time_is_refused_beside_the_field(server, clock):
    alice = signup(server.url, "alice@example.com")
    assert alice.post(f"{api(alice)}/flags", json={"key": "checkout"}).status_code == 201
    unchanged = schedule_from_page(alice, clock() + 60_000, "")
    assert unchanged.status_code == 422
    assert "choose to turn it on or off then, or edit its targeting" in html.unescape(
        unchanged.text
    )
    past = schedule_from_page(alice, clock() - 86_400_000, "", schedule_on="1")
    assert past.status_code == 422
    assert "must not be in the past" in past.text
    assert schedules(alice) == []


def test_edit_and_cancel_from_the_lists(server, clock):
    alice = signup(server.url, "alice@example.com")
    assert alice.post(f"{api(alice)}/flags", json={"key": "checkout"}).status_code == 201
    assert schedule_from_page(alice, clock() + 60_000, "first", schedule_on="1").status_code == 303
    [made] = schedules(alice)

    listing = alice.get(f"/o/{alice.org}/p/default/schedules").text
    assert "checkout" in listing and "Turn on" in listing
    forms = [f for f in page_forms(listing) if f.action.endswith(f"/schedules/{made['id']}")]
    edit = next(f for f in forms if ("action", "edit") in f.buttons)
    later = clock() + 7_200_000
    data = {**dict(edit.fields), "at": utc_input(later), "comment": "moved", "action": "edit"}
    edited = alice.http.post(edit.action, data=data)
    assert edited.status_code == 303, edited.text
    assert edited.headers["location"] == f"/o/{alice.org}/p/default/schedules?schedule=edited"
    [moved] = schedules(alice)
    assert (moved["at"], moved["comment"]) == (later // 1000 * 1000, "moved")

    # Cancel from the flag page, which it returns to.
    flag_forms = page_forms(alice.get(flag_page(alice)).text)
    cancel = next(f for f in flag_forms if ("action", "cancel") in f.buttons)
    done = alice.http.post(cancel.action, data={**dict(cancel.fields), "action": "cancel"})
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/o/{alice.org}/p/default/flags/checkout?env=")
    assert schedules(alice)[0]["status"] == "cancelled"
    assert "Scheduled change cancelled." in alice.get(done.headers["location"]).text

    # Without the CSRF token nothing is cancelled.
    assert schedule_from_page(alice, clock() + 60_000, "second", schedule_on="1").status_code == 303
    pending = next(s for s in schedules(alice) if s["status"] == "pending")
    forged = alice.http.post(
        f"/o/{alice.org}/p/default/schedules/{pending['id']}", data={"action": "cancel"}
    )
    assert forged.status_code == 403
    assert next(s for s in schedules(alice) if s["id"] == pending["id"])["status"] == "pending"


def test_a_failure_shows_its_reason_on_the_flag_page(server, clock):
    alice = signup(server.url, "alice@example.com")
    assert alice.post(f"{api(alice)}/flags", json={"key": "checkout"}).status_code == 201
    config = f"{api(alice)}/flags/checkout/environments/production"
    assert alice.get(config).json()["fallthrough"] == {"variation": 0}
    sent = schedule_from_page(alice, clock() + 60_000, "", **{"ft.serve": "1"})
    assert sent.status_code == 303, sent.text
    assert schedules(alice)[0]["changes"] == {"fallthrough": {"variation": 1}}
    # Someone else unsets the default rule meanwhile: applying would undo that.
    assert alice.patch(config, json={"fallthrough": None}).status_code == 200
    clock.advance(61)
    deadline = time.monotonic() + WAIT
    while schedules(alice)[0]["status"] == "pending":
        assert time.monotonic() < deadline, "not finished"
        time.sleep(0.05)
    shown = html.unescape(alice.get(flag_page(alice)).text)
    assert 'data-status="failed"' in shown
    assert "`fallthrough` changed since this was scheduled" in shown


def test_a_viewer_sees_schedules_without_any_way_to_change_them(server, clock):
    owner = signup(server.url, "owner@example.com")
    viewer = signup(server.url, "viewer@example.com")
    org = f"/api/v1/orgs/{owner.org}"
    added = owner.post(f"{org}/members", json={"email": viewer.email, "role": "viewer"})
    assert added.status_code == 201
    viewer.org = owner.org
    assert owner.post(f"{api(owner)}/flags", json={"key": "checkout"}).status_code == 201
    assert (
        schedule_from_page(owner, clock() + 60_000, "by the owner", schedule_on="1").status_code
        == 303
    )
    [made] = schedules(owner)

    for path in (flag_page(viewer), f"/o/{viewer.org}/p/default/schedules"):
        page = viewer.get(path).text
        assert "by the owner" in page
        assert 'value="cancel"' not in page and 'value="schedule"' not in page
    token = form_fields(viewer.get(flag_page(viewer)).text, "csrf_token")["csrf_token"]
    refused = viewer.http.post(
        f"/o/{viewer.org}/p/default/schedules/{made['id']}",
        data={"csrf_token": token, "action": "cancel"},
    )
    assert refused.status_code == 403
    assert schedules(owner)[0]["status"] == "pending"
