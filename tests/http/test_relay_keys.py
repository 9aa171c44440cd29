"""Relay keys and the relay stream at the core: what an edge node is fed by.

Through the REST API and the dashboard: a relay key is shown once, stored as a digest, listed
without its secret, and revoked; the relay stream authenticates with it, sends every
environment of its project whole (the snapshot the server stream sends, the SDK key digests),
then changes, and resumes from `Last-Event-ID` with only what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields
from tests.support.sse import HEARTBEAT, read_events

WAIT = 15.0


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def base(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default"


class Relay:
    """A relay stream read on a thread: its events, as (name, id, data)."""

    def __init__(self, url: str, key: str, last_event_id: str | None = None) -> None:
        self.events: list[tuple[str, str | None, Any]] = []
        self.stop = threading.Event()
        headers = {"Authorization": f"Bearer {key}", "X-LaunchSequence-Edge-Name": "test-edge"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.client = httpx.Client(timeout=httpx.Timeout(10, read=30))
        self.response = self.client.send(
            self.client.build_request("GET", f"{url}/relay/v1/stream", headers=headers),
            stream=True,
        )
        assert self.response.status_code == 200, self.response.read()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for event in read_events(self.response.iter_lines(), self.stop):
                if event is not HEARTBEAT:
                    self.events.append(event)
        except httpx.HTTPError:
            pass

    def wait(self, name: str, count: int = 1) -> list[tuple[str, str | None, Any]]:
        deadline = time.monotonic() + WAIT
        while True:
            found = [e for e in self.events if e[0] == name]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"no {name} event: {self.events}"
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.response.close()
        self.client.close()


@contextlib.contextmanager
def relay_stream(url: str, key: str, last: str | None = None) -> Iterator[Relay]:
    relay = Relay(url, key, last)
    try:
        yield relay
    finally:
        relay.close()


def test_a_relay_key_is_shown_once_stored_hashed_and_revoked(live, tmp_path):
    owner = signup(live.url, "owner@example.com")
    created = ok(owner.post(f"{base(owner)}/relay-keys", json={"name": "eu-1"}), 201)
    secret = created["key"]
    assert secret.startswith("ls_rly_") and created["prefix"] == secret[:14]
    listed = ok(owner.get(f"{base(owner)}/relay-keys"))["relay_keys"]
    assert listed == [{k: v for k, v in created.items() if k != "key"}]
    # The database and its write-ahead log, where the new row is until a checkpoint.
    database = b"".join(p.read_bytes() for p in (Path(tmp_path) / "data").glob("*.db*"))
    assert secret.encode() not in database
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in database

    ok(owner.delete(f"{base(owner)}/relay-keys/{created['id']}"), 204)
    assert ok(owner.get(f"{base(owner)}/relay-keys"))["relay_keys"][0]["revoked_at"]
    again = owner.delete(f"{base(owner)}/relay-keys/{created['id']}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    refused = httpx.get(
        f"{live.url}/relay/v1/stream", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    for wrong in ({}, {"Authorization": "Bearer ls_rly_nothing"}):
        assert httpx.get(f"{live.url}/relay/v1/stream", headers=wrong).status_code == 401


def test_the_relay_stream_sends_environments_then_changes_and_resumes(live):
    owner = signup(live.url, "owner@example.com")
    b = base(owner)
    ok(owner.post(f"{b}/flags", json={"key": "banner", "name": "Banner"}), 201)
    key = ok(owner.post(f"{b}/relay-keys", json={"name": "eu-1"}), 201)["key"]
    server_key = ok(
        owner.post(
            f"{b}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
        ),
        201,
    )["key"]

    with relay_stream(live.url, key) as relay:
        first_pass(owner, relay, key, server_key)
    production = next(
        e[2] for e in relay.events if e[0] == "env" and e[2]["owner"]["environment"] == "production"
    )
    last_id = relay.wait("keys")[-1][1]
    assert last_id is not None

    # Resuming from the last id: nothing to send but the hello and the end of the catch-up.
    with relay_stream(live.url, key, last_id) as resumed:
        resumed.wait("synced")
        assert [e[0] for e in resumed.events] == ["hello", "synced"], resumed.events

    # Resuming from before the toggle: production again, whole; staging not.
    with relay_stream(live.url, key, production_id(relay)) as older:
        older.wait("synced")
        sent = [e for e in older.events if e[0] in ("env", "keys")]
        assert [e[2]["env_id"] for e in sent] == [production["env_id"]], older.events


def first_pass(owner: ApiUser, relay: Relay, key: str, server_key: str) -> None:
    b = base(owner)
    hello = relay.wait("hello")[0][2]
    assert hello["relay_key"] == hashlib.sha256(key.encode()).hexdigest()
    envs = {e[2]["owner"]["environment"]: e[2] for e in relay.wait("env", 2)}
    assert set(envs) == {"production", "staging"}
    relay.wait("synced")
    production = envs["production"]
    snapshot = ok(owner.get(f"{b}/environments/production/snapshot"))
    assert production["snapshot"] == snapshot
    digests = {k["digest"] for k in production["keys"] if k["expires_at"] is None}
    assert hashlib.sha256(server_key.encode()).hexdigest() in digests

    # The core's dashboard lists the connected edge.
    page = owner.get(f"/o/{owner.org}/p/default/edges")
    assert "test-edge" in page.text and "up to date" in page.text

    ok(owner.patch(f"{b}/flags/banner/environments/production", json={"on": True}))
    changed = relay.wait("env", 3)[-1]
    assert changed[2]["owner"]["environment"] == "production"
    assert changed[2]["snapshot"]["flags"]["banner"]["on"] is True
    ok(
        owner.post(
            f"{b}/environments/production/sdk-keys", json={"kind": "client", "grace_seconds": 0}
        ),
        201,
    )
    relay.wait("keys")


def production_id(relay: Relay) -> str:
    """The id of the first catch-up event that names both environments."""
    return next(e[1] for e in relay.events if e[0] == "env" and e[1] and "-" in e[1])


def test_relay_keys_in_the_dashboard(live):
    owner = signup(live.url, "owner@example.com")
    page = owner.get(f"/o/{owner.org}/p/default/edges")
    assert page.status_code == 200 and "No edge is connected" in page.text
    fields = form_fields(page.text, "name")
    fields["name"] = "asia-1"
    created = owner.http.post(f"/o/{owner.org}/p/default/edges", data=fields, follow_redirects=True)
    assert created.status_code == 200, created.text  # followed the redirect to the page
    shown = created.text
    listed = ok(owner.get(f"{base(owner)}/relay-keys"))["relay_keys"]
    prefix = listed[0]["prefix"]
    assert "shown only this once" in shown and prefix in shown
    secret = shown.split('id="revealed-key">', 1)[1].split("<", 1)[0]
    assert secret.startswith(prefix)
    assert secret not in owner.get(f"/o/{owner.org}/p/default/edges").text  # once

    fields = form_fields(owner.get(f"/o/{owner.org}/p/default/edges").text, "key_id")
    revoked = owner.http.post(f"/o/{owner.org}/p/default/edges", data=fields, follow_redirects=True)
    assert "Revoked the relay key" in revoked.text
    answer = httpx.get(f"{live.url}/relay/v1/stream", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401
