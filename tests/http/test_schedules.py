"""Scheduled changes through the real server, with a clock the test controls.

The server's scheduler looks for due changes every 0.05 s of real time; the test moves the
server's clock (`clock.advance`) past a change's time and waits, bounded, for what a user
would see: the configuration changed, an SDK's value flipped, the schedule marked applied or
failed with its reason, the audit log's entries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from launchsequence_sdk import Client

from launchsequence.app import create_app
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer
from tests.support.receiver import Receiver

HOUR = 3600
WAIT = 10.0  # the bound of every wait in this file, in seconds
CTX = {"key": "user-1"}


@pytest.fixture
def start(make_settings: Callable[..., Any], clock: Any) -> Iterator[Callable[..., LiveServer]]:
    """Start the app (on SQLite in the test's data directory unless told otherwise) on a real
    server, with a fast scheduler; every server started is stopped at the end."""
    servers: list[LiveServer] = []

    def make(**overrides: Any) -> LiveServer:
        settings = make_settings(schedule_check_seconds=0.05, **overrides)
        server = LiveServer(create_app(settings, clock=clock)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT} s: {what}")
        time.sleep(0.05)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def base(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default"


def new_flag(user: ApiUser, key: str, **config: Any) -> None:
    ok(user.post(f"{base(user)}/flags", json={"key": key, "name": key}), 201)
    if config:
        ok(user.patch(f"{base(user)}/flags/{key}/environments/production", json=config))


def config_of(user: ApiUser, key: str) -> dict[str, Any]:
    return ok(user.get(f"{base(user)}/flags/{key}/environments/production"))  # type: ignore[no-any-return]


def schedule(
    user: ApiUser, key: str, changes: dict[str, Any], at_ms: int, comment: str = "", **kw: Any
) -> dict[str, Any]:
    body = {"environment": "production", "at": at_ms, "changes": changes, "comment": comment}
    return ok(user.post(f"{base(user)}/flags/{key}/schedules", json={**body, **kw}), 201)  # type: ignore[no-any-return]


def get_schedule(user: ApiUser, schedule_id: int) -> dict[str, Any]:
    return ok(user.get(f"{base(user)}/schedules/{schedule_id}"))  # type: ignore[no-any-return]


def finished(user: ApiUser, schedule_id: int) -> dict[str, Any]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: (s := get_schedule(user, schedule_id))["status"] != "pending" and s,
        f"schedule {schedule_id} applied or failed",
    )


def audit(user: ApiUser, action: str) -> list[dict[str, Any]]:
    entries = ok(user.get(f"/api/v1/orgs/{user.org}/audit", params={"limit": 500}))["entries"]
    return [e for e in entries if e["action"] == action]


def server_key(user: ApiUser) -> str:
    body = {"kind": "server", "grace_seconds": 0}
    return str(
        ok(user.post(f"{base(user)}/environments/production/sdk-keys", json=body), 201)["key"]
    )


def test_a_toggle_applies_at_its_time_and_reaches_an_sdk_stream(start, clock):
    server = start()
    alice = signup(server.url, "alice@example.com")
    new_flag(alice, "launch")
    sdk = Client(server_key(alice), base_url=server.url)
    try:
        assert sdk.wait_until_ready(WAIT)
        assert sdk.bool_value("launch", CTX, False) is False
        at = clock() + HOUR * 1000
        made = schedule(alice, "launch", {"on": True}, at, "launch day")
        assert made["status"] == "pending" and made["author"] == "alice@example.com"
        assert made["comment"] == "launch day" and made["at"] == at

        clock.advance(HOUR - 30)  # half a minute early: nothing happens
        time.sleep(0.5)
        assert get_schedule(alice, made["id"])["status"] == "pending"
        assert config_of(alice, "launch")["on"] is False
        assert sdk.bool_value("launch", CTX, False) is False

        clock.advance(31)
        done = finished(alice, made["id"])
        assert done["status"] == "applied", done
        assert done["note"] is None  # on time
        assert done["version"] == config_of(alice, "launch")["version"] == 2
        assert config_of(alice, "launch")["on"] is True
        wait_for(lambda: sdk.bool_value("launch", CTX, False) is True, "the SDK sees it on")
    finally:
        sdk.close()

    toggled = audit(alice, "flag.toggled")
    assert len(toggled) == 1 and toggled[0]["actor"] == "alice@example.com"
    applied = audit(alice, "schedule.applied")
    assert len(applied) == 1 and applied[0]["after"]["comment"] == "launch day"
    # Listed with the flag and with the project, applied.
    for path in ("/flags/launch/schedules", "/schedules"):
        listed = ok(alice.get(base(alice) + path))["schedules"]
        assert [(s["id"], s["status"]) for s in listed] == [(made["id"], "applied")]


def test_a_change_due_while_the_server_was_down_applies_at_start_with_a_note(start, clock):
    first = start()
    alice = signup(first.url, "alice@example.com")
    new_flag(alice, "night-switch")
    made = schedule(alice, "night-switch", {"on": True}, clock() + 60_000, "at night")
    first.stop()

    clock.advance(3 * HOUR + 300)  # down at the time, and three hours after
    second = start()
    alice.http.base_url = second.url  # type: ignore[assignment]
    done = finished(alice, made["id"])
    assert done["status"] == "applied", done
    assert done["note"] == "applied 3 h late"
    assert config_of(alice, "night-switch")["on"] is True
    [entry] = audit(alice, "schedule.applied")
    assert entry["after"]["note"] == "applied 3 h late"
    page = alice.get(f"/o/{alice.org}/audit").text
    assert "applied the scheduled change to" in page and "(applied 3 h late)" in page


def test_a_later_conflicting_edit_fails_it_a_compatible_one_lets_it_apply(start, clock):
    server = start()
    alice = signup(server.url, "alice@example.com")
    rule = {
        "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
        "serve": {"variation": 0},
    }
    new_flag(alice, "rules-flag")
    new_flag(alice, "rollout")
    new_flag(alice, "kill")
    at = clock() + HOUR * 1000
    clash = schedule(alice, "rules-flag", {"rules": [rule]}, at)
    patch = schedule(alice, "rollout", {"fallthrough": {"variation": 0}}, at)
    toggle = schedule(alice, "kill", {"on": True}, at)

    # Someone else, meanwhile: writes rules of their own; turns `rollout` on and targets a
    # user (fields the schedule does not set); turns `kill` on and off and on again.
    theirs = {**rule, "serve": {"variation": 1}}
    ok(
        alice.patch(
            f"{base(alice)}/flags/rules-flag/environments/production", json={"rules": [theirs]}
        )
    )
    ok(
        alice.patch(
            f"{base(alice)}/flags/rollout/environments/production",
            json={"on": True, "targets": [{"variation": 0, "values": ["vip"]}]},
        )
    )
    for on in (True, False):
        ok(alice.patch(f"{base(alice)}/flags/kill/environments/production", json={"on": on}))

    clock.advance(HOUR + 1)
    failed = finished(alice, clash["id"])
    assert failed["status"] == "failed"
    assert "`rules` changed since this was scheduled" in failed["reason"]
    [rules_now] = config_of(alice, "rules-flag")["rules"]
    assert rules_now["serve"] == {"variation": 1}  # their change stands

    applied = finished(alice, patch["id"])
    assert applied["status"] == "applied", applied
    rollout = config_of(alice, "rollout")
    assert rollout["fallthrough"] == {"variation": 0}
    assert rollout["on"] is True and rollout["targets"] == [{"variation": 0, "values": ["vip"]}]

    assert finished(alice, toggle["id"])["status"] == "applied"
    assert config_of(alice, "kill")["on"] is True

    [entry] = audit(alice, "schedule.failed")
    assert entry["flag"] == "rules-flag" and "`rules`" in entry["after"]["reason"]


def test_a_field_changed_back_to_its_old_value_is_no_conflict(start, clock):
    server = start()
    alice = signup(server.url, "alice@example.com")
    new_flag(alice, "flag")
    made = schedule(alice, "flag", {"fallthrough": {"variation": 0}}, clock() + 60_000)
    path = f"{base(alice)}/flags/flag/environments/production"
    before = config_of(alice, "flag")["fallthrough"]
    ok(alice.patch(path, json={"fallthrough": {"variation": 0}}))
    ok(alice.patch(path, json={"fallthrough": before}))
    clock.advance(61)
    assert finished(alice, made["id"])["status"] == "applied"
    assert config_of(alice, "flag")["fallthrough"] == {"variation": 0}


def test_edit_and_cancel_until_applied(start, clock):
    server = start()
    alice = signup(server.url, "alice@example.com")
    new_flag(alice, "flag")
    now = clock()
    made = schedule(alice, "flag", {"on": True}, now + 60_000, "first")
    path = f"{base(alice)}/schedules/{made['id']}"

    edited = ok(
        alice.patch(
            path,
            json={
                "at": "2030-01-01T00:00:00Z",
                "comment": "later",
                "changes": {"on": True, "fallthrough": {"variation": 0}},
            },
        )
    )
    assert edited["at"] == 1893456000000 and edited["comment"] == "later"
    assert edited["changes"] == {"on": True, "fallthrough": {"variation": 0}}
    clock.advance(120)  # its first time passes: it was moved
    time.sleep(0.4)
    assert get_schedule(alice, made["id"])["status"] == "pending"

    ok(alice.patch(path, json={"at": clock() + 1000}))
    clock.advance(2)
    assert finished(alice, made["id"])["status"] == "applied"
    late = alice.patch(path, json={"comment": "too late"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "schedule_finished"
    gone = alice.delete(path)
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "schedule_finished"

    other = schedule(alice, "flag", {"on": False}, clock() + 60_000)
    cancelled = ok(alice.delete(f"{base(alice)}/schedules/{other['id']}"))
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] == clock()
    clock.advance(120)
    time.sleep(0.4)
    assert get_schedule(alice, other["id"])["status"] == "cancelled"
    assert config_of(alice, "flag")["on"] is True
    actions = [e["action"] for e in ok(alice.get(f"/api/v1/orgs/{alice.org}/audit"))["entries"]]
    for action in ("schedule.created", "schedule.updated", "schedule.cancelled"):
        assert action in actions


def test_bad_schedules_are_refused_with_the_field(start, clock):
    server = start()
    alice = signup(server.url, "alice@example.com")
    new_flag(alice, "flag")
    url = f"{base(alice)}/flags/flag/schedules"
    soon = clock() + 60_000
    cases = [
        ({"changes": {"fallthrough": {"variation": 5}}}, "changes.fallthrough"),
        ({"changes": {}}, "changes"),
        ({"at": clock() - 3600_000}, "at"),
        ({"at": "tomorrow"}, "at"),
        ({"at": "2030-01-01T00:00:00"}, "at"),  # no time zone
    ]
    for override, field in cases:
        body = {"environment": "production", "at": soon, "changes": {"on": True}, **override}
        answer = alice.post(url, json=body)
        assert answer.status_code in (400, 422), answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid", answer.text
        assert field in error["message"] or error.get("field", "").startswith(field), answer.text
    body = {"environment": "nowhere", "at": soon, "changes": {"on": True}}
    assert alice.post(url, json=body).status_code == 404
    assert ok(alice.get(f"{base(alice)}/schedules"))["schedules"] == []


def test_a_deleted_or_archived_flag_or_a_demoted_author_fails_it_with_the_reason(start, clock):
    server = start()
    owner = signup(server.url, "owner@example.com")
    bob = signup(server.url, "bob@example.com")
    org = f"/api/v1/orgs/{owner.org}"
    ok(owner.post(f"{org}/members", json={"email": bob.email, "role": "admin"}), 201)
    bob.org = owner.org
    for key in ("doomed", "shelved", "bobs"):
        new_flag(owner, key)
    at = clock() + 60_000
    doomed = schedule(owner, "doomed", {"on": True}, at)
    shelved = schedule(owner, "shelved", {"on": True}, at)
    bobs = schedule(bob, "bobs", {"on": True}, at)
    assert owner.delete(f"{base(owner)}/flags/doomed").status_code == 204
    ok(owner.patch(f"{base(owner)}/flags/shelved", json={"archived": True}))
    user_id = ok(bob.get("/api/v1/me"))["user"]["id"]
    ok(owner.patch(f"{org}/members/{user_id}", json={"role": "viewer"}))

    clock.advance(61)
    assert finished(owner, doomed["id"])["reason"] == "the flag was deleted"
    assert finished(owner, shelved["id"])["reason"] == "the flag is archived"
    assert "viewer" in finished(owner, bobs["id"])["reason"]
    assert config_of(owner, "bobs")["on"] is False
    listed = ok(owner.get(f"{base(owner)}/schedules"))["schedules"]
    assert {s["flag"]: s["status"] for s in listed} == {
        "doomed": "failed",
        "shelved": "failed",
        "bobs": "failed",
    }


def test_a_viewer_reads_schedules_and_changes_none(start, clock):
    server = start()
    owner = signup(server.url, "owner@example.com")
    viewer = signup(server.url, "viewer@example.com")
    org = f"/api/v1/orgs/{owner.org}"
    ok(owner.post(f"{org}/members", json={"email": viewer.email, "role": "viewer"}), 201)
    viewer.org = owner.org
    new_flag(owner, "flag")
    made = schedule(owner, "flag", {"on": True}, clock() + 60_000)
    assert ok(viewer.get(f"{base(viewer)}/schedules"))["schedules"][0]["id"] == made["id"]
    assert ok(viewer.get(f"{base(viewer)}/flags/flag/schedules"))["schedules"]
    body = {"environment": "production", "at": clock() + 60_000, "changes": {"on": True}}
    refused = [
        viewer.post(f"{base(viewer)}/flags/flag/schedules", json=body),
        viewer.patch(f"{base(viewer)}/schedules/{made['id']}", json={"comment": "mine"}),
        viewer.delete(f"{base(viewer)}/schedules/{made['id']}"),
    ]
    for answer in refused:
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "read_only"
    assert get_schedule(owner, made["id"]) == made
    # Without the CSRF token, a session's write is refused too.
    no_csrf = owner.http.delete(f"{base(owner)}/schedules/{made['id']}")
    assert no_csrf.status_code == 403, no_csrf.text
    assert get_schedule(owner, made["id"])["status"] == "pending"


def test_webhooks_hear_of_applied_and_failed_schedules_with_the_comment(start, clock):
    receiver = Receiver().start()
    try:
        server = start(webhook_allow_private_addresses="true")
        alice = signup(server.url, "alice@example.com")
        events = ["flag.toggled", "flag.changed", "schedule.applied", "schedule.failed"]
        hook = {"url": receiver.url + "/hook", "events": events}
        ok(alice.post(f"/api/v1/orgs/{alice.org}/webhooks", json=hook), 201)
        new_flag(alice, "go")
        new_flag(alice, "clash")
        at = clock() + 60_000
        schedule(alice, "go", {"on": True}, at, "launch with the campaign")
        schedule(alice, "clash", {"fallthrough": {"variation": 1}}, at, "switch the default")
        config = f"{base(alice)}/flags/clash/environments/production"
        ok(alice.patch(config, json={"fallthrough": None}))  # someone else, meanwhile
        clock.advance(61)

        def kinds(got: list[Any]) -> list[str]:
            return [r.json["type"] for r in got]

        got = receiver.wait_for(lambda got: "schedule.failed" in kinds(got)
                                and "schedule.applied" in kinds(got))  # fmt: skip
        by_type = {r.json["type"]: r.json for r in got if r.json["flag"] == "go"}
        toggled = by_type["flag.toggled"]
        assert toggled["actor"]["email"] == "alice@example.com"
        assert toggled["comment"] == "launch with the campaign"
        assert toggled["after"]["on"] is True
        applied = by_type["schedule.applied"]
        assert applied["after"]["comment"] == "launch with the campaign"
        assert applied["after"]["status"] == "applied"
        [failed] = [r.json for r in got if r.json["type"] == "schedule.failed"]
        assert failed["flag"] == "clash" and "`fallthrough`" in failed["after"]["reason"]
        # In the order they happened for one flag: the change, then the schedule's outcome.
        go_kinds = [r.json["type"] for r in got if r.json["flag"] == "go"]
        assert go_kinds.index("flag.toggled") < go_kinds.index("schedule.applied")
    finally:
        receiver.stop()
