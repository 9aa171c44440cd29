"""Isolation: another organization's objects answer 404 exactly as missing ones; viewers read only.

The operations come from the app's own OpenAPI document, and every one under
`/api/v1/orgs/{org}` must have an entry in OPERATIONS below: a new endpoint fails this suite
until it is added here, so it cannot escape the isolation checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from launchsequence.config import Settings
from tests.support.api import ApiUser, signup

ORG_PATH = "/api/v1/orgs/{org}"
P = "/api/v1/orgs/{org}/projects/{project}"
ENV = P + "/environments/{env}"
FLAG = P + "/flags/{flag}"

# Keys of org A's objects that the requests address (org A gets each of them in setup).
A_FLAG = "iso-flag"
A_SEGMENT = "iso-segment"
A_PROJECT = "iso-project"  # a second project, which only org A has
A_ENV = "iso-env"  # an extra environment of A's project `default`, which only org A has
INTRUDER = "intruder@example.com"  # an existing user, not a member of org A

#: Missing keys, one per path parameter: "exists nowhere".
MISSING = {
    "org": "no-such-org",
    "project": "no-such-project",
    "env": "no-such-env",
    "flag": "no-such-flag",
    "segment": "no-such-segment",
    "user_id": "987654321",
    "invitation_id": "987654321",
    "index": "99",
    "key_id": "987654321",
    "schedule_id": "987654321",
    "request_id": "987654321",
    "webhook_id": "987654321",
    "delivery_id": "987654321",
}

#: (method, path template) -> a valid body that would change something if it were obeyed.
OPERATIONS: dict[tuple[str, str], Any] = {
    ("GET", ORG_PATH): None,
    ("PATCH", ORG_PATH): {"name": "Hijacked"},
    ("GET", ORG_PATH + "/members"): None,
    ("POST", ORG_PATH + "/members"): {"email": INTRUDER, "role": "owner"},
    ("PATCH", ORG_PATH + "/members/{user_id}"): {"role": "admin"},
    ("DELETE", ORG_PATH + "/members/{user_id}"): None,
    ("GET", ORG_PATH + "/audit"): None,
    ("GET", ORG_PATH + "/invitations"): None,
    ("POST", ORG_PATH + "/invitations"): {"role": "owner"},
    ("DELETE", ORG_PATH + "/invitations/{invitation_id}"): None,
    ("GET", ORG_PATH + "/projects"): None,
    ("POST", ORG_PATH + "/projects"): {"key": "hijack", "name": "Hijack"},
    ("GET", P): None,
    ("PATCH", P): {"name": "Hijacked"},
    ("DELETE", P): None,
    ("GET", P + "/members"): None,
    ("PUT", P + "/members/{user_id}"): {"role": "admin"},
    ("DELETE", P + "/members/{user_id}"): None,
    ("GET", P + "/relay-keys"): None,
    ("POST", P + "/relay-keys"): {"name": "hijack"},
    ("DELETE", P + "/relay-keys/{key_id}"): None,
    ("GET", P + "/environments"): None,
    ("POST", P + "/environments"): {"key": "hijack", "name": "Hijack"},
    ("GET", ENV): None,
    ("PATCH", ENV): {"name": "Hijacked"},
    ("DELETE", ENV): None,
    ("POST", ENV + "/sdk-keys"): {"kind": "server", "grace_seconds": 0},
    ("GET", ENV + "/snapshot"): None,
    ("GET", ENV + "/segments"): None,
    ("PUT", ENV + "/segments/{segment}"): {"name": "Hijacked", "included": ["attacker"]},
    ("GET", ENV + "/segments/{segment}"): None,
    ("DELETE", ENV + "/segments/{segment}"): None,
    ("GET", P + "/flags"): None,
    ("POST", P + "/flags"): {"key": "hijack", "name": "Hijack"},
    ("GET", FLAG): None,
    ("PATCH", FLAG): {"name": "Hijacked", "archived": True},
    ("DELETE", FLAG): None,
    ("DELETE", FLAG + "/variations/{index}"): None,
    ("GET", FLAG + "/environments/{env}"): None,
    ("PUT", FLAG + "/environments/{env}"): {
        "on": True,
        "off_variation": 0,
        "fallthrough": {"variation": 0},
        "targets": [{"variation": 0, "values": ["attacker"]}],
    },
    ("PATCH", FLAG + "/environments/{env}"): {"on": True},
    ("GET", FLAG + "/schedules"): None,
    ("POST", FLAG + "/schedules"): {
        "environment": "production",
        "at": "2030-01-01T00:00:00Z",
        "changes": {"on": False},
        "comment": "hijack",
    },
    ("GET", P + "/schedules"): None,
    ("GET", P + "/schedules/{schedule_id}"): None,
    ("PATCH", P + "/schedules/{schedule_id}"): {"at": "2029-01-01T00:00:00Z"},
    ("DELETE", P + "/schedules/{schedule_id}"): None,
    ("GET", P + "/change-requests"): None,
    ("POST", P + "/change-requests"): {
        "flag": A_FLAG,
        "environment": "staging",
        "changes": {"on": True},
        "comment": "hijack",
    },
    ("GET", P + "/change-requests/{request_id}"): None,
    ("PATCH", P + "/change-requests/{request_id}"): {"comment": "hijack"},
    ("POST", P + "/change-requests/{request_id}/approve"): {},
    ("POST", P + "/change-requests/{request_id}/reject"): {"reason": "hijack"},
    ("POST", P + "/change-requests/{request_id}/cancel"): None,
    ("POST", P + "/change-requests/{request_id}/apply"): {},
    ("GET", P + "/export"): None,
    ("GET", P + "/compare"): None,
    ("GET", FLAG + "/compare"): None,
    ("POST", FLAG + "/copy"): {"from": "staging", "to": "production", "comment": "hijack"},
    ("POST", P + "/flags/bulk"): {
        "action": "on",
        "flags": [A_FLAG],
        "environment": "staging",
        "comment": "hijack",
    },
    ("GET", FLAG + "/usage"): None,
    ("GET", FLAG + "/code-refs"): None,
    ("GET", P + "/code-refs"): None,
    ("POST", P + "/code-refs"): {
        "repository": "attacker/repo",
        "branch": "main",
        "commit": "abcdef1",
        "refs": [{"flag": A_FLAG, "path": "hijack.py", "line": 1}],
    },
    ("DELETE", P + "/code-refs"): None,
    ("GET", ENV + "/applications"): None,
    ("GET", FLAG + "/lifecycle"): None,
    ("GET", P + "/lifecycle"): None,
    ("GET", ORG_PATH + "/webhooks"): None,
    ("POST", ORG_PATH + "/webhooks"): {"url": "http://127.0.0.1:9/hijack"},
    ("GET", ORG_PATH + "/webhooks/{webhook_id}"): None,
    ("PATCH", ORG_PATH + "/webhooks/{webhook_id}"): {"url": "http://127.0.0.1:9/hijack"},
    ("DELETE", ORG_PATH + "/webhooks/{webhook_id}"): None,
    ("POST", ORG_PATH + "/webhooks/{webhook_id}/secret"): None,
    ("GET", ORG_PATH + "/webhooks/{webhook_id}/deliveries"): None,
    ("POST", ORG_PATH + "/webhooks/{webhook_id}/deliveries/{delivery_id}/resend"): None,
    ("GET", ORG_PATH + "/sso"): None,
    ("PUT", ORG_PATH + "/sso"): {
        "allowed_domains": ["attacker.example"],
        "default_role": "admin",
        "required": True,
    },
    ("POST", ORG_PATH + "/import"): {
        "format": "launchsequence-project",
        "version": 1,
        "project": {"key": "hijack", "name": "Hijack"},
        "environments": [{"key": "production", "name": "Production"}],
        "flags": [
            {
                "key": "hijack",
                "environments": {
                    "production": {"on": True, "off_variation": 0, "fallthrough": {"variation": 0}}
                },
            }
        ],
    },
}

WRITES = ("POST", "PUT", "PATCH", "DELETE")
#: Reads for admins only: a webhook's URL may be a secret (a Slack incoming webhook).
ADMIN_READS = {
    ("GET", ORG_PATH + "/webhooks"),
    ("GET", ORG_PATH + "/webhooks/{webhook_id}"),
    ("GET", ORG_PATH + "/webhooks/{webhook_id}/deliveries"),
}


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Webhooks to loopback allowed: org A's webhook points at a closed local port."""
    return lambda **o: make_settings(**{"webhook_allow_private_addresses": "true", **o})


