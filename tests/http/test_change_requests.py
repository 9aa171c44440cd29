"""Protected environments and change requests through the real server.

The integrity matrix: every write path to a protected environment without an approved request
is refused (REST, dashboard forms, import, schedules, segments, archiving and deleting a live
flag), and leaves the configuration as it was. Then the request's life: approval by others
than its author (N of them), edits voiding approvals, application now or at a time, the rule
for a flag that changed since, an owner's loud bypass, and the webhook events of it all.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from launchsequence.app import create_app
from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields, page_forms
from tests.support.live import LiveServer, free_port
from tests.support.receiver import Receiver
from tests.support.smtp import smtp_server

WAIT = 10.0
RULE = {
    "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
    "serve": {"variation": 0},
}


@pytest.fixture
def start(make_settings: Callable[..., Any], clock: Any) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def make(port: int | None = None, **overrides: Any) -> LiveServer:
        settings = make_settings(schedule_check_seconds=0.05, **overrides)
        server = LiveServer(create_app(settings, clock=clock), port=port).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int = 409, code: str = "protected_environment") -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT} s: {what}")
        time.sleep(0.05)
    return value


class Team:
    """alice (owner), bob and carol (admins), vic (viewer), all in alice's organization."""

    def __init__(self, url: str) -> None:
        self.alice = signup(url, "alice@example.com")
        self.org = self.alice.org
        self.bob = signup(url, "bob@example.com")
        self.carol = signup(url, "carol@example.com")
        self.vic = signup(url, "vic@example.com")
        for user, role in ((self.bob, "admin"), (self.carol, "admin"), (self.vic, "viewer")):
            body = {"email": user.email, "role": role}
            ok(self.alice.post(f"/api/v1/orgs/{self.org}/members", json=body), 201)

    @property
    def api(self) -> str:
        return f"/api/v1/orgs/{self.org}/projects/default"

    def config(self, key: str = "checkout", env: str = "production") -> dict[str, Any]:
        return ok(self.alice.get(f"{self.api}/flags/{key}/environments/{env}"))  # type: ignore[no-any-return]

    def protect(self, approvals: int = 1, env: str = "production") -> dict[str, Any]:
        body = {"protected": True, "required_approvals": approvals}
        return ok(self.alice.patch(f"{self.api}/environments/{env}", json=body))  # type: ignore[no-any-return]

    def open(self, user: ApiUser, changes: dict[str, Any], comment: str = "why") -> dict[str, Any]:
        body = {
            "flag": "checkout",
            "environment": "production",
            "changes": changes,
            "comment": comment,
        }
        return ok(user.post(f"{self.api}/change-requests", json=body), 201)  # type: ignore[no-any-return]

    def act(self, user: ApiUser, request_id: int, action: str, **body: Any) -> Any:
        return user.post(f"{self.api}/change-requests/{request_id}/{action}", json=body or None)

    def get(self, request_id: int) -> dict[str, Any]:
        return ok(self.alice.get(f"{self.api}/change-requests/{request_id}"))  # type: ignore[no-any-return]

    def audit(self, prefix: str) -> list[dict[str, Any]]:
        entries = ok(self.alice.get(f"/api/v1/orgs/{self.org}/audit", params={"limit": 500}))
        return [e for e in entries["entries"] if e["action"].startswith(prefix)]


def test_protection_is_shown_and_set_by_admins_only_and_audited(start):
    team = Team(start().url)
    env = ok(team.alice.get(f"{team.api}/environments/production"))
    assert env["protected"] is False and env["required_approvals"] == 1
    refused(
        team.vic.patch(f"{team.api}/environments/production", json={"protected": True}),
        403,
        "read_only",
    )
    refused(
        team.alice.patch(f"{team.api}/environments/production", json={"required_approvals": 0}),
        422,
        "invalid",
    )
    changed = team.protect(approvals=2)
    assert changed["protected"] is True and changed["required_approvals"] == 2
    assert ok(team.bob.get(f"{team.api}/environments"))["environments"][0]["protected"] is True
    # Renaming alone keeps the protection.
    renamed = ok(team.bob.patch(f"{team.api}/environments/production", json={"name": "Prod"}))
    assert renamed["name"] == "Prod" and renamed["protected"] is True
    [entry] = team.audit("environment.protection_changed")
    assert entry["actor"] == "alice@example.com"
    assert entry["before"] == {"protected": False, "required_approvals": 1}
    assert entry["after"] == {"protected": True, "required_approvals": 2}


