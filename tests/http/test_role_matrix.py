"""The role matrix: every write under a project, by every role, answers as docs/accounts.md says.

The operations come from the app's own OpenAPI document: every write operation under
`/api/v1/orgs/{org}` must be classified below (a project write, a project-role change, a write
that names its project in its body, or an organization-level write), so a new endpoint fails
this suite until someone decides which role governs it.

Roles: the organization's owner, an admin, a viewer, a viewer made admin of the project, an
admin made viewer of the project, and a stranger (a user of another organization). Each
operation runs against a project of its own, made fresh for each role, so that a delete by one
role cannot hide what the next one may do. A refused request changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from launchsequence.config import Settings
from tests.support.api import ApiUser, signup

ORG = "/api/v1/orgs/{org}"
P = ORG + "/projects/{project}"
ENV = P + "/environments/{env}"
FLAG = P + "/flags/{flag}"
WRITES = ("POST", "PUT", "PATCH", "DELETE")

ROLES = ("owner", "admin", "viewer", "viewer_made_admin", "admin_made_viewer", "stranger")

#: What each role gets for a write to what a project serves: its role in that project counts.
BY_PROJECT_ROLE = {
    "owner": "ok",
    "admin": "ok",
    "viewer": "read_only",
    "viewer_made_admin": "ok",
    "admin_made_viewer": "read_only",
    "stranger": "not_found",
}
#: Project roles themselves are a membership matter: the organization role counts.
BY_ORG_ROLE = {
    "owner": "ok",
    "admin": "ok",
    "viewer": "read_only",
    "viewer_made_admin": "read_only",
    "admin_made_viewer": "ok",
    "stranger": "not_found",
}
#: A change request opened by the owner: its author edits it, others approve or reject it.
BY_AUTHORSHIP = {**BY_PROJECT_ROLE, "admin": "not_author", "viewer_made_admin": "not_author"}
BY_OTHERS = {**BY_PROJECT_ROLE, "owner": "self_approval"}
#: An approved request (approved by the admin) is applied by its author or an approver.
BY_AUTHOR_OR_APPROVER = {**BY_PROJECT_ROLE, "viewer_made_admin": "not_approver"}
REFUSALS = {
    "read_only": 403,
    "not_found": 404,
    "not_author": 403,
    "self_approval": 403,
    "not_approver": 403,
}
CR = P + "/change-requests"


@dataclass
class Case:
    """One write: what must exist before it (`needs`), its body, and who may make it."""

    body: Any = None
    needs: tuple[str, ...] = ()
    query: dict[str, str] = field(default_factory=dict)
    expect: dict[str, str] = field(default_factory=lambda: BY_PROJECT_ROLE)


IMPORT = {
    "format": "launchsequence-project",
    "version": 1,
    "project": {"key": "{project}", "name": "Imported"},
    "environments": [{"key": "production", "name": "Production"}],
    "flags": [
        {
            "key": "imported",
            "environments": {
                "production": {"on": True, "off_variation": 0, "fallthrough": {"variation": 0}}
            },
        }
    ],
}

#: Writes under a project, and writes that name their project in the body.
CASES: dict[tuple[str, str], Case] = {
    ("PATCH", P): Case({"name": "Renamed"}),
    ("DELETE", P): Case(),
    ("PUT", P + "/members/{user_id}"): Case({"role": "admin"}, expect=BY_ORG_ROLE),
    ("DELETE", P + "/members/{user_id}"): Case(expect=BY_ORG_ROLE),
    ("POST", P + "/relay-keys"): Case({"name": "edge"}),
    ("DELETE", P + "/relay-keys/{key_id}"): Case(needs=("relay_key",)),
    ("POST", P + "/environments"): Case({"key": "qa", "name": "QA"}),
    ("PATCH", ENV): Case({"name": "Renamed"}),
    ("DELETE", ENV): Case(),
    ("POST", ENV + "/sdk-keys"): Case({"kind": "server", "grace_seconds": 0}),
    ("PUT", ENV + "/segments/{segment}"): Case({"included": ["user-9"]}),
    ("DELETE", ENV + "/segments/{segment}"): Case(needs=("segment",)),
    ("POST", P + "/flags"): Case({"key": "made", "name": "Made"}),
    ("PATCH", FLAG): Case({"name": "Renamed"}, needs=("flag",)),
    ("DELETE", FLAG): Case(needs=("flag",)),
    ("DELETE", FLAG + "/variations/{index}"): Case(needs=("flag",)),
    ("PUT", FLAG + "/environments/{env}"): Case(
        {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}}, needs=("flag",)
    ),
    ("PATCH", FLAG + "/environments/{env}"): Case({"on": True}, needs=("flag",)),
    ("POST", CR): Case(
        {"flag": "f", "environment": "staging", "changes": {"on": True}},
        needs=("flag", "protected"),
    ),
    ("PATCH", CR + "/{request_id}"): Case(
        {"comment": "edited"}, needs=("flag", "request"), expect=BY_AUTHORSHIP
    ),
    ("POST", CR + "/{request_id}/approve"): Case({}, needs=("flag", "request"), expect=BY_OTHERS),
    ("POST", CR + "/{request_id}/reject"): Case({}, needs=("flag", "request"), expect=BY_OTHERS),
    ("POST", CR + "/{request_id}/cancel"): Case(needs=("flag", "request")),
    ("POST", CR + "/{request_id}/apply"): Case(
        {}, needs=("flag", "request", "approved"), expect=BY_AUTHOR_OR_APPROVER
    ),
    ("POST", FLAG + "/copy"): Case(
        {"from": "staging", "to": "production", "parts": ["on"]}, needs=("flag", "staging_on")
    ),
    ("POST", P + "/flags/bulk"): Case(
        {"action": "on", "flags": ["f"], "environment": "staging"}, needs=("flag",)
    ),
    ("POST", FLAG + "/schedules"): Case(
        {"environment": "production", "at": "2030-01-01T00:00:00Z", "changes": {"on": True}},
        needs=("flag",),
    ),
    ("PATCH", P + "/schedules/{schedule_id}"): Case(
        {"at": "2031-01-01T00:00:00Z"}, needs=("flag", "schedule")
    ),
    ("DELETE", P + "/schedules/{schedule_id}"): Case(needs=("flag", "schedule")),
    ("POST", P + "/code-refs"): Case(
        {
            "repository": "acme/web",
            "branch": "main",
            "commit": "abcdef1",
            "refs": [{"flag": "f", "path": "app.py", "line": 1}],
        }
    ),
    ("DELETE", P + "/code-refs"): Case(needs=("scan",), query={"repository": "acme/web"}),
    # Writes at the organization's address that name a project: that project's role counts.
    ("POST", ORG + "/webhooks"): Case(
        {"url": "http://127.0.0.1:9/hook", "events": ["*"], "project": "{project}"}
    ),
    ("PATCH", ORG + "/webhooks/{webhook_id}"): Case({"enabled": False}, needs=("webhook",)),
    ("DELETE", ORG + "/webhooks/{webhook_id}"): Case(needs=("webhook",)),
    ("POST", ORG + "/webhooks/{webhook_id}/secret"): Case(needs=("webhook",)),
    ("POST", ORG + "/webhooks/{webhook_id}/deliveries/{delivery_id}/resend"): Case(
        needs=("webhook", "flag")
    ),
    ("POST", ORG + "/import"): Case(IMPORT),
}

#: Organization-level writes: the organization role alone counts (tests/http/test_isolation.py
#: covers them for viewers and strangers).
ORG_LEVEL = {
    ("PATCH", ORG),
    ("POST", ORG + "/members"),
    ("PATCH", ORG + "/members/{user_id}"),
    ("DELETE", ORG + "/members/{user_id}"),
    ("POST", ORG + "/invitations"),
    ("DELETE", ORG + "/invitations/{invitation_id}"),
    ("POST", ORG + "/projects"),
    ("PUT", ORG + "/sso"),
}


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Webhooks to loopback allowed: the projects' webhooks point at a closed local port."""
    return lambda **o: make_settings(**{"webhook_allow_private_addresses": "true", **o})