_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}


def org_operations(base_url: str) -> list[tuple[str, str]]:
    """Every organization-scoped operation of the OpenAPI document, all in OPERATIONS; reads
    first, deletes last (so that a leaking delete cannot hide a later leak)."""
    doc = httpx.get(f"{base_url}/api/v1/openapi.json").json()
    found = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        if path == ORG_PATH or path.startswith(ORG_PATH + "/")
        for method in item
        if method.upper() in ("GET", *WRITES)
    }
    missing = sorted(found - OPERATIONS.keys())
    assert not missing, f"add these operations to OPERATIONS in {__file__}: {missing}"
    stale = sorted(OPERATIONS.keys() - found)
    assert not stale, f"these OPERATIONS entries are no longer in the API: {stale}"
    return sorted(found, key=lambda op: (_ORDER[op[0]], op[1]))


def params_in(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


def fill(template: str, values: dict[str, str]) -> str:
    return template.format(**{name: values[name] for name in params_in(template)})


def send(client: ApiUser | httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if body is None:
        return client.request(method, path)
    return client.request(method, path, json=body)


def outcome(response: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    """Everything a caller can see, but the date."""
    headers = {k: v for k, v in response.headers.items() if k.lower() != "date"}
    return response.status_code, response.json(), headers


def bearer(base_url: str, user: ApiUser) -> httpx.Client:
    created = user.post("/api/v1/tokens", json={"name": "isolation"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    return httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def user_id(user: ApiUser) -> str:
    return str(user.get("/api/v1/me").json()["user"]["id"])


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def state(user: ApiUser, org: str) -> dict[str, Any]:
    """What the organization holds, read by its owner: everything a leak could change."""
    base = f"/api/v1/orgs/{org}"
    out: dict[str, Any] = {
        "org": ok(user.get(base)),
        "members": ok(user.get(f"{base}/members")),
        "projects": ok(user.get(f"{base}/projects")),
        "audit": ok(user.get(f"{base}/audit", params={"limit": 500})),
        "invitations": ok(user.get(f"{base}/invitations")),
        # Without what the sender changes as it tries the closed port.
        "webhooks": [
            {k: v for k, v in w.items() if k != "failing_since"}
            for w in ok(user.get(f"{base}/webhooks"))["webhooks"]
        ],
        "sso": ok(user.get(f"{base}/sso")),
    }
    for project in out["projects"]["projects"]:
        pbase = f"{base}/projects/{project['key']}"
        out[f"{project['key']}/members"] = ok(user.get(f"{pbase}/members"))
        out[f"{project['key']}/schedules"] = ok(user.get(f"{pbase}/schedules"))
        out[f"{project['key']}/change-requests"] = ok(user.get(f"{pbase}/change-requests"))
        out[f"{project['key']}/flags"] = ok(user.get(f"{pbase}/flags?archived=all"))
        out[f"{project['key']}/relay-keys"] = ok(user.get(f"{pbase}/relay-keys"))
        out[f"{project['key']}/code-refs"] = ok(user.get(f"{pbase}/code-refs"))
        for flag in out[f"{project['key']}/flags"]["flags"]:
            refs = ok(user.get(f"{pbase}/flags/{flag['key']}/code-refs"))
            out[f"{project['key']}/{flag['key']}/code-refs"] = refs
        for env in project["environments"]:
            ebase = f"{pbase}/environments/{env['key']}"
            out[f"{project['key']}/{env['key']}/snapshot"] = ok(user.get(f"{ebase}/snapshot"))
            out[f"{project['key']}/{env['key']}/segments"] = ok(user.get(f"{ebase}/segments"))
            for flag in out[f"{project['key']}/flags"]["flags"]:
                config = user.get(f"{pbase}/flags/{flag['key']}/environments/{env['key']}")
                out[f"{project['key']}/{flag['key']}/{env['key']}"] = ok(config)
    return out


def populate(user: ApiUser) -> None:
    """Give an organization a webhook (with deliveries), a flag, a segment, a second project
    and a third environment."""
    base = f"/api/v1/orgs/{user.org}/projects/default"
    hook = {"url": "http://127.0.0.1:9/iso", "events": ["flag.created"]}
    ok(user.post(f"/api/v1/orgs/{user.org}/webhooks", json=hook), 201)
    ok(user.post(f"{base}/flags", json={"key": A_FLAG, "name": "Iso"}), 201)
    segment = {"included": ["user-1"], "rules": []}
    ok(user.put(f"{base}/environments/production/segments/{A_SEGMENT}", json=segment), 201)
    ok(user.put(f"{base}/environments/staging/segments/{A_SEGMENT}", json=segment), 201)
    ok(user.post(f"{base}/environments", json={"key": A_ENV, "name": "Iso"}), 201)
    ok(user.post(f"/api/v1/orgs/{user.org}/projects", json={"key": A_PROJECT, "name": "Iso"}), 201)
    ok(user.patch(f"{base}/flags/{A_FLAG}/environments/production", json={"on": True}))
    ok(user.post(f"/api/v1/orgs/{user.org}/invitations", json={"role": "admin"}), 201)
    ok(user.post(f"{base}/relay-keys", json={"name": "iso-edge"}), 201)
    pending = {"environment": "production", "at": "2030-01-01T00:00:00Z", "changes": {"on": True}}
    ok(user.post(f"{base}/flags/{A_FLAG}/schedules", json=pending), 201)
    add_request(user, A_FLAG)
    scan = {
        "repository": "iso/repo",
        "branch": "main",
        "commit": "abcdef1",
        "refs": [{"flag": A_FLAG, "path": "iso.py", "line": 1}],
    }
    ok(user.post(f"{base}/code-refs", json=scan))


def add_request(user: ApiUser, flag: str) -> None:
    """A change request for `flag` in staging (protected for it)."""
    base = f"/api/v1/orgs/{user.org}/projects/default"
    ok(user.patch(f"{base}/environments/staging", json={"protected": True}))
    proposal = {"flag": flag, "environment": "staging", "changes": {"on": True}}
    ok(user.post(f"{base}/change-requests", json=proposal), 201)


def request_id(user: ApiUser, project: str = "default") -> str:
    listed = ok(user.get(f"/api/v1/orgs/{user.org}/projects/{project}/change-requests"))
    return str(listed["change_requests"][0]["id"])


def schedule_id(user: ApiUser, project: str = "default") -> str:
    listed = ok(user.get(f"/api/v1/orgs/{user.org}/projects/{project}/schedules"))
    return str(listed["schedules"][0]["id"])


def invitation_id(user: ApiUser) -> str:
    return str(ok(user.get(f"/api/v1/orgs/{user.org}/invitations"))["invitations"][0]["id"])


def relay_key_id(user: ApiUser, project: str = "default") -> str:
    keys = ok(user.get(f"/api/v1/orgs/{user.org}/projects/{project}/relay-keys"))["relay_keys"]
    return str(keys[0]["id"])


def webhook_ids(user: ApiUser) -> dict[str, str]:
    org = f"/api/v1/orgs/{user.org}"
    webhook = ok(user.get(f"{org}/webhooks"))["webhooks"][0]["id"]
    deliveries = ok(user.get(f"{org}/webhooks/{webhook}/deliveries"))["deliveries"]
    return {"webhook_id": str(webhook), "delivery_id": str(deliveries[-1]["id"])}


def a_objects(owner: ApiUser) -> dict[str, str]:
    return {
        **webhook_ids(owner),
        "org": owner.org,
        "project": "default",
        "env": "production",
        "flag": A_FLAG,
        "segment": A_SEGMENT,
        "user_id": user_id(owner),
        "invitation_id": invitation_id(owner),
        "index": "0",
        "key_id": relay_key_id(owner),
        "schedule_id": schedule_id(owner),
        "request_id": request_id(owner),
    }


def variants(real: dict[str, str], template: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The same address with one key at a time replaced by one that exists nowhere."""
    for name in params_in(template):
        yield name, {**real, name: MISSING[name]}


def test_another_organization_gets_404_exactly_as_for_missing_objects(live_any_db):
    url = live_any_db.url
    alice = signup(url, "alice@example.com")
    bob = signup(url, INTRUDER)
    assert alice.org != bob.org
    populate(alice)
    a = a_objects(alice)
    operations = org_operations(url)
    assert len(operations) == len(OPERATIONS) >= 30
    before = state(alice, alice.org)
    bob_before = state(bob, bob.org)

    bob_token = bearer(url, bob)
    checked = 0
    for how, client in (("session", bob), ("token", bob_token)):
        for method, template in operations:
            body = OPERATIONS[(method, template)]
            what = f"{how}: {method} {template}"
            answer = send(client, method, fill(template, a), body)
            status, error, _ = outcome(answer)
            assert status == 404, f"{what} leaked: {answer.status_code} {answer.text}"
            assert error["error"]["code"] == "not_found", f"{what}: {answer.text}"
            assert set(error["error"]) == {"code", "message"}, f"{what}: {answer.text}"
            for name, missing in variants(a, template):
                other = send(client, method, fill(template, missing), body)
                assert outcome(other) == outcome(answer), (
                    f"{what}: A's objects answer {answer.text}, "
                    f"a missing {name} answers {other.status_code} {other.text}"
                )
                checked += 1
    assert checked >= 2 * len(operations)

    # User-level: B's organization list does not show A's; A's token is not B's to revoke.
    assert [o["key"] for o in ok(bob.get("/api/v1/orgs"))["organizations"]] == [bob.org]
    alice_token = ok(alice.post("/api/v1/tokens", json={"name": "alice"}), 201)
    for client in (bob, bob_token):
        revoke = send(client, "DELETE", f"/api/v1/tokens/{alice_token['id']}", None)
        missing = send(client, "DELETE", f"/api/v1/tokens/{MISSING['user_id']}", None)
        assert revoke.status_code == 404, revoke.text
        assert outcome(revoke) == outcome(missing)
    bob_token.close()
    alice_tokens = ok(alice.get("/api/v1/tokens"))["tokens"]
    assert [t["id"] for t in alice_tokens] == [alice_token["id"]]

    assert state(alice, alice.org) == before
    assert state(bob, bob.org) == bob_before


def test_keys_are_per_organization(live_any_db):
    """B's own organization with A's project, environment, flag, segment or member: 404, the
    same answer as for a key that exists nowhere, and nothing changes on either side."""
    url = live_any_db.url
    alice = signup(url, "alice@example.com")
    bob = signup(url, INTRUDER)
    populate(alice)
    b_base = f"/api/v1/orgs/{bob.org}/projects/default"
    ok(bob.post(f"{b_base}/flags", json={"key": "b-flag", "name": "B"}), 201)
    ok(bob.put(f"{b_base}/environments/production/segments/b-segment", json={}), 201)
    ok(bob.post(f"/api/v1/orgs/{bob.org}/invitations", json={"role": "viewer"}), 201)
    ok(bob.post(f"{b_base}/relay-keys", json={"name": "b-edge"}), 201)
    pending = {"environment": "production", "at": "2030-01-01T00:00:00Z", "changes": {"on": True}}
    ok(bob.post(f"{b_base}/flags/b-flag/schedules", json=pending), 201)
    add_request(bob, "b-flag")
    b_hook = {"url": "http://127.0.0.1:9/b", "events": ["flag.created"]}
    ok(bob.post(f"/api/v1/orgs/{bob.org}/webhooks", json=b_hook), 201)
    ok(bob.post(f"{b_base}/flags", json={"key": "b-flag-2", "name": "B"}), 201)
    b = {
        **webhook_ids(bob),
        "org": bob.org,
        "project": "default",
        "env": "production",
        "flag": "b-flag",
        "segment": "b-segment",
        "user_id": user_id(bob),
        "invitation_id": invitation_id(bob),
        "index": "0",
        "key_id": relay_key_id(bob),
        "schedule_id": schedule_id(bob),
        "request_id": request_id(bob),
    }
    a_only = {
        **webhook_ids(alice),
        "project": A_PROJECT,
        "env": A_ENV,
        "flag": A_FLAG,
        "segment": A_SEGMENT,
        "user_id": user_id(alice),
        "invitation_id": invitation_id(alice),
        "key_id": relay_key_id(alice),
        "schedule_id": schedule_id(alice),
        "request_id": request_id(alice),
    }
    before = state(alice, alice.org)
    bob_before = state(bob, bob.org)

    checked = 0
    for method, template in org_operations(url):
        body = OPERATIONS[(method, template)]
        for name in params_in(template):
            if name in ("org", "index") or (method == "PUT" and name == "segment"):
                # PUT of a segment key B does not have creates it (see below); a variation's
                # index is not a key of anyone's.
                continue
            answer = send(bob, method, fill(template, {**b, name: a_only[name]}), body)
            what = f"{method} {template} with A's {name}"
            assert answer.status_code == 404, f"{what}: {answer.status_code} {answer.text}"
            assert answer.json()["error"]["code"] == "not_found", f"{what}: {answer.text}"
            missing = send(bob, method, fill(template, {**b, name: MISSING[name]}), body)
            assert outcome(missing) == outcome(answer), f"{what}: {answer.text} {missing.text}"
            checked += 1
    assert checked >= 25

    assert state(alice, alice.org) == before
    assert state(bob, bob.org) == bob_before

    # The same keys in B's organization are B's own, new objects; A's stay as they were.
    segment = bob.put(
        f"{b_base}/environments/production/segments/{A_SEGMENT}", json={"included": ["bob"]}
    )
    assert ok(segment, 201)["included"] == ["bob"]
    flag = ok(bob.post(f"{b_base}/flags", json={"key": A_FLAG, "name": "Bob's"}), 201)
    assert flag["environments"]["production"]["on"] is False
    assert state(alice, alice.org) == before


def test_a_viewer_reads_everything_and_changes_nothing(live):
    url = live.url
    alice = signup(url, "alice@example.com")
    viewer = signup(url, "viewer@example.com")
    populate(alice)
    org = f"/api/v1/orgs/{alice.org}"
    ok(alice.post(f"{org}/members", json={"email": viewer.email, "role": "viewer"}), 201)
    # The member addressed by member writes is the viewer: changing their own role is the
    # escalation to refuse.
    a = {**a_objects(alice), "user_id": user_id(viewer)}
    before = state(alice, alice.org)

    viewer_token = bearer(url, viewer)
    operations = org_operations(url)
    reads = [op for op in operations if op[0] == "GET"]
    writes = [op for op in operations if op[0] in WRITES]
    assert reads and writes and len(reads) + len(writes) == len(operations)
    for how, client in (("session", viewer), ("token", viewer_token)):
        for method, template in operations:
            answer = send(client, method, fill(template, a), OPERATIONS[(method, template)])
            what = f"{how}: {method} {template}"
            if method == "GET" and (method, template) not in ADMIN_READS:
                assert answer.status_code == 200, f"{what}: {answer.status_code} {answer.text}"
            else:
                assert answer.status_code == 403, f"{what}: {answer.status_code} {answer.text}"
                code = answer.json()["error"]["code"]
                assert code in ("read_only", "forbidden", "owner_only"), f"{what}: {code}"
    viewer_token.close()

    assert state(alice, alice.org) == before
    me = ok(viewer.get("/api/v1/orgs"))["organizations"]
    assert {"key": alice.org, "name": before["org"]["name"], "role": "viewer"} in me


def test_an_admin_changes_flags_but_never_the_owner_role(live):
    url = live.url
    alice = signup(url, "alice@example.com")
    admin = signup(url, "admin@example.com")
    outsider = signup(url, "outsider@example.com")
    org = f"/api/v1/orgs/{alice.org}"
    ok(alice.post(f"{org}/members", json={"email": admin.email, "role": "admin"}), 201)
    alice_id, admin_id = user_id(alice), user_id(admin)

    base = f"{org}/projects/default"
    ok(admin.post(f"{base}/flags", json={"key": "by-admin", "name": "By admin"}), 201)
    toggled = admin.patch(
        f"{base}/flags/by-admin/environments/production",
        json={"on": True},
        headers={"If-Match": '"1"'},
    )
    assert ok(toggled)["on"] is True

    members = ok(alice.get(f"{org}/members"))
    refused = [
        admin.post(f"{org}/members", json={"email": outsider.email, "role": "owner"}),
        admin.patch(f"{org}/members/{admin_id}", json={"role": "owner"}),
        admin.patch(f"{org}/members/{alice_id}", json={"role": "admin"}),
        admin.delete(f"{org}/members/{alice_id}"),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "owner_only", answer.text
    assert ok(alice.get(f"{org}/members")) == members

    # What an admin may do with roles below owner.
    added = admin.post(f"{org}/members", json={"email": outsider.email, "role": "viewer"})
    assert ok(added, 201)["role"] == "viewer"