def test_only_an_owner_lifts_protection_or_lowers_its_approvals(start):
    """An admin may protect an environment or ask more approvals, never less: the four-eyes
    rule binds admins, so they cannot undo it. The owner can, and it is audited."""
    team = Team(start().url)
    env_path = f"{team.api}/environments/production"
    team.protect(approvals=2)
    for body in ({"protected": False}, {"required_approvals": 1},
                 {"protected": False, "required_approvals": 3}):  # fmt: skip
        message = refused(team.bob.patch(env_path, json=body), 403, "protection_owner_only")
        assert "only an owner" in message
    env = ok(team.alice.get(env_path))
    assert env["protected"] is True and env["required_approvals"] == 2
    # Asking more, or sending what is set already, is fine for an admin.
    assert ok(team.bob.patch(env_path, json={"required_approvals": 3}))["required_approvals"] == 3
    ok(team.bob.patch(env_path, json={"protected": True, "required_approvals": 3}))
    lowered = ok(team.alice.patch(env_path, json={"required_approvals": 1}))
    assert lowered["required_approvals"] == 1
    lifted = ok(team.alice.patch(env_path, json={"protected": False}))
    assert lifted["protected"] is False
    # An unprotected environment: an admin protects it again.
    assert ok(team.bob.patch(env_path, json={"protected": True}))["protected"] is True
    actors = [e["actor"] for e in team.audit("environment.protection_changed")]
    assert sorted(actors) == sorted(["alice@example.com"] * 3 + ["bob@example.com"] * 2)


def test_every_write_path_without_an_approved_request_is_refused(start):
    team = Team(start().url)
    alice, api = team.alice, team.api
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    ok(alice.patch(f"{api}/flags/checkout/environments/production", json={"on": True}))
    ok(alice.put(f"{api}/environments/production/segments/beta", json={"included": ["u1"]}), 201)
    document = ok(alice.get(f"{api}/export"))
    team.protect()
    before = team.config()

    # REST: PATCH (a toggle, targeting), PUT.
    message = refused(
        team.bob.patch(f"{api}/flags/checkout/environments/production", json={"on": False})
    )
    assert "change request" in message and "production" in message
    refused(alice.patch(f"{api}/flags/checkout/environments/production", json={"rules": [RULE]}))
    put = {"on": False, "off_variation": 1, "fallthrough": {"variation": 0}}
    refused(alice.put(f"{api}/flags/checkout/environments/production", json=put))
    # Scheduled changes made directly.
    schedule = {
        "environment": "production",
        "at": int(time.time() * 1000) + 3_600_000,
        "changes": {"on": False},
    }
    refused(alice.post(f"{api}/flags/checkout/schedules", json=schedule))
    # Segments of the environment.
    message = refused(
        alice.put(f"{api}/environments/production/segments/beta", json={"included": ["x"]})
    )
    assert "bypass" in message  # no change request can make this one
    refused(alice.put(f"{api}/environments/production/segments/new", json={"included": ["x"]}))
    refused(alice.delete(f"{api}/environments/production/segments/beta"))
    # Archiving or deleting a flag that is on there.
    refused(alice.patch(f"{api}/flags/checkout", json={"archived": True}))
    refused(alice.delete(f"{api}/flags/checkout", params={"force": "true"}))
    # Import of a document that changes the environment.
    changed = copy.deepcopy(document)
    [flag] = [f for f in changed["flags"] if f["key"] == "checkout"]
    flag["environments"]["production"]["on"] = False
    refused(alice.post(f"/api/v1/orgs/{team.org}/import", json=changed))
    segments = copy.deepcopy(document)
    segments["segments"]["production"][0]["included"] = ["someone-else"]
    refused(alice.post(f"/api/v1/orgs/{team.org}/import", json=segments))
    # Dashboard: the list's switch and the flag page's Save.
    toggle = alice.http.post(
        f"/o/{team.org}/p/default/toggle",
        data={"csrf_token": alice.csrf, "toggle": "checkout production 0"},
    )
    assert (
        toggle.status_code == 303 and "/flags/checkout?env=production" in toggle.headers["location"]
    )
    page = f"/o/{team.org}/p/default/flags/checkout?env=production"
    shown = alice.get(page).text
    assert "Request change to production" in shown and 'value="save"' not in shown
    fields = form_fields(shown, "request_comment")
    fields.pop("on", None)  # untick "On"
    saved = alice.http.post(page, data={**fields, "action": "save"})
    assert saved.status_code == 400 and "protected environment" in saved.text

    assert team.config() == before  # nothing of it was applied
    assert ok(alice.get(f"{api}/environments/production/segments/beta"))["included"] == ["u1"]
    assert ok(alice.get(f"{api}/flags/checkout"))["archived"] is False
    # An unprotected environment, and an import that changes nothing there, go through.
    ok(alice.patch(f"{api}/flags/checkout/environments/staging", json={"on": True}))
    ok(alice.post(f"/api/v1/orgs/{team.org}/import", json=document))
    assert team.audit("protection.bypassed") == []


