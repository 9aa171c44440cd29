"""Two instances on one database apply each scheduled change once, never twice.

Two apps, each with its own connection pool and scheduler, on one PostgreSQL database (and on
one SQLite file), served on loopback and sharing the clock the test moves: many changes fall
due at the same moment, both schedulers wake to them at once, and each change must be applied
exactly once (one audit entry, one version of its configuration).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from launchsequence.app import create_app
from tests.support.api import signup
from tests.support.live import LiveServer

WAIT = 20.0  # the bound of every wait in this file, in seconds
FLAGS = 20
TOGGLES = 10  # on one more flag, alternately on and off, all due at once


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_two_instances_apply_each_change_once(
    make_settings: Callable[..., Any], database_url: str, clock: Any
) -> None:
    settings = make_settings(database_url=database_url, schedule_check_seconds=0.02)
    one = LiveServer(create_app(settings, clock=clock)).start()
    two = LiveServer(create_app(settings, clock=clock, apply_migrations=False)).start()
    try:
        alice = signup(one.url, "alice@example.com")
        base = f"/api/v1/orgs/{alice.org}/projects/default"
        at = clock() + 60_000
        ids = []
        for i in range(FLAGS):
            ok(alice.post(f"{base}/flags", json={"key": f"f{i}", "name": f"F{i}"}), 201)
            body = {"environment": "production", "at": at, "changes": {"on": True}}
            ids.append(ok(alice.post(f"{base}/flags/f{i}/schedules", json=body), 201)["id"])
        ok(alice.post(f"{base}/flags", json={"key": "flip", "name": "Flip"}), 201)
        for i in range(TOGGLES):
            body = {"environment": "production", "at": at, "changes": {"on": i % 2 == 0}}
            ids.append(ok(alice.post(f"{base}/flags/flip/schedules", json=body), 201)["id"])

        clock.advance(61)  # everything falls due at once, for both schedulers
        deadline = time.monotonic() + WAIT
        while True:
            pending = ok(alice.get(f"{base}/schedules", params={"status": "pending"}))
            if not pending["schedules"]:
                break
            assert time.monotonic() < deadline, f"still pending: {pending}"
            time.sleep(0.05)

        listed = ok(alice.get(f"{base}/schedules"))["schedules"]
        assert sorted(s["id"] for s in listed) == sorted(ids)
        assert {s["status"] for s in listed} == {"applied"}, listed
        entries = ok(alice.get(f"/api/v1/orgs/{alice.org}/audit", params={"limit": 500}))
        applied = [e for e in entries["entries"] if e["action"] == "schedule.applied"]
        assert sorted(e["after"]["id"] for e in applied) == sorted(ids)
        toggled = [e for e in entries["entries"] if e["action"] == "flag.toggled"]
        # Each flag f{i} was turned on once (version 1 -> 2); `flip` took its ten toggles in
        # the order they were scheduled, one version each, and ends off.
        for i in range(FLAGS):
            config = ok(alice.get(f"{base}/flags/f{i}/environments/production"))
            assert (config["on"], config["version"]) == (True, 2)
            assert sum(1 for e in toggled if e["flag"] == f"f{i}") == 1
        flip = ok(alice.get(f"{base}/flags/flip/environments/production"))
        assert flip["on"] is False
        flip_toggles = sum(1 for e in toggled if e["flag"] == "flip")
        assert flip["version"] == 1 + flip_toggles
        # Both instances serve the result.
        for server in (one, two):
            alice.http.base_url = server.url  # type: ignore[assignment]
            assert ok(alice.get(f"{base}/flags/f0/environments/production"))["on"] is True
    finally:
        two.stop()
        one.stop()