def write_operations(base_url: str) -> list[tuple[str, str]]:
    """Every write under `/api/v1/orgs/{org}`, each classified here."""
    doc = httpx.get(f"{base_url}/api/v1/openapi.json").json()
    found = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        if path == ORG or path.startswith(ORG + "/")
        for method in item
        if method.upper() in WRITES
    }
    unclassified = sorted(found - CASES.keys() - ORG_LEVEL)
    assert not unclassified, f"classify these in CASES or ORG_LEVEL in {__file__}: {unclassified}"
    stale = sorted((CASES.keys() | ORG_LEVEL) - found)
    assert not stale, f"no longer in the API: {stale}"
    return sorted(op for op in found if op in CASES)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def user_id(user: ApiUser) -> int:
    return int(ok(user.get("/api/v1/me"))["user"]["id"])


class World:
    """An organization with a member of each role, and fresh projects on demand."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.owner = signup(url, "owner@example.com")
        self.org = self.owner.org
        self.users: dict[str, ApiUser] = {"owner": self.owner}
        for role, org_role in (
            ("admin", "admin"),
            ("viewer", "viewer"),
            ("viewer_made_admin", "viewer"),
            ("admin_made_viewer", "admin"),
        ):
            user = signup(url, f"{role.replace('_', '-')}@example.com")
            member = {"email": user.email, "role": org_role}
            ok(self.owner.post(f"/api/v1/orgs/{self.org}/members", json=member), 201)
            user.org = self.org
            self.users[role] = user
        self.users["stranger"] = signup(url, "stranger@example.com")
        self.ids = {role: user_id(u) for role, u in self.users.items()}
        self.counter = itertools.count()

    def project(self, needs: tuple[str, ...]) -> dict[str, str]:
        """A new project with the two project roles set, and what `needs` names: the path
        values of the objects an operation addresses."""
        key = f"m{next(self.counter)}"
        org = f"/api/v1/orgs/{self.org}"
        base = f"{org}/projects/{key}"
        owner = self.owner
        ok(owner.post(f"{org}/projects", json={"key": key, "name": key.upper()}), 201)
        for role, project_role in (("viewer_made_admin", "admin"), ("admin_made_viewer", "viewer")):
            put = owner.put(f"{base}/members/{self.ids[role]}", json={"role": project_role})
            assert ok(put)["role"] == project_role
        values = {
            "org": self.org,
            "project": key,
            "env": "staging",
            "flag": "f",
            "segment": "s",
            "index": "2",
            # Project roles are changed on the viewer made admin (removing theirs) and on the
            # viewer (giving them one).
            "user_id": str(self.ids["viewer"]),
        }
        if "webhook" in needs:
            hook = {"url": "http://127.0.0.1:9/hook", "events": ["*"], "project": key}
            values["webhook_id"] = str(ok(owner.post(f"{org}/webhooks", json=hook), 201)["id"])
        if "flag" in needs:
            flag = {
                "key": "f",
                "name": "F",
                "type": "string",
                "variations": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
            }
            ok(owner.post(f"{base}/flags", json=flag), 201)
        if "staging_on" in needs:  # something for a copy to production to change
            ok(owner.patch(f"{base}/flags/f/environments/staging", json={"on": True}))
        if "protected" in needs or "request" in needs:
            protect = {"protected": True}
            ok(owner.patch(f"{base}/environments/staging", json=protect))
        if "request" in needs:
            proposal = {"flag": "f", "environment": "staging", "changes": {"on": True}}
            made = ok(owner.post(f"{base}/change-requests", json=proposal), 201)
            values["request_id"] = str(made["id"])
        if "approved" in needs:
            approve = f"{base}/change-requests/{values['request_id']}/approve"
            ok(self.users["admin"].post(approve, json={}))
        if "webhook" in needs and "flag" in needs:
            listed = ok(owner.get(f"{org}/webhooks/{values['webhook_id']}/deliveries"))
            values["delivery_id"] = str(listed["deliveries"][0]["id"])
        if "segment" in needs:
            segment = f"{base}/environments/staging/segments/s"
            ok(owner.put(segment, json={"included": ["user-1"]}), 201)
        if "schedule" in needs:
            later = {
                "environment": "production",
                "at": "2030-01-01T00:00:00Z",
                "changes": {"on": True},
            }
            made = ok(owner.post(f"{base}/flags/f/schedules", json=later), 201)
            values["schedule_id"] = str(made["id"])
        if "relay_key" in needs:
            made = ok(owner.post(f"{base}/relay-keys", json={"name": "edge"}), 201)
            values["key_id"] = str(made["id"])
        if "scan" in needs:
            scan = {"repository": "acme/web", "branch": "main", "commit": "abcdef1", "refs": []}
            ok(owner.post(f"{base}/code-refs", json=scan))
        return values

    def state(self, key: str) -> dict[str, Any]:
        """What the project holds, read by the owner: everything a refused write could change."""
        org = f"/api/v1/orgs/{self.org}"
        base = f"{org}/projects/{key}"
        got = self.owner.get(base)
        if got.status_code == 404:
            return {"project": None}
        out = {"project": ok(got)}
        parts = ("flags?archived=all", "members", "relay-keys", "schedules", "code-refs")
        for part in (*parts, "change-requests"):
            out[part] = ok(self.owner.get(f"{base}/{part}"))
        for env in out["project"]["environments"]:
            out[env["key"]] = ok(self.owner.get(f"{base}/environments/{env['key']}/segments"))
        hooks = ok(self.owner.get(f"{org}/webhooks", params={"project": key}))["webhooks"]
        out["webhooks"] = [{k: v for k, v in h.items() if k != "failing_since"} for h in hooks]
        return out


def fill(template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def body_for(case: Case, values: dict[str, str]) -> Any:
    """The case's body with "{project}" replaced by the project's key, anywhere in it."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{project}", values["project"])
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(case.body)