def test_a_request_needs_someone_else_and_applies_with_its_events(start):
    receiver = Receiver().start()
    try:
        team = Team(start(webhook_allow_private_addresses="true").url)
        alice, bob, vic, api = team.alice, team.bob, team.vic, team.api
        hook = {
            "url": receiver.url + "/hook",
            "events": [
                "change_request.opened",
                "change_request.approved",
                "change_request.applied",
                "flag.toggled",
            ],
        }
        ok(alice.post(f"/api/v1/orgs/{team.org}/webhooks", json=hook), 201)
        ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
        refused(
            alice.post(
                f"{api}/change-requests",
                json={"flag": "checkout", "environment": "production", "changes": {"on": True}},
            ),
            409,
            "not_protected",
        )
        team.protect()
        refused(
            vic.post(
                f"{api}/change-requests",
                json={"flag": "checkout", "environment": "production", "changes": {"on": True}},
            ),
            403,
            "read_only",
        )
        made = team.open(alice, {"on": True}, "launch")
        assert made["state"] == "open" and made["approvals"] == [] and made["revision"] == 1
        assert made["base"] == {"on": False} and made["author"] == "alice@example.com"

        refused(team.act(alice, made["id"], "approve"), 403, "self_approval")
        refused(team.act(vic, made["id"], "approve"), 403, "read_only")
        refused(team.act(alice, made["id"], "apply"), 409, "not_approved")
        approved = ok(team.act(bob, made["id"], "approve", revision=1))
        assert approved["state"] == "approved"
        assert [a["by"] for a in approved["approvals"]] == ["bob@example.com"]
        refused(team.act(bob, made["id"], "approve"), 409, "already_approved")
        refused(team.act(team.carol, made["id"], "apply"), 403, "not_approver")
        assert team.config()["on"] is False

        shown = team.get(made["id"])
        assert shown["diff"]["before"] == {"on": False} and shown["diff"]["after"] == {"on": True}
        applied = ok(team.act(alice, made["id"], "apply"))
        assert applied["state"] == "applied" and applied["closed_by"] == "alice@example.com"
        config = team.config()
        assert config["on"] is True and applied["version"] == config["version"]
        refused(team.act(bob, made["id"], "apply"), 409, "request_closed")

        listed = ok(bob.get(f"{api}/change-requests", params={"state": "applied"}))
        assert [r["id"] for r in listed["change_requests"]] == [made["id"]]
        assert (
            ok(bob.get(f"{api}/change-requests", params={"state": "open"}))["change_requests"] == []
        )
        assert (
            ok(
                bob.get(
                    f"{api}/change-requests",
                    params={"flag": "checkout", "environment": "production"},
                )
            )["change_requests"][0]["id"]
            == made["id"]
        )
        assert [e["action"] for e in reversed(team.audit("change_request."))] == [
            "change_request.opened",
            "change_request.approved",
            "change_request.applied",
        ]
        [toggled] = team.audit("flag.toggled")
        assert toggled["actor"] == "alice@example.com" and "change request" in toggled["comment"]

        got = wait_for(
            lambda: len(receiver.received("/hook")) >= 4 and receiver.received("/hook"),
            "four webhook deliveries",
        )
        types = [r.json["type"] for r in got]
        assert types == [
            "change_request.opened",
            "change_request.approved",
            "flag.toggled",
            "change_request.applied",
        ], types
        assert got[0].json["after"]["changes"] == {"on": True}
        assert got[0].json["comment"] == "launch"
    finally:
        receiver.stop()


