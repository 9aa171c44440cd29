"""Read-check-write races through the real HTTP server, on SQLite and on PostgreSQL.

Each test releases a few requests together (a barrier, one HTTP client per thread) and
repeats the trial enough times that the old interleaving, which PostgreSQL allows and SQLite
never did, shows every time: the checks (last owner, single-use invitation, key taken, segment
in use, one live key after a rotation) must hold whatever the timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from launchsequence.app import create_app
from launchsequence.config import Settings
from launchsequence.services.passwords import Passwords
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer

PASSWORD = "correct horse"


@pytest.fixture
def live_any_db(make_settings: Callable[..., Settings], database_url: str) -> Iterator[LiveServer]:
    """The app on SQLite and then on PostgreSQL, with cheap password hashes: these tests sign
    up dozens of people, and what they race on is the database, not the hashing."""
    cheap = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    app = create_app(make_settings(database_url=database_url), passwords=cheap)
    server = LiveServer(app).start()
    yield server
    server.stop()


def _client(user: ApiUser) -> httpx.Client:
    """A client of its own on the user's session, so that requests really run in parallel."""
    return httpx.Client(
        base_url=user.base_url,
        cookies=user.http.cookies,
        headers={"X-CSRF-Token": user.csrf},
        timeout=60,
    )


