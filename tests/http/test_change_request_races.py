"""Change requests under concurrency, on SQLite and on PostgreSQL: two users' requests race
through two connections of the real server (threads released together by a barrier).

- An approval of revision 1 racing an edit (revision 2): either the approval lands first and
  the edit voids it, or the edit lands first and the approval is refused (`request_changed`).
  Never does an approval count for a revision its approver did not see.
- Two applications of one approved request: exactly one applies it, once.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.support.api import ApiUser, signup

ROUNDS = 4


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def together(*calls: Any) -> list[Any]:
    """Run each call in its own thread, released at once; their answers in order."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int, call: Any) -> None:
        barrier.wait(timeout=10)
        answers[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    return answers


def team(url: str) -> tuple[ApiUser, ApiUser, str]:
    alice = signup(url, "alice@example.com")
    bob = signup(url, "bob@example.com")
    members = f"/api/v1/orgs/{alice.org}/members"
    ok(alice.post(members, json={"email": bob.email, "role": "admin"}), 201)
    api = f"/api/v1/orgs/{alice.org}/projects/default"
    ok(alice.post(f"{api}/flags", json={"key": "checkout"}), 201)
    ok(alice.patch(f"{api}/environments/production", json={"protected": True}))
    return alice, bob, api


def open_request(user: ApiUser, api: str, changes: dict[str, Any]) -> dict[str, Any]:
    body = {"flag": "checkout", "environment": "production", "changes": changes}
    return ok(user.post(f"{api}/change-requests", json=body), 201)  # type: ignore[no-any-return]


def test_an_approval_racing_an_edit_never_counts_for_the_edit(live_any_db):
    alice, bob, api = team(live_any_db.url)
    seen = set()
    for round_ in range(ROUNDS):
        made = open_request(alice, api, {"on": True})
        url = f"{api}/change-requests/{made['id']}"
        approve, edit = together(
            lambda url=url: bob.post(f"{url}/approve", json={"revision": 1}),
            lambda url=url, n=round_: alice.patch(url, json={"comment": f"edited {n}"}),
        )
        assert edit.status_code == 200, edit.text
        after = ok(alice.get(url))
        assert after["revision"] == 2 and after["approvals"] == [] and after["state"] == "open"
        if approve.status_code == 200:
            seen.add("approved first")
            assert after["voided_approvals"] == 1
        else:
            seen.add("edited first")
            assert approve.status_code == 409, approve.text
            assert approve.json()["error"]["code"] == "request_changed"
            assert after["voided_approvals"] == 0
        refused = alice.post(f"{url}/apply")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_approved"
    assert seen  # which came first is up to the database; both are safe


def test_two_applications_of_one_request_apply_it_once(live_any_db):
    alice, bob, api = team(live_any_db.url)
    config_url = f"{api}/flags/checkout/environments/production"
    for round_ in range(ROUNDS):
        on = round_ % 2 == 0
        made = open_request(alice, api, {"on": on})
        url = f"{api}/change-requests/{made['id']}"
        ok(bob.post(f"{url}/approve"))
        version = ok(alice.get(config_url))["version"]
        first, second = together(
            lambda url=url: alice.post(f"{url}/apply"), lambda url=url: bob.post(f"{url}/apply")
        )
        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        assert loser.json()["error"]["code"] == "request_closed"
        config = ok(alice.get(config_url))
        assert config["on"] is on and config["version"] == version + 1
        assert ok(alice.get(url))["state"] == "applied"


def test_a_copy_into_a_protected_environment_proposes_the_version_it_was_checked_at(
    live_any_db,
):
    """A copy into production (a change request) with If-Match races the owner's emergency
    change of production: either the copy sees the change and answers 412 (no request), or
    its request is based on exactly the version If-Match named."""
    alice, _, api = team(live_any_db.url)
    config_url = f"{api}/flags/checkout/environments/production"
    for round_ in range(ROUNDS):
        staging = {"rules": [{"clauses": [{"attribute": "n", "op": "in", "values": [round_]}],
                              "serve": {"variation": 0}}]}  # fmt: skip
        ok(alice.patch(f"{api}/flags/checkout/environments/staging", json=staging))
        version = ok(alice.get(config_url))["version"]
        bypass = {"on": round_ % 2 == 0, "bypass_protection": True, "bypass_reason": "incident"}
        copied, changed = together(
            lambda v=version: alice.post(
                f"{api}/flags/checkout/copy",
                json={"from": "staging", "to": "production", "parts": ["rules"]},
                headers={"If-Match": f'"{v}"'},
            ),
            lambda b=bypass: alice.patch(config_url, json=b),
        )
        assert changed.status_code == 200, changed.text
        if copied.status_code == 412:
            continue
        assert copied.status_code == 200, copied.text
        request = copied.json()["request"]
        assert request["base_version"] == version, (request, version)
        ok(alice.post(f"{api}/change-requests/{request['id']}/cancel"))