def test_n_approvals_and_an_edit_voids_them(start):
    team = Team(start().url)
    alice, bob, carol, api = team.alice, team.bob, team.carol, team.api
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    team.protect(approvals=2)
    made = team.open(alice, {"on": True})
    one = ok(team.act(bob, made["id"], "approve"))
    assert one["state"] == "open" and one["approvals_required"] == 2 and len(one["approvals"]) == 1
    refused(team.act(bob, made["id"], "apply"), 409, "not_approved")

    refused(
        bob.patch(f"{api}/change-requests/{made['id']}", json={"comment": "x"}), 403, "not_author"
    )
    edited = ok(
        alice.patch(
            f"{api}/change-requests/{made['id']}", json={"changes": {"on": True, "rules": [RULE]}}
        )
    )
    assert edited["revision"] == 2 and edited["approvals"] == [] and edited["voided_approvals"] == 1
    assert edited["changes"]["rules"][0]["id"]  # given an id, so the diff is stable
    refused(team.act(bob, made["id"], "approve", revision=1), 409, "request_changed")
    ok(team.act(bob, made["id"], "approve", revision=2))
    both = ok(team.act(carol, made["id"], "approve"))
    assert both["state"] == "approved"
    assert [a["by"] for a in both["approvals"]] == ["bob@example.com", "carol@example.com"]
    # Lowering the bar later does not matter; raising it does.
    team.protect(approvals=3)
    assert team.get(made["id"])["state"] == "open"
    team.protect(approvals=2)
    ok(team.act(carol, made["id"], "apply"))
    config = team.config()
    assert config["on"] is True and config["rules"][0]["clauses"][0]["values"] == ["pro"]


def test_a_flag_changed_since_applies_on_top_or_is_refused_with_the_reason(start):
    team = Team(start().url)
    alice, bob, api = team.alice, team.bob, team.api
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    team.protect()
    rules = team.open(bob, {"rules": [RULE]})
    toggle = team.open(bob, {"on": True})
    targets = team.open(bob, {"targets": [{"variation": 0, "values": ["vip"]}]})
    for made in (rules, toggle, targets):
        ok(team.act(alice, made["id"], "approve"))
    # The owner changes the rules in an emergency, past the gate.
    emergency = {
        "rules": [{**RULE, "serve": {"variation": 1}}],
        "bypass_protection": True,
        "bypass_reason": "incident 42",
    }
    ok(alice.patch(f"{api}/flags/checkout/environments/production", json=emergency))
    shown = team.get(rules["id"])
    assert "`rules` changed since" in shown["diff"]["conflict"]
    message = refused(team.act(bob, rules["id"], "apply"), 409, "request_stale")
    assert "`rules` changed since" in message
    # A toggle and a change of other fields apply on top of it, keeping the emergency rules.
    ok(team.act(bob, toggle["id"], "apply"))
    ok(team.act(bob, targets["id"], "apply"))
    config = team.config()
    assert config["on"] is True and config["targets"][0]["values"] == ["vip"]
    assert config["rules"][0]["serve"] == {"variation": 1}
    # Editing the stale one bases it on the configuration as it is now; it needs approval again.
    edited = ok(
        bob.patch(f"{api}/change-requests/{rules['id']}", json={"changes": {"rules": [RULE]}})
    )
    assert edited["state"] == "open" and edited["base_version"] == config["version"]
    ok(team.act(alice, rules["id"], "approve"))
    ok(team.act(bob, rules["id"], "apply"))
    assert team.config()["rules"][0]["serve"] == {"variation": 0}


