"""Bulk actions through the API: each flag through the same call as a single change (its own
audit entry with the comment), a result per flag with partial failures named, and the errors
that refuse the whole request before anything changes."""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiUser, signup


def api(user: ApiUser, org: str | None = None) -> str:
    return f"/api/v1/orgs/{org or user.org}/projects/default"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


def flags(user: ApiUser, *keys: str) -> None:
    for key in keys:
        ok(user.post(f"{api(user)}/flags", json={"key": key, "tags": ["web"]}), 201)


def states(user: ApiUser, env: str) -> dict[str, bool]:
    listed = ok(user.get(f"{api(user)}/flags?archived=all"))["flags"]
    return {f["key"]: f["environments"][env]["on"] for f in listed}


def entries(user: ApiUser, action: str) -> list[dict[str, Any]]:
    found = ok(user.get(f"/api/v1/orgs/{user.org}/audit", params={"limit": 500}))["entries"]
    return [e for e in found if e["action"] == action]


def test_turn_flags_on_each_audited_with_a_result_per_flag(live_any_db):
    alice = signup(live_any_db.url, "alice@example.com")
    flags(alice, "a", "b", "c")
    ok(alice.patch(f"{api(alice)}/flags/b/environments/production", json={"on": True}))
    body = {"action": "on", "flags": ["a", "b", "ghost", "a"], "environment": "production",
            "comment": "launch day"}  # fmt: skip
    got = ok(alice.post(f"{api(alice)}/flags/bulk", json=body))
    assert (got["succeeded"], got["failed"]) == (2, 1)
    assert got["results"] == [
        {"flag": "a", "ok": True, "changed": True},
        {"flag": "b", "ok": True, "changed": False},  # it already was on
        {"flag": "ghost", "ok": False,
         "error": {"code": "not_found", "message": "no such flag"}},
    ]  # fmt: skip
    assert states(alice, "production") == {"a": True, "b": True, "c": False}
    assert states(alice, "staging") == {"a": False, "b": False, "c": False}
    toggles = entries(alice, "flag.toggled")
    assert [(e["flag"], e["comment"]) for e in toggles if e["comment"]] == [("a", "launch day")]

    off = ok(
        alice.post(
            f"{api(alice)}/flags/bulk",
            json={"action": "off", "flags": ["a", "b"], "environment": "production"},
        )
    )
    assert [r["changed"] for r in off["results"]] == [True, True]
    assert states(alice, "production") == {"a": False, "b": False, "c": False}


def test_archive_refuses_a_flag_that_is_on_and_archives_the_others(live):
    alice = signup(live.url, "alice@example.com")
    flags(alice, "old", "live", "older")
    ok(alice.patch(f"{api(alice)}/flags/live/environments/production", json={"on": True}))
    got = ok(
        alice.post(
            f"{api(alice)}/flags/bulk",
            json={"action": "archive", "flags": ["old", "live", "older"]},
        )
    )
    assert (got["succeeded"], got["failed"]) == (2, 1)
    refused = got["results"][1]
    assert refused["flag"] == "live" and refused["ok"] is False
    assert refused["error"]["code"] == "flag_in_use"
    assert "production" in refused["error"]["message"]
    listed = {
        f["key"]: f["archived"] for f in ok(alice.get(f"{api(alice)}/flags?archived=all"))["flags"]
    }
    assert listed == {"old": True, "live": False, "older": True}
    assert sorted(e["flag"] for e in entries(alice, "flag.archived")) == ["old", "older"]