def outcomes(world: World) -> Iterator[tuple[str, str, str, httpx.Response, bool]]:
    """(role, operation, expected, answer, unchanged) for every classified write by every
    role."""
    for method, template in write_operations(world.url):
        case = CASES[(method, template)]
        for role in ROLES:
            values = world.project(case.needs)
            before = world.state(values["project"])
            body = body_for(case, values)
            answer = world.users[role].request(
                method,
                fill(template, values),
                params=case.query or None,
                **({} if body is None else {"json": body}),
            )
            unchanged = world.state(values["project"]) == before
            yield role, f"{method} {template}", case.expect[role], answer, unchanged


def test_every_project_write_answers_by_the_role_in_that_project(live):
    world = World(live.url)
    seen = set()
    for role, operation, expected, answer, unchanged in outcomes(world):
        what = f"{role}: {operation}: {answer.status_code} {answer.text[:300]}"
        seen.add(operation)
        if expected == "ok":
            assert 200 <= answer.status_code < 300, what
            continue
        status = REFUSALS[expected]
        assert answer.status_code == status, what
        assert answer.json()["error"]["code"] == expected, what
        assert unchanged, f"{what}: refused, yet the project changed"
    assert len(seen) == len(CASES) >= 25


def test_a_viewer_of_one_project_who_is_admin_of_another_writes_only_there(live_any_db):
    """The acceptance case: viewer of project A, admin of project B (SQLite and PostgreSQL)."""
    live = live_any_db
    owner = signup(live.url, "owner@example.com")
    member = signup(live.url, "member@example.com")
    org = f"/api/v1/orgs/{owner.org}"
    ok(owner.post(f"{org}/members", json={"email": member.email, "role": "viewer"}), 201)
    ok(owner.post(f"{org}/projects", json={"key": "b", "name": "B"}), 201)
    ok(owner.put(f"{org}/projects/b/members/{user_id(member)}", json={"role": "admin"}))
    for project in ("default", "b"):
        ok(owner.post(f"{org}/projects/{project}/flags", json={"key": "x", "name": "X"}), 201)

    a = member.patch(f"{org}/projects/default/flags/x/environments/production", json={"on": True})
    assert a.status_code == 403 and a.json()["error"]["code"] == "read_only", a.text
    b = member.patch(f"{org}/projects/b/flags/x/environments/production", json={"on": True})
    assert ok(b)["on"] is True
    made = member.post(f"{org}/projects/b/flags", json={"key": "mine", "name": "Mine"})
    assert ok(made, 201)["key"] == "mine"
    refused = member.post(f"{org}/projects/default/flags", json={"key": "mine", "name": "Mine"})
    assert refused.status_code == 403, refused.text

    # They read both, see their role in each, and still cannot act for the organization.
    listed = {m["email"]: m for m in ok(member.get(f"{org}/projects/b/members"))["members"]}
    assert listed[member.email] == {
        "user_id": user_id(member),
        "email": member.email,
        "name": member.email,
        "org_role": "viewer",
        "project_role": "admin",
        "role": "admin",
    }
    here = ok(member.get(f"{org}/projects/default/members"))["members"]
    assert {m["email"]: m["role"] for m in here}[member.email] == "viewer"
    new_project = member.post(f"{org}/projects", json={"key": "c", "name": "C"})
    assert new_project.status_code == 403, new_project.text
    self_promotion = member.put(
        f"{org}/projects/default/members/{user_id(member)}", json={"role": "admin"}
    )
    assert self_promotion.status_code == 403, self_promotion.text
    flags = ok(owner.get(f"{org}/projects/default/flags"))["flags"]
    assert [f["key"] for f in flags] == ["x"]
    assert flags[0]["environments"]["production"]["on"] is False