def test_the_bypass_is_for_owners_with_a_reason_and_loud(start):
    team = Team(start().url)
    alice, bob, api = team.alice, team.bob, team.api
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    team.protect()
    url = f"{api}/flags/checkout/environments/production"
    refused(
        bob.patch(url, json={"on": True, "bypass_protection": True, "bypass_reason": "x"}),
        403,
        "bypass_forbidden",
    )
    refused(alice.patch(url, json={"on": True, "bypass_protection": True}), 422, "invalid")
    refused(alice.patch(url, json={"on": True, "bypass_reason": "x"}), 422, "invalid")
    # The reason is logged and audited: no control characters (a forged log line), as for
    # every comment and reason.
    for reason in ("outage\x1b[2K2026-12-07 WARNING forged", "a\x00b", "x" * 1001):
        forged = {"on": True, "bypass_protection": True, "bypass_reason": reason}
        response = alice.patch(url, json=forged)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "bypass_reason"
    assert team.config()["on"] is False
    ok(alice.patch(url, json={"on": True, "bypass_protection": True, "bypass_reason": "outage"}))
    assert team.config()["on"] is True
    [loud] = team.audit("protection.bypassed")
    assert loud["actor"] == "alice@example.com" and loud["environment"] == "production"
    assert loud["after"]["reason"] == "outage"
    # Segments too, and only with the bypass.
    seg = f"{api}/environments/production/segments/beta"
    refused(
        bob.put(seg, json={"included": ["a"], "bypass_protection": True, "bypass_reason": "x"}),
        403,
        "bypass_forbidden",
    )
    ok(
        alice.put(seg, json={"included": ["a"], "bypass_protection": True, "bypass_reason": "y"}),
        201,
    )
    gone = alice.delete(seg, params={"bypass_protection": "true", "bypass_reason": "z"})
    assert gone.status_code == 204, gone.text
    assert len(team.audit("protection.bypassed")) == 3


def test_an_approved_request_applies_at_its_time_through_a_schedule(start, clock):
    team = Team(start().url)
    alice, bob, api = team.alice, team.bob, team.api
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    team.protect()
    made = team.open(alice, {"on": True}, "at nine")
    ok(team.act(bob, made["id"], "approve"))
    at = clock() + 3_600_000
    scheduled = ok(team.act(bob, made["id"], "apply", at=at))
    assert scheduled["state"] == "scheduled" and scheduled["apply_at"] == at
    [schedule] = ok(alice.get(f"{api}/schedules"))["schedules"]
    assert schedule["change_request"] == made["id"] and schedule["status"] == "pending"
    # Its changes are the approved ones: not editable through the schedule.
    refused(alice.patch(f"{api}/schedules/{schedule['id']}", json={"changes": {"on": False}}))
    refused(
        alice.patch(f"{api}/change-requests/{made['id']}", json={"comment": "x"}),
        409,
        "request_scheduled",
    )
    assert team.config()["on"] is False
    clock.advance(3601)
    done = wait_for(
        lambda: (r := team.get(made["id"]))["state"] != "scheduled" and r, "the request applied"
    )
    assert done["state"] == "applied", done
    assert team.config()["on"] is True and done["version"] == team.config()["version"]
    assert [e["action"] for e in reversed(team.audit("change_request."))][-2:] == [
        "change_request.scheduled",
        "change_request.applied",
    ]