def _together(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in threads released at the same moment; their responses, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except BaseException as exc:  # reported below, in the test's thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    for result in results:
        if not isinstance(result, httpx.Response):
            raise AssertionError(f"a request failed: {result!r}")
    return results  # type: ignore[return-value]


def _code(response: httpx.Response) -> str | None:
    if response.status_code < 400:
        return None
    return str(response.json()["error"]["code"])


def _members(user: ApiUser, org: str) -> dict[str, str]:
    response = user.get(f"/api/v1/orgs/{org}/members")
    assert response.status_code == 200, response.text
    return {m["email"]: m["role"] for m in response.json()["members"]}


# --- the last owner --------------------------------------------------------------------------

OWNER_TRIALS = 15


@pytest.mark.parametrize("move", ["demote", "remove", "leave"])
def test_two_owners_acting_at_once_leave_an_owner(live_any_db, move):
    """Two owners demote each other, remove each other, or both leave, at the same moment:
    one succeeds, the other is refused, and every organization keeps an owner."""
    ann = signup(live_any_db.url, "ann@example.com")
    bob = signup(live_any_db.url, "bob@example.com")
    ids = {u.email: u.get("/api/v1/me").json()["user"]["id"] for u in (ann, bob)}
    outcomes = []
    with _client(ann) as ann_http, _client(bob) as bob_http:
        for trial in range(OWNER_TRIALS):
            org = f"duel-{trial}"
            assert ann.post("/api/v1/orgs", json={"key": org, "name": org}).status_code == 201
            added = ann.post(
                f"/api/v1/orgs/{org}/members", json={"email": bob.email, "role": "owner"}
            )
            assert added.status_code == 201, added.text

            def act(http: httpx.Client, me: str, other: str, org: str = org) -> httpx.Response:
                target = ids[me] if move == "leave" else ids[other]
                path = f"/api/v1/orgs/{org}/members/{target}"
                if move == "demote":
                    return http.patch(path, json={"role": "admin"})
                return http.delete(path)

            responses = _together(
                [
                    lambda: act(ann_http, ann.email, bob.email),
                    lambda: act(bob_http, bob.email, ann.email),
                ]
            )
            statuses = sorted(r.status_code for r in responses)
            owners = _owners(org, ann, bob)
            outcomes.append((statuses, [_code(r) for r in responses], owners))
    no_owner = [o for o in outcomes if not o[2]]
    assert no_owner == [], f"{len(no_owner)} of {OWNER_TRIALS} organizations lost every owner"
    for statuses, codes, owners in outcomes:
        assert len(owners) == 1, owners
        assert statuses[0] in (200, 204), (statuses, codes)
        # The loser is told why: no longer an owner, no longer a member, or the last owner.
        assert statuses[1] in (403, 404, 409), (statuses, codes)
        assert {c for c in codes if c} <= {"owner_only", "not_found", "last_owner"}, codes


def _owners(org: str, *users: ApiUser) -> list[str]:
    """The owners of `org`, as any of `users` still a member sees them (none if none is)."""
    for user in users:
        response = user.get(f"/api/v1/orgs/{org}/members")
        if response.status_code == 200:
            return sorted(m["email"] for m in response.json()["members"] if m["role"] == "owner")
        assert response.status_code == 404, response.text
    return []


# --- single-use invitations ------------------------------------------------------------------

INVITE_TRIALS = 10
INVITEES = 6


def test_a_single_use_invitation_is_accepted_once(live_any_db):
    """Six people sign up with the same invitation at the same moment: one joins, the other
    five are told the invitation is not valid and get no account."""
    owner = signup(live_any_db.url, "owner@example.com")
    joined_per_trial = []
    for trial in range(INVITE_TRIALS):
        created = owner.post(f"/api/v1/orgs/{owner.org}/invitations", json={"role": "viewer"})
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        clients = [httpx.Client(base_url=live_any_db.url, timeout=60) for _ in range(INVITEES)]
        try:
            responses = _together(
                [
                    (
                        lambda c=c, email=f"guest-{trial}-{i}@example.com", token=token: c.post(
                            "/api/v1/auth/signup",
                            json={"email": email, "password": PASSWORD, "invitation": token},
                        )
                    )
                    for i, c in enumerate(clients)
                ]
            )
        finally:
            for c in clients:
                c.close()
        accepted = [r for r in responses if r.status_code == 201]
        joined_per_trial.append(len(accepted))
        for r in responses:
            if r.status_code != 201:
                assert (r.status_code, _code(r)) == (404, "invalid_invitation"), r.text
    assert joined_per_trial == [1] * INVITE_TRIALS
    members = _members(owner, owner.org)
    assert sorted(members.values()) == ["owner"] + ["viewer"] * INVITE_TRIALS
    # The refused sign-ups left no account behind: their email can still sign up.
    refused = next(
        f"guest-0-{i}@example.com"
        for i in range(INVITEES)
        if f"guest-0-{i}@example.com" not in members
    )
    again = httpx.post(
        f"{live_any_db.url}/api/v1/auth/signup",
        json={"email": refused, "password": PASSWORD},
        timeout=60,
    )
    assert again.status_code == 201, again.text


# --- unique keys -----------------------------------------------------------------------------

KEY_TRIALS = 4
RACERS = 5


def _creations(user: ApiUser, org: str, trial: int) -> dict[str, tuple[str, str, dict[str, Any]]]:
    base = f"/api/v1/orgs/{org}/projects"
    return {
        "organization": ("POST", "/api/v1/orgs", {"key": f"org-{trial}", "name": "Org"}),
        "project": ("POST", base, {"key": f"project-{trial}", "name": "P"}),
        "environment": (
            "POST",
            f"{base}/default/environments",
            {"key": f"env-{trial}", "name": "E"},
        ),
        "flag": ("POST", f"{base}/default/flags", {"key": f"flag-{trial}", "name": "F"}),
    }


@pytest.mark.parametrize("kind", ["organization", "project", "environment", "flag"])
def test_creating_the_same_key_at_once_gives_one_201_and_409s(live_any_db, kind):
    user = signup(live_any_db.url, "keys@example.com")
    clients = [_client(user) for _ in range(RACERS)]
    try:
        for trial in range(KEY_TRIALS):
            call = _creations(user, user.org, trial)[kind]
            responses = _together(
                [lambda c=c, call=call: c.request(call[0], call[1], json=call[2]) for c in clients]
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [201] + [409] * (RACERS - 1), [r.text for r in responses]
            assert {_code(r) for r in responses} == {None, "key_taken"}
    finally:
        for c in clients:
            c.close()


def test_putting_a_new_segment_at_once_creates_it_once(live_any_db):
    """PUT creates or replaces: of racing PUTs of a new segment one creates it (201) and the
    others replace it (200); none fails."""
    user = signup(live_any_db.url, "segments@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default/environments/production/segments"
    clients = [_client(user) for _ in range(RACERS)]
    try:
        for trial in range(KEY_TRIALS):
            responses = _together(
                [
                    lambda c=c, i=i, path=f"{base}/seg-{trial}": c.put(
                        path, json={"name": f"S{i}", "included": [f"u{i}"]}
                    )
                    for i, c in enumerate(clients)
                ]
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200] * (RACERS - 1) + [201], [r.text for r in responses]
            stored = user.get(f"{base}/seg-{trial}").json()
            assert stored["version"] == RACERS
    finally:
        for c in clients:
            c.close()


def test_people_with_the_same_name_signing_up_at_once_all_get_in(live_any_db):
    """Sign-up derives the organization's key from the name: racing sign-ups that derive the
    same key each get an organization of their own, none is told its email is taken."""
    for trial in range(KEY_TRIALS):
        clients = [httpx.Client(base_url=live_any_db.url, timeout=60) for _ in range(RACERS)]
        try:
            responses = _together(
                [
                    lambda c=c, i=i, trial=trial: c.post(
                        "/api/v1/auth/signup",
                        json={
                            "email": f"dana-{trial}-{i}@example.com",
                            "password": PASSWORD,
                            "name": f"Dana {trial}",
                        },
                    )
                    for i, c in enumerate(clients)
                ]
            )
        finally:
            for c in clients:
                c.close()
        assert [r.status_code for r in responses] == [201] * RACERS, [r.text for r in responses]
        orgs = {r.json()["organizations"][0]["key"] for r in responses}
        assert len(orgs) == RACERS


def test_racing_puts_with_one_if_match_give_one_success(live_any_db):
    """Whole-configuration PUTs sent together with the same If-Match: one is applied, the
    others answer 412 with the current version, and the version moved by exactly one."""
    user = signup(live_any_db.url, "ifmatch@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(base, json={"key": "put", "name": "Put"}).status_code == 201
    config = f"{base}/put/environments/production"
    clients = [_client(user) for _ in range(RACERS)]
    try:
        for trial in range(KEY_TRIALS):
            version = user.get(config).json()["version"]
            bodies = [
                {
                    "on": i % 2 == 0,
                    "off_variation": 1,
                    "fallthrough": {"variation": 0},
                    "targets": [{"variation": 0, "values": [f"t{trial}-{i}"]}],
                }
                for i in range(RACERS)
            ]
            responses = _together(
                [
                    lambda c=c, body=body, v=version: c.put(
                        config, json=body, headers={"If-Match": f'"{v}"'}
                    )
                    for c, body in zip(clients, bodies, strict=True)
                ]
            )
            assert sorted(r.status_code for r in responses) == [200] + [412] * (RACERS - 1)
            assert {_code(r) for r in responses} == {None, "version_conflict"}
            winner = next(r.json() for r in responses if r.status_code == 200)
            stored = user.get(config).json()
            assert stored["version"] == version + 1 == winner["version"]
            assert stored["targets"] == winner["targets"]
    finally:
        for c in clients:
            c.close()


# --- key rotation ----------------------------------------------------------------------------

ROTATION_TRIALS = 5


def test_racing_rotations_leave_one_live_server_key(live_any_db):
    user = signup(live_any_db.url, "rotate@example.com")
    env = f"/api/v1/orgs/{user.org}/projects/default/environments/production"
    clients = [_client(user) for _ in range(RACERS)]
    try:
        for _ in range(ROTATION_TRIALS):
            responses = _together(
                [
                    lambda c=c: c.post(
                        f"{env}/sdk-keys", json={"kind": "server", "grace_seconds": 0}
                    )
                    for c in clients
                ]
            )
            assert [r.status_code for r in responses] == [201] * RACERS
            live = [k for k in user.get(env).json()["sdk_keys"] if k["kind"] == "server"]
            assert len(live) == 1, live
            assert live[0]["prefix"] in {r.json()["prefix"] for r in responses}
    finally:
        for c in clients:
            c.close()


# --- what an environment serves --------------------------------------------------------------

SERVE_TRIALS = 12


def test_a_segment_is_never_deleted_while_a_flag_starts_using_it(live_any_db):
    """Deleting a segment and pointing a flag's rule at it, at the same moment: one of the two
    is refused, and the environment's snapshot stays whole."""
    user = signup(live_any_db.url, "inuse@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default"
    segment = f"{base}/environments/production/segments/beta"
    config = f"{base}/flags/gate/environments/production"
    assert user.post(f"{base}/flags", json={"key": "gate", "name": "Gate"}).status_code == 201
    rule = {
        "clauses": [{"attribute": "key", "op": "segment_match", "values": ["beta"]}],
        "serve": {"variation": 0},
    }
    outcomes = []
    with _client(user) as one, _client(user) as two:
        for _ in range(SERVE_TRIALS):
            assert user.put(segment, json={"included": ["u1"]}).status_code in (200, 201)
            assert user.patch(config, json={"rules": []}).status_code == 200
            deleted, used = _together(
                [lambda: one.delete(segment), lambda: two.patch(config, json={"rules": [rule]})]
            )
            outcomes.append((deleted.status_code, used.status_code))
            assert (deleted.status_code, used.status_code) in ((204, 422), (409, 200)), (
                deleted.text,
                used.text,
            )
            snapshot = user.get(f"{base}/environments/production/snapshot")
            assert snapshot.status_code == 200, snapshot.text
            uses = bool(snapshot.json()["flags"]["gate"]["rules"])
            assert uses == ("beta" in snapshot.json()["segments"])


def test_a_variation_is_never_removed_while_a_configuration_starts_serving_it(live_any_db):
    user = signup(live_any_db.url, "variation@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default"
    config = f"{base}/flags/colour/environments/production"
    with _client(user) as one, _client(user) as two:
        for trial in range(SERVE_TRIALS):
            flag = f"{base}/flags/colour"
            if trial:
                assert user.delete(flag).status_code == 204
            created = user.post(
                f"{base}/flags",
                json={
                    "key": "colour",
                    "name": "Colour",
                    "type": "string",
                    "variations": [{"value": "red"}, {"value": "green"}, {"value": "blue"}],
                },
            )
            assert created.status_code == 201, created.text
            removed, served = _together(
                [
                    lambda flag=flag: one.delete(f"{flag}/variations/2"),
                    lambda: two.patch(config, json={"fallthrough": {"variation": 2}}),
                ]
            )
            assert (removed.status_code, served.status_code) in ((200, 422), (422, 200)), (
                removed.text,
                served.text,
            )
            snapshot = user.get(f"{base}/environments/production/snapshot")
            assert snapshot.status_code == 200, snapshot.text
            colour = snapshot.json()["flags"]["colour"]
            assert colour["fallthrough"]["variation"] < len(colour["variations"])


def test_a_flag_created_with_an_environment_gets_its_configuration_there(live_any_db):
    """A flag and an environment created at the same moment: the flag has a configuration in
    the new environment whichever commits first (a new environment gets every flag, off)."""
    user = signup(live_any_db.url, "newenv@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default"
    with _client(user) as one, _client(user) as two:
        for trial in range(SERVE_TRIALS):
            flag, env = f"f-{trial}", f"e-{trial}"
            made = _together(
                [
                    lambda flag=flag: one.post(f"{base}/flags", json={"key": flag, "name": flag}),
                    lambda env=env: two.post(
                        f"{base}/environments", json={"key": env, "name": env}
                    ),
                ]
            )
            assert [r.status_code for r in made] == [201, 201], [r.text for r in made]
            config = user.get(f"{base}/flags/{flag}/environments/{env}")
            assert config.status_code == 200, config.text
            assert config.json()["on"] is False


def test_racing_partial_segment_updates_keep_both(live_any_db):
    """Two PUTs that each change one field of a segment (as the dashboard's forms do): both
    changes are kept, neither overwrites the other with what it read before."""
    user = signup(live_any_db.url, "merge@example.com")
    segment = f"/api/v1/orgs/{user.org}/projects/default/environments/production/segments/mix"
    with _client(user) as one, _client(user) as two:
        for trial in range(SERVE_TRIALS):
            assert user.put(segment, json={"included": [], "excluded": []}).status_code in (
                200,
                201,
            )
            _together(
                [
                    lambda t=trial: one.put(segment, json={"included": [f"in-{t}"]}),
                    lambda t=trial: two.put(segment, json={"excluded": [f"out-{t}"]}),
                ]
            )
            stored = user.get(segment).json()
            assert (stored["included"], stored["excluded"]) == ([f"in-{trial}"], [f"out-{trial}"])