def test_owners_stay_owners_and_admins_cannot_touch_them(live):
    owner = signup(live.url, "owner@example.com")
    second = signup(live.url, "second@example.com")
    admin = signup(live.url, "admin@example.com")
    org = f"/api/v1/orgs/{owner.org}"
    ok(owner.post(f"{org}/members", json={"email": second.email, "role": "owner"}), 201)
    ok(owner.post(f"{org}/members", json={"email": admin.email, "role": "admin"}), 201)
    base = f"{org}/projects/default/members"

    by_owner = owner.put(f"{base}/{user_id(second)}", json={"role": "viewer"})
    assert by_owner.status_code == 409, by_owner.text
    assert by_owner.json()["error"]["code"] == "owner_everywhere"
    by_admin = admin.put(f"{base}/{user_id(owner)}", json={"role": "viewer"})
    assert by_admin.status_code == 403, by_admin.text
    assert by_admin.json()["error"]["code"] == "owner_only"
    assert admin.delete(f"{base}/{user_id(owner)}").status_code == 403
    wrong = owner.put(f"{base}/{user_id(admin)}", json={"role": "owner"})
    assert wrong.status_code == 422, wrong.text
    missing = owner.put(f"{base}/987654321", json={"role": "viewer"})
    assert missing.status_code == 404, missing.text
    roles = {m["email"]: m for m in ok(owner.get(base))["members"]}
    assert roles[second.email]["role"] == "owner" and roles[second.email]["project_role"] is None

    # A project role ends with the membership, and with becoming an owner.
    ok(owner.put(f"{base}/{user_id(admin)}", json={"role": "viewer"}))
    ok(owner.patch(f"{org}/members/{user_id(admin)}", json={"role": "owner"}))
    roles = {m["email"]: m for m in ok(owner.get(base))["members"]}
    assert roles[admin.email]["project_role"] is None and roles[admin.email]["role"] == "owner"
    ok(owner.patch(f"{org}/members/{user_id(admin)}", json={"role": "admin"}))
    roles = {m["email"]: m for m in ok(owner.get(base))["members"]}
    assert roles[admin.email]["role"] == "admin"


