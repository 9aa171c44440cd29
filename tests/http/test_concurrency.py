"""Concurrent writers to one flag's configuration, with If-Match, on SQLite and PostgreSQL.

Of writers racing with the same If-Match exactly one wins and the others get 412; every accepted
write adds exactly one to the configuration's version and to the environment's version, and
leaves exactly one audit entry whose `after.version` is the version it produced.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.api import ApiUser, signup

WRITERS = 20
WRITES_PER_WRITER = 2
MAX_ATTEMPTS = 400
FLAG = "race"
CONFIG_FIELDS = ("on", "off_variation", "targets", "rules", "fallthrough", "client_side")


@dataclass
class Outcome:
    """What the threads saw: accepted writes (version -> response body) and every status."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[int, dict[str, Any]] = field(default_factory=dict)
    duplicates: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def saw(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses.append(response.status_code)

    def accept(self, body: dict[str, Any]) -> None:
        with self.lock:
            if body["version"] in self.accepted:
                self.duplicates.append(body["version"])
            self.accepted[body["version"]] = body


def _client(user: ApiUser) -> httpx.Client:
    """A client of its own, on the user's session (cookie and CSRF token)."""
    return httpx.Client(
        base_url=user.base_url,
        cookies=user.http.cookies,
        headers={"X-CSRF-Token": user.csrf},
        timeout=60,
    )


def _run_together(count: int, work: Callable[[int, threading.Barrier], None]) -> None:
    barrier = threading.Barrier(count)
    threads = [threading.Thread(target=work, args=(i, barrier)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a writer hung"


def _rule(tag: str) -> dict[str, Any]:
    return {
        "id": f"r-{tag}",
        "description": f"writer {tag}",
        "clauses": [
            {
                "attribute": "email",
                "op": "ends_with",
                "values": [f"@{tag}.example"],
                "negate": False,
            }
        ],
        "serve": {"variation": 0},
    }


def _state(config: dict[str, Any]) -> dict[str, Any]:
    return {k: config[k] for k in CONFIG_FIELDS}


def test_racing_writers_with_if_match(live_any_db):
    user = signup(live_any_db.url, "race@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default"
    config_path = f"{base}/flags/{FLAG}/environments/production"
    created = user.post(f"{base}/flags", json={"key": FLAG, "name": "Race"})
    assert created.status_code == 201, created.text

    def env_version() -> int:
        snapshot = user.get(f"{base}/environments/production/snapshot")
        assert snapshot.status_code == 200, snapshot.text
        return int(snapshot.json()["version"])

    start = user.get(config_path)
    assert start.status_code == 200, start.text
    v = int(start.json()["version"])
    assert start.headers["etag"] == f'"{v}"'
    env_start = env_version()

    # --- Round 1: 20 writers, released together, all with If-Match "v". -------------------
    first = Outcome()
    bodies: dict[int, Any] = {}

    def one_shot(i: int, barrier: threading.Barrier) -> None:
        rules = [_rule(f"once-{i}")]
        with _client(user) as client:
            barrier.wait()
            try:
                response = client.patch(
                    config_path, json={"rules": rules}, headers={"If-Match": f'"{v}"'}
                )
            except httpx.HTTPError as exc:
                first.failures.append(f"writer {i}: {type(exc).__name__}: {exc}")
                return
        first.saw(response)
        with first.lock:
            bodies[i] = response.json()
        if response.status_code == 200:
            first.accept({**response.json(), "writer": i, "etag": response.headers["etag"]})

    _run_together(WRITERS, one_shot)
    assert first.failures == []
    assert sorted(first.statuses) == [200] + [412] * (WRITERS - 1), first.statuses
    assert all(
        body["error"]["code"] == "version_conflict" for body in bodies.values() if "error" in body
    )
    assert list(first.accepted) == [v + 1]
    winner = first.accepted[v + 1]
    assert winner["etag"] == f'"{v + 1}"'
    assert [r["description"] for r in winner["rules"]] == [f"writer once-{winner['writer']}"]

    stored = user.get(config_path).json()
    assert stored["version"] == v + 1
    assert _state(stored) == _state(winner)
    assert env_version() == env_start + 1

    # --- Round 2: read-modify-write with retries on 412 until every write lands. -------------
    second = Outcome()

    def retrying(i: int, barrier: threading.Barrier) -> None:
        rng = random.Random(i)
        with _client(user) as client:
            barrier.wait()
            for j in range(WRITES_PER_WRITER):
                for _attempt in range(MAX_ATTEMPTS):
                    try:
                        current = client.get(config_path)
                        second.saw(current)
                        if current.status_code != 200:
                            second.failures.append(f"writer {i}: GET {current.status_code}")
                            return
                        etag = current.headers["etag"]
                        if (i + j) % 2 == 0:
                            # A toggle: always a change against what was just read.
                            change: dict[str, Any] = {"on": not current.json()["on"]}
                        else:
                            change = {
                                "targets": [{"variation": 0, "values": [f"user-{i}-{j}"]}],
                                "rules": [_rule(f"w{i}-{j}")],
                            }
                        response = client.patch(
                            config_path, json=change, headers={"If-Match": etag}
                        )
                    except httpx.HTTPError as exc:
                        second.failures.append(f"writer {i}: {type(exc).__name__}: {exc}")
                        return
                    second.saw(response)
                    if response.status_code == 200:
                        body = response.json()
                        assert response.headers["etag"] == f'"{body["version"]}"'
                        second.accept({**body, "change": change, "read": etag})
                        break
                    if response.status_code != 412:
                        second.failures.append(f"writer {i}: PATCH {response.status_code}")
                        return
                    assert response.json()["error"]["code"] == "version_conflict"
                    time.sleep(rng.random() * 0.005)  # a little jitter before the retry
                else:
                    second.failures.append(f"writer {i}: write {j} never landed")
                    return

    _run_together(WRITERS, retrying)
    assert second.failures == []
    assert set(second.statuses) <= {200, 412}, sorted(set(second.statuses))
    assert second.duplicates == []
    n = WRITERS * WRITES_PER_WRITER
    start2 = v + 1
    assert sorted(second.accepted) == list(range(start2 + 1, start2 + n + 1))
    for version, body in second.accepted.items():
        # Each accepted write was made against the version just before it.
        assert body["read"] == f'"{version - 1}"'

    final = user.get(config_path)
    assert final.json()["version"] == start2 + n
    assert final.headers["etag"] == f'"{start2 + n}"'
    last = second.accepted[start2 + n]
    assert _state(final.json()) == _state(last)
    assert env_version() == env_start + 1 + n

    # --- The audit log holds exactly the accepted writes, one for one. -----------------------
    audit = user.get(
        f"/api/v1/orgs/{user.org}/audit",
        params={"flag": FLAG, "environment": "production", "limit": 500},
    )
    assert audit.status_code == 200, audit.text
    entries = [
        e for e in audit.json()["entries"] if e["action"] in ("flag.configured", "flag.toggled")
    ]
    assert audit.json()["next"] is None
    by_version: dict[int, dict[str, Any]] = {}
    for entry in entries:
        assert entry["after"]["version"] not in by_version, entry["after"]["version"]
        by_version[entry["after"]["version"]] = entry
    accepted = {v + 1: winner, **second.accepted}
    assert sorted(by_version) == sorted(accepted) == list(range(v + 1, v + n + 2))
    for version, entry in by_version.items():
        body = accepted[version]
        assert entry["before"]["version"] == version - 1
        assert {k: entry["after"][k] for k in CONFIG_FIELDS} == _state(body)
        toggle = "change" in body and set(body["change"]) == {"on"}
        assert entry["action"] == ("flag.toggled" if toggle else "flag.configured"), entry
    # Entries are newest first, in version order: the log's order is the commit order.
    assert [e["after"]["version"] for e in entries] == sorted(by_version, reverse=True)
    user.close()