def test_tags_added_and_removed(live):
    alice = signup(live.url, "alice@example.com")
    flags(alice, "x", "y")
    add = {"action": "add_tag", "flags": ["x", "y"], "tag": "checkout"}
    got = ok(alice.post(f"{api(alice)}/flags/bulk", json=add))
    assert got["tag"] == "checkout" and got["succeeded"] == 2
    tags = {f["key"]: f["tags"] for f in ok(alice.get(f"{api(alice)}/flags"))["flags"]}
    assert tags == {"x": ["web", "checkout"], "y": ["web", "checkout"]}
    again = ok(alice.post(f"{api(alice)}/flags/bulk", json=add))
    assert [r["changed"] for r in again["results"]] == [False, False]
    removed = ok(
        alice.post(
            f"{api(alice)}/flags/bulk", json={"action": "remove_tag", "flags": ["x"], "tag": "web"}
        )
    )
    assert removed["results"] == [{"flag": "x", "ok": True, "changed": True}]
    tags = {f["key"]: f["tags"] for f in ok(alice.get(f"{api(alice)}/flags"))["flags"]}
    assert tags == {"x": ["checkout"], "y": ["web", "checkout"]}


def test_requests_refused_whole_before_any_flag_changes(live):
    alice = signup(live.url, "alice@example.com")
    flags(alice, "a")
    bulk = f"{api(alice)}/flags/bulk"
    error(alice.post(bulk, json={"action": "on", "flags": ["a"]}), 422, "invalid")
    error(alice.post(bulk, json={"action": "on", "flags": ["a"], "environment": "moon"}),
          404, "not_found")  # fmt: skip
    error(alice.post(bulk, json={"action": "add_tag", "flags": ["a"]}), 422, "invalid")
    error(alice.post(bulk, json={"action": "add_tag", "flags": ["a"], "tag": "no spaces"}),
          422, "invalid")  # fmt: skip
    error(alice.post(bulk, json={"action": "explode", "flags": ["a"]}), 422, "invalid")
    error(alice.post(bulk, json={"action": "archive", "flags": []}), 422, "invalid")
    assert states(alice, "production") == {"a": False}

    # Another organization's flags: 404, as for a project that does not exist.
    bob = signup(live.url, "bob@example.com")
    body = {"action": "on", "flags": ["a"], "environment": "production"}
    theirs = bob.post(f"{api(bob, alice.org)}/flags/bulk", json=body)
    missing = bob.post(f"/api/v1/orgs/{alice.org}/projects/nothing/flags/bulk", json=body)
    assert theirs.status_code == 404 and theirs.json() == missing.json()
    # Bob's own project holds no flag "a": a per-flag not_found, and Alice's stays off.
    own = ok(bob.post(f"{api(bob)}/flags/bulk", json=body))
    assert own["results"][0]["error"]["code"] == "not_found"
    assert states(alice, "production") == {"a": False}

    ok(alice.post(f"/api/v1/orgs/{alice.org}/members",
                  json={"email": "bob@example.com", "role": "viewer"}), 201)  # fmt: skip
    error(bob.post(f"{api(bob, alice.org)}/flags/bulk", json=body), 403, "read_only")
    assert states(alice, "production") == {"a": False}


def test_bulk_on_or_off_in_a_protected_environment_is_refused_per_flag(live):
    """Protected production: each flag's toggle is refused as a single one would be (it needs
    an approved change request), nothing is applied and no request is opened behind the
    caller's back; the unprotected staging takes the same bulk action."""
    alice = signup(live.url, "alice@example.com")
    flags(alice, "a", "b")
    ok(alice.patch(f"{api(alice)}/flags/b/environments/production", json={"on": True}))
    ok(alice.patch(f"{api(alice)}/environments/production", json={"protected": True}))
    for action in ("on", "off"):
        body = {"action": action, "flags": ["a", "b"], "environment": "production"}
        got = ok(alice.post(f"{api(alice)}/flags/bulk", json=body))
        refused = [r for r in got["results"] if not r["ok"]]
        assert refused and all(r["error"]["code"] == "protected_environment" for r in refused)
        assert all(not r.get("changed") for r in got["results"])
    assert states(alice, "production") == {"a": False, "b": True}
    assert ok(alice.get(f"{api(alice)}/change-requests"))["change_requests"] == []
    body = {"action": "on", "flags": ["a", "b"], "environment": "staging"}
    assert ok(alice.post(f"{api(alice)}/flags/bulk", json=body))["succeeded"] == 2
    assert states(alice, "staging") == {"a": True, "b": True}