def test_project_role_changes_are_in_the_audit_log(live):
    owner = signup(live.url, "owner@example.com")
    member = signup(live.url, "member@example.com")
    org = f"/api/v1/orgs/{owner.org}"
    ok(owner.post(f"{org}/members", json={"email": member.email, "role": "admin"}), 201)
    base = f"{org}/projects/default/members/{user_id(member)}"
    ok(owner.put(base, json={"role": "viewer"}))
    ok(owner.put(base, json={"role": "viewer"}))  # no change: no entry
    assert ok(owner.delete(base))["role"] == "admin"
    ok(owner.delete(base))  # nothing to remove: no entry
    entries = ok(owner.get(f"{org}/audit", params={"action": "member.project_role_changed"}))
    assert [(e["before"], e["after"]) for e in entries["entries"]] == [
        ({"project_role": "viewer", "role": "viewer"}, {"project_role": None, "role": "admin"}),
        ({"project_role": None, "role": "admin"}, {"project_role": "viewer", "role": "viewer"}),
    ]
    assert {(e["resource"], e["project"], e["actor"]) for e in entries["entries"]} == {
        (member.email, "default", owner.email)
    }


def test_the_webhook_list_shows_what_the_caller_may_manage(live):
    owner = signup(live.url, "owner@example.com")
    dev = signup(live.url, "dev@example.com")  # viewer of the organization, admin of b
    cleo = signup(live.url, "cleo@example.com")  # admin of the organization, viewer of b
    eve = signup(live.url, "eve@example.com")  # viewer, nothing more
    org = f"/api/v1/orgs/{owner.org}"
    for user, role in ((dev, "viewer"), (cleo, "admin"), (eve, "viewer")):
        ok(owner.post(f"{org}/members", json={"email": user.email, "role": role}), 201)
    ok(owner.post(f"{org}/projects", json={"key": "b", "name": "B"}), 201)
    ok(owner.put(f"{org}/projects/b/members/{user_id(dev)}", json={"role": "admin"}))
    ok(owner.put(f"{org}/projects/b/members/{user_id(cleo)}", json={"role": "viewer"}))
    hooks = {}
    for scope in (None, "default", "b"):
        body = {"url": f"http://127.0.0.1:9/{scope}", "events": ["*"], "project": scope}
        hooks[scope] = ok(owner.post(f"{org}/webhooks", json=body), 201)["id"]

    def listed(user: ApiUser) -> set[str | None]:
        return {h["project"] for h in ok(user.get(f"{org}/webhooks"))["webhooks"]}

    assert listed(owner) == {None, "default", "b"}
    assert listed(dev) == {"b"}
    assert listed(cleo) == {None, "default"}
    refused = eve.get(f"{org}/webhooks")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only"
    for user, scope, status in ((dev, None, 403), (dev, "default", 403), (cleo, "b", 403)):
        answer = user.get(f"{org}/webhooks/{hooks[scope]}")
        assert answer.status_code == status, answer.text
    assert ok(dev.get(f"{org}/webhooks/{hooks['b']}"))["project"] == "b"
    made = dev.post(f"{org}/webhooks", json={"url": "http://127.0.0.1:9/x", "project": "b"})
    assert ok(made, 201)["project"] == "b"
    whole = dev.post(f"{org}/webhooks", json={"url": "http://127.0.0.1:9/x"})
    assert whole.status_code == 403, whole.text