def test_rejecting_or_cancelling_closes_a_request_and_its_schedule(start, clock):
    team = Team(start().url)
    alice, bob, api = team.alice, team.bob, team.api
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    team.protect()
    first = team.open(alice, {"on": True})
    refused(team.act(alice, first["id"], "reject"), 403, "self_approval")
    rejected = ok(team.act(bob, first["id"], "reject", reason="not now"))
    assert rejected["state"] == "rejected" and rejected["reason"] == "not now"
    refused(team.act(bob, first["id"], "approve"), 409, "request_closed")
    second = team.open(alice, {"on": True})
    ok(team.act(bob, second["id"], "approve"))
    ok(team.act(alice, second["id"], "apply", at=clock() + 60_000))
    cancelled = ok(team.act(alice, second["id"], "cancel"))
    assert cancelled["state"] == "cancelled"
    assert ok(alice.get(f"{api}/schedules"))["schedules"][0]["status"] == "cancelled"
    clock.advance(120)
    time.sleep(0.3)
    assert team.config()["on"] is False
    assert [e["action"] for e in team.audit("change_request.rejected")] == [
        "change_request.rejected"
    ]


def test_a_schedule_made_before_protection_fails_at_its_time(start, clock):
    team = Team(start().url)
    alice, api = team.alice, team.api
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    body = {"environment": "production", "at": clock() + 60_000, "changes": {"on": True}}
    made = ok(alice.post(f"{api}/flags/checkout/schedules", json=body), 201)
    team.protect()
    clock.advance(61)
    done = wait_for(
        lambda: (s := ok(alice.get(f"{api}/schedules/{made['id']}")))["status"] != "pending" and s,
        "the schedule finished",
    )
    assert done["status"] == "failed" and "protected environment" in done["reason"]
    assert team.config()["on"] is False


def test_approvers_get_mail_when_a_request_opens_or_changes(start):
    with smtp_server() as inbox:
        port = free_port()
        server = start(
            smtp_host="127.0.0.1",
            smtp_port=inbox.port,
            smtp_tls="none",
            mail_from="Launch Sequence <flags@example.test>",
            base_url=f"http://127.0.0.1:{port}",
            port=port,
        )
        team = Team(server.url)
        ok(team.alice.post(f"{team.api}/flags", json={"key": "checkout"}), 201)
        team.protect()
        made = team.open(team.alice, {"on": True}, "launch it")
        messages = inbox.wait_for(2)  # bob and carol may approve; not alice, not vic (viewer)
        assert sorted(m["To"] for m in messages) == ["bob@example.com", "carol@example.com"]
        text = messages[0].get_content()
        assert "launch it" in text
        link = f"http://127.0.0.1:{port}/o/{team.org}/p/default/change-requests/{made['id']}"
        assert link in text
        assert f"Change request #{made['id']} opened" in messages[0]["Subject"]
        ok(team.alice.patch(f"{team.api}/change-requests/{made['id']}", json={"comment": "now"}))
        later = inbox.wait_for(4)[2:]
        assert all("approvals voided" in m["Subject"] for m in later)


def test_a_protected_environment_or_its_project_is_not_deleted(start):
    team = Team(start().url)
    team.protect()
    api = team.api
    refused(team.alice.delete(f"{api}/environments/production", params={"force": "true"}))
    refused(team.alice.delete(api, params={"force": "true"}))
    ok(team.alice.patch(f"{api}/environments/production", json={"protected": False}))
    gone = team.alice.delete(f"{api}/environments/production", params={"force": "true"})
    assert gone.status_code == 204, gone.text


