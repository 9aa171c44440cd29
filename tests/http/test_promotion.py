"""Environments compared and promoted through the API: a flag part by part, a whole project, a
copy of chosen parts (a configuration change like any other: versioned, audited with its
comment), segments the target lacks refused by name, and every error a caller can make."""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiUser, signup

EU_RULE = {
    "description": "EU customers",
    "clauses": [{"attribute": "country", "op": "in", "values": ["DE", "FR"]}],
    "serve": {"variation": 0},
}


def api(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, response.text
    return str(body["message"])


def staged(user: ApiUser, key: str = "checkout") -> None:
    """A flag set up in staging (on, a target, a rule) and untouched in production."""
    ok(user.post(f"{api(user)}/flags", json={"key": key}), 201)
    config = {"on": True, "targets": [{"variation": 0, "values": ["qa-1"]}], "rules": [EU_RULE]}
    ok(user.patch(f"{api(user)}/flags/{key}/environments/staging", json=config))


def audit(user: ApiUser) -> list[dict[str, Any]]:
    entries = ok(user.get(f"/api/v1/orgs/{user.org}/audit", params={"limit": 500}))["entries"]
    return list(entries)


def test_a_flag_compared_part_by_part_line_by_line(live_any_db):
    alice = signup(live_any_db.url, "alice@example.com")
    staged(alice)
    got = ok(alice.get(f"{api(alice)}/flags/checkout/compare?from=staging&to=production"))
    assert (got["from"], got["to"], got["differs"]) == ("staging", "production", True)
    assert got["differing_parts"] == ["on", "targets", "rules"]
    parts = {p["part"]: p for p in got["parts"]}
    assert parts["on"]["lines"] == [{"kind": "changed", "from": "On", "to": "Off"}]
    assert parts["targets"]["lines"] == [
        {"kind": "changed", "from": "Serve true (On) to qa-1", "to": "none"}
    ]
    rule_lines = [(line["kind"], line["from"], line["to"]) for line in parts["rules"]["lines"]]
    assert rule_lines[0] == ("changed", "Rule 1: EU customers", "none")
    assert ("removed", "    if country is one of DE, FR", None) in rule_lines
    assert ("removed", "    serve true (On)", None) in rule_lines
    assert parts["fallthrough"]["differs"] is False
    assert parts["fallthrough"]["lines"] == [
        {"kind": "same", "from": "Serve true (On)", "to": "Serve true (On)"}
    ]
    assert got["from_config"]["on"] is True and got["to_config"]["on"] is False

    # Left out, the environments are staging -> production (a new project's two).
    assert ok(alice.get(f"{api(alice)}/flags/checkout/compare")) == got


def test_a_project_compared_lists_every_flag_those_that_differ_first(live):
    alice = signup(live.url, "alice@example.com")
    ok(alice.post(f"{api(alice)}/flags", json={"key": "alpha"}), 201)
    staged(alice, "zeta")
    got = ok(alice.get(f"{api(alice)}/compare", params={"from": "staging", "to": "production"}))
    assert got["differing"] == 1
    assert [(f["key"], f["differs"]) for f in got["flags"]] == [("zeta", True), ("alpha", False)]
    assert got["flags"][0]["differing_parts"] == ["on", "targets", "rules"]
    assert (got["flags"][0]["from_on"], got["flags"][0]["to_on"]) == (True, False)
    backwards = ok(alice.get(f"{api(alice)}/compare", params={"from": "production"}))
    assert (backwards["from"], backwards["to"]) == ("production", "staging")


def test_copying_rules_is_a_configuration_change_with_its_comment(live_any_db):
    alice = signup(live_any_db.url, "alice@example.com")
    staged(alice)
    before = ok(alice.get(f"{api(alice)}/flags/checkout/environments/production"))
    body = {"from": "staging", "to": "production", "parts": ["rules"], "comment": "promote EU"}
    done = ok(alice.post(f"{api(alice)}/flags/checkout/copy", json=body))
    assert done["parts"] == ["rules"] and done["changed"] == ["rules"]
    assert done["config"]["version"] == before["version"] + 1
    production = ok(alice.get(f"{api(alice)}/flags/checkout/environments/production"))
    staging = ok(alice.get(f"{api(alice)}/flags/checkout/environments/staging"))
    assert production["rules"] == staging["rules"]
    assert production["on"] is False and production["targets"] == []  # not asked for
    [entry] = [e for e in audit(alice) if e["environment"] == "production"]
    assert entry["action"] == "flag.configured" and entry["comment"] == "promote EU"
    assert entry["after"]["rules"] == staging["rules"]

    # The comparison now finds the rules alike; copied again, nothing changes or is logged.
    compared = ok(alice.get(f"{api(alice)}/flags/checkout/compare"))
    assert compared["differing_parts"] == ["on", "targets"]
    logged = len(audit(alice))
    again = ok(alice.post(f"{api(alice)}/flags/checkout/copy", json=body))
    assert again["changed"] == [] and again["config"]["version"] == done["config"]["version"]
    assert len(audit(alice)) == logged

    # Everything (no parts): production becomes staging, and the flag is on there.
    whole = ok(alice.post(f"{api(alice)}/flags/checkout/copy",
                          json={"from": "staging", "to": "production"}))  # fmt: skip
    assert whole["changed"] == ["on", "targets"]
    assert ok(alice.get(f"{api(alice)}/flags/checkout/compare"))["differs"] is False
    toggled = [e for e in audit(alice) if e["environment"] == "production"]
    assert len(toggled) == 2


def test_rules_using_a_segment_the_target_lacks_are_refused_naming_it(live):
    alice = signup(live.url, "alice@example.com")
    ok(alice.post(f"{api(alice)}/flags", json={"key": "beta-banner"}), 201)
    beta = {"included": ["user-1"]}
    ok(alice.put(f"{api(alice)}/environments/staging/segments/beta-testers", json=beta), 201)
    rule = {
        "clauses": [{"attribute": "key", "op": "segment_match", "values": ["beta-testers"]}],
        "serve": {"variation": 0},
    }
    ok(alice.patch(f"{api(alice)}/flags/beta-banner/environments/staging", json={"rules": [rule]}))
    compared = ok(alice.get(f"{api(alice)}/flags/beta-banner/compare"))
    assert compared["segments_missing"] == ["beta-testers"]
    assert "the context is in segment beta-testers" in str(compared["parts"])

    copy = {"from": "staging", "to": "production", "parts": ["rules"]}
    refused = alice.post(f"{api(alice)}/flags/beta-banner/copy", json=copy)
    message = error(refused, 422, "segments_missing")
    assert "beta-testers" in message and "production" in message
    assert ok(alice.get(f"{api(alice)}/flags/beta-banner/environments/production"))["rules"] == []
    # Other parts copy: only the rules need the segment.
    on = ok(alice.post(f"{api(alice)}/flags/beta-banner/copy", json={**copy, "parts": ["on"]}))
    assert on["changed"] == []

    ok(alice.put(f"{api(alice)}/environments/production/segments/beta-testers", json=beta), 201)
    done = ok(alice.post(f"{api(alice)}/flags/beta-banner/copy", json=copy))
    assert done["changed"] == ["rules"]


def test_what_a_copy_refuses(live):
    alice = signup(live.url, "alice@example.com")
    staged(alice)
    copy = f"{api(alice)}/flags/checkout/copy"
    same = {"from": "staging", "to": "staging"}
    error(alice.post(copy, json=same), 422, "same_environment")
    error(alice.post(copy, json={"from": "staging", "to": "nowhere"}), 404, "not_found")
    error(alice.post(copy, json={**same, "to": "production", "parts": ["colour"]}), 422,
          "invalid")  # fmt: skip
    error(alice.post(copy, json={**same, "to": "production", "parts": []}), 422, "invalid")
    error(alice.post(f"{api(alice)}/flags/nothing/copy", json={**same, "to": "production"}),
          404, "not_found")  # fmt: skip
    error(alice.get(f"{api(alice)}/compare?from=staging&to=staging"), 422, "same_environment")
    error(alice.get(f"{api(alice)}/flags/nothing/compare"), 404, "not_found")

    # A stale If-Match (production moved since it was read): 412, and nothing copied.
    seen = ok(alice.get(f"{api(alice)}/flags/checkout/environments/production"))["version"]
    ok(alice.patch(f"{api(alice)}/flags/checkout/environments/production",
                   json={"client_side": True}))  # fmt: skip
    stale = alice.post(copy, json={"from": "staging", "to": "production"},
                       headers={"If-Match": f'"{seen}"'})  # fmt: skip
    error(stale, 412, "version_conflict")
    assert ok(alice.get(f"{api(alice)}/flags/checkout/environments/production"))["on"] is False

    # Another organization's flag answers exactly as a missing one; a viewer may only look.
    bob = signup(live.url, "bob@example.com")
    theirs = bob.post(f"/api/v1/orgs/{alice.org}/projects/default/flags/checkout/copy",
                      json={"from": "staging", "to": "production"})  # fmt: skip
    missing = bob.post(f"/api/v1/orgs/{alice.org}/projects/default/flags/nothing/copy",
                       json={"from": "staging", "to": "production"})  # fmt: skip
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    compare = bob.get(f"/api/v1/orgs/{alice.org}/projects/default/flags/checkout/compare")
    assert compare.status_code == 404 and compare.json() == missing.json()
    ok(alice.post(f"/api/v1/orgs/{alice.org}/members",
                  json={"email": "bob@example.com", "role": "viewer"}), 201)  # fmt: skip
    assert ok(bob.get(f"/api/v1/orgs/{alice.org}/projects/default/compare"))["differing"] == 1
    error(bob.post(f"/api/v1/orgs/{alice.org}/projects/default/flags/checkout/copy",
                   json={"from": "staging", "to": "production"}), 403, "read_only")  # fmt: skip


def test_a_copy_into_a_protected_environment_opens_a_change_request(live_any_db):
    """Nothing reaches a protected environment without approval, a copy included: it opens a
    request with the parts that differ, production stays as it was until a second member
    approves and the request is applied."""
    alice = signup(live_any_db.url, "alice@example.com")
    bob = signup(live_any_db.url, "bob@example.com")
    member = {"email": "bob@example.com", "role": "admin"}
    ok(alice.post(f"/api/v1/orgs/{alice.org}/members", json=member), 201)
    staged(alice)
    ok(alice.patch(f"{api(alice)}/environments/production", json={"protected": True}))
    seen = ok(alice.get(f"{api(alice)}/flags/checkout/compare"))
    assert seen["to_protected"] is True
    before = seen["to_config"]

    copy = {"from": "staging", "to": "production", "parts": ["on", "rules"], "comment": "ship"}
    stale = alice.post(f"{api(alice)}/flags/checkout/copy", json=copy, headers={"If-Match": '"99"'})
    error(stale, 412, "version_conflict")
    done = ok(alice.post(f"{api(alice)}/flags/checkout/copy", json=copy))
    assert done["changed"] == [] and done["config"]["version"] == before["version"]
    request = done["request"]
    assert (request["state"], request["environment"], request["comment"]) == (
        "open",
        "production",
        "ship",
    )
    assert request["changes"] == {
        "on": True,
        "rules": [EU_RULE | {"id": request["changes"]["rules"][0]["id"]}],
    }
    production = f"{api(alice)}/flags/checkout/environments/production"
    assert ok(alice.get(production))["on"] is False  # not before approval

    cr = f"{api(alice)}/change-requests/{request['id']}"
    bob.org = alice.org
    ok(bob.post(f"{cr}/approve", json={}))
    ok(alice.post(f"{cr}/apply", json={}))
    now = ok(alice.get(production))
    assert now["on"] is True
    assert [r["description"] for r in now["rules"]] == ["EU customers"]