def test_values_a_protected_environment_serves_change_only_through_it(start):
    """With the flag off in production, production still serves its off variation, and a
    request would serve its rules' variations: their values do not change behind it. A value
    an open request would serve, changed elsewhere, voids that request's approvals."""
    team = Team(start().url)
    api = team.api
    body = {
        "key": "checkout",
        "type": "string",
        "variations": [{"value": "a"}, {"value": "b"}, {"value": "c"}, {"value": "d"}],
        "defaults": {"on_variation": 0, "off_variation": 1},
    }
    ok(team.alice.post(f"{api}/flags", json=body), 201)
    team.protect()
    assert team.config()["on"] is False and team.config()["off_variation"] == 1

    def revalue(user: ApiUser, index: int, value: str) -> Any:
        variations = ok(team.alice.get(f"{api}/flags/checkout"))["variations"]
        variations[index] = {**variations[index], "value": value}
        return user.patch(f"{api}/flags/checkout", json={"variations": variations})

    for index, serving in ((1, "the variation served when off"), (0, "the default rule")):
        message = refused(revalue(team.alice, index, "changed"))
        assert "production" in message and serving in message
    values = [v["value"] for v in ok(team.alice.get(f"{api}/flags/checkout"))["variations"]]
    assert values == ["a", "b", "c", "d"]
    # The variations page says so beside its form.
    page = f"/o/{team.org}/p/default/flags/checkout/variations"
    [form] = [f for f in page_forms(team.alice.get(page).text) if ("action", "save") in f.buttons]
    values_sent = iter(["a", "changed", "c", "d"])
    pairs = [(n, next(values_sent) if n == "variation_value" else v) for n, v in form.fields]
    shown = team.alice.http.post(
        page,
        content=urlencode([*pairs, ("action", "save")]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert shown.status_code == 409 and "the variation served when off" in shown.text
    # An approved request that would serve variation 2 to pro users: its value changes, so
    # the approval is void and the request cannot apply what nobody approved.
    made = team.open(team.bob, {"rules": [{**RULE, "serve": {"variation": 2}}]})
    ok(team.act(team.carol, made["id"], "approve"))
    assert team.get(made["id"])["state"] == "approved"
    ok(revalue(team.alice, 3, "D"))  # served nowhere: fine, and the request keeps its approval
    assert team.get(made["id"])["state"] == "approved"
    ok(revalue(team.alice, 2, "C"))
    voided = team.get(made["id"])
    assert voided["state"] == "open" and voided["approvals"] == []
    assert voided["voided_approvals"] == 1 and voided["revision"] == 2
    refused(team.act(team.bob, made["id"], "apply"), 409, "not_approved")
    assert team.config()["rules"] == []
    [entry] = [e for e in team.audit("change_request.updated") if e["after"]["id"] == made["id"]]
    assert entry["actor"] == "alice@example.com" and "approvals voided" in entry["comment"]


def test_a_variation_named_by_a_waiting_change_is_not_removed(start, clock):
    """Removing a variation renumbers the configurations, not the open requests and pending
    schedules that name variations by index: while one names it or a later one, the removal is
    refused, naming them, on the API and on the variations page."""
    team = Team(start().url)
    api, alice = team.api, team.alice
    body = {
        "key": "checkout",
        "type": "string",
        "variations": [{"value": v} for v in "abcd"],
        "defaults": {"on_variation": 0, "off_variation": 1},
    }
    ok(alice.post(f"{api}/flags", json=body), 201)
    team.protect()
    made = team.open(team.bob, {"rules": [{**RULE, "serve": {"variation": 2}}]})
    staged = ok(
        alice.post(
            f"{api}/flags/checkout/schedules",
            json={"environment": "staging", "at": clock() + 3_600_000,
                  "changes": {"fallthrough": {"variation": 3}}},
        ),
        201,
    )  # fmt: skip
    message = refused(alice.delete(f"{api}/flags/checkout/variations/2"), 409, "variation_pending")
    assert f"change request #{made['id']}" in message and f"schedule #{staged['id']}" in message
    message = refused(alice.delete(f"{api}/flags/checkout/variations/3"), 409, "variation_pending")
    assert f"change request #{made['id']}" not in message
    page = f"/o/{team.org}/p/default/flags/checkout/variations"
    fields = form_fields(alice.get(page).text, "stamp")
    shown = alice.http.post(page, data={**fields, "action": "remove:3"})
    assert shown.status_code == 409 and f"schedule #{staged['id']}" in shown.text
    values = [v["value"] for v in ok(alice.get(f"{api}/flags/checkout"))["variations"]]
    assert values == ["a", "b", "c", "d"]
    ok(team.act(team.bob, made["id"], "cancel"))
    cancelled = alice.delete(f"{api}/schedules/{staged['id']}")
    assert cancelled.status_code in (200, 204), cancelled.text
    removed = ok(alice.delete(f"{api}/flags/checkout/variations/3"))
    assert [v["value"] for v in removed["variations"]] == ["a", "b", "c"]


def test_restoring_a_flag_on_in_a_protected_environment_is_refused(start):
    """Archived, a flag serves nothing; restored, it would serve its rules again in production
    without a change request. The owner turns it off there with a bypass, then restores it."""
    team = Team(start().url)
    api, alice = team.api, team.alice
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    ok(alice.patch(f"{api}/flags/checkout/environments/production", json={"on": True}))
    ok(alice.patch(f"{api}/flags/checkout", params={"force": "true"}, json={"archived": True}))
    team.protect()
    for user in (team.bob, alice):
        message = refused(user.patch(f"{api}/flags/checkout", json={"archived": False}))
        assert "restoring" in message and "production" in message and "bypass" in message
    assert ok(alice.get(f"{api}/flags/checkout"))["archived"] is True
    off = {"on": False, "bypass_protection": True, "bypass_reason": "restore it off"}
    ok(alice.patch(f"{api}/flags/checkout/environments/production", json=off))
    restored = ok(team.bob.patch(f"{api}/flags/checkout", json={"archived": False}))
    assert restored["archived"] is False and team.config()["on"] is False


def test_a_closed_request_keeps_the_approvals_it_closed_with(start):
    """Bob approved the request that was applied; made viewer later, he still shows as its
    approver (an open request's approval by a viewer no longer counts)."""
    team = Team(start().url)
    api, alice = team.api, team.alice
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    team.protect()
    applied = team.open(alice, {"on": True}, "launch")
    ok(team.act(team.bob, applied["id"], "approve"))
    ok(team.act(alice, applied["id"], "apply"))
    pending = team.open(alice, {"rules": [RULE]})
    ok(team.act(team.bob, pending["id"], "approve"))
    members = ok(alice.get(f"/api/v1/orgs/{team.org}/members"))["members"]
    bob_id = next(m["user_id"] for m in members if m["email"] == "bob@example.com")
    ok(alice.patch(f"/api/v1/orgs/{team.org}/members/{bob_id}", json={"role": "viewer"}))
    closed = team.get(applied["id"])
    assert closed["state"] == "applied"
    assert [a["by"] for a in closed["approvals"]] == ["bob@example.com"]
    listed = ok(alice.get(f"{api}/change-requests", params={"state": "applied"}))
    assert [a["by"] for a in listed["change_requests"][0]["approvals"]] == ["bob@example.com"]
    still_open = team.get(pending["id"])
    assert still_open["state"] == "open" and still_open["approvals"] == []
    page = alice.get(f"/o/{team.org}/p/default/change-requests/{applied['id']}").text
    assert "bob@example.com" in page


def test_an_import_changing_a_value_a_protected_environment_names_is_refused(start):
    """The flag is off in production, which serves its off variation: an import that changes
    that variation's value is refused as a whole, like the PATCH of the flag."""
    team = Team(start().url)
    api, alice = team.api, team.alice
    body = {"key": "checkout", "type": "string", "variations": [{"value": "a"}, {"value": "b"}],
            "defaults": {"on_variation": 0, "off_variation": 1}}  # fmt: skip
    ok(alice.post(f"{api}/flags", json=body), 201)
    document = ok(alice.get(f"{api}/export"))
    team.protect()
    changed = copy.deepcopy(document)
    [flag] = [f for f in changed["flags"] if f["key"] == "checkout"]
    flag["variations"][1]["value"] = "B"
    message = refused(alice.post(f"/api/v1/orgs/{team.org}/import", json=changed))
    assert "the variation served when off" in message
    values = [v["value"] for v in ok(alice.get(f"{api}/flags/checkout"))["variations"]]
    assert values == ["a", "b"]
    flag["variations"][1]["value"] = "b"
    flag["variations"][0]["value"] = "A"  # production serves it only once on: still refused
    refused(alice.post(f"/api/v1/orgs/{team.org}/import", json=changed))
