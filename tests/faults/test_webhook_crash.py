"""`kill -9` of the server between the commit of a change and the delivery of its webhook.

The change commits with its event in the outbox; the sender's request is in flight, held
unanswered by the receiver, when the process dies. After a restart on the same store, the event
is delivered: nothing was lost, and the delivery shows one recorded, successful attempt.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.faults.support import ServerProcess
from tests.support.api import signup
from tests.support.receiver import Receiver

pytestmark = pytest.mark.slow


def test_an_event_committed_before_a_kill_is_delivered_after_the_restart(
    tmp_path: Path, database_url: str
) -> None:
    receiver = Receiver().start()
    server = ServerProcess(
        tmp_path,
        database_url,
        LAUNCHSEQ_WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true",
        LAUNCHSEQ_WEBHOOK_TIMEOUT_SECONDS="120",  # the held request never times out by itself
        LAUNCHSEQ_WEBHOOK_LEASE_SECONDS="3",
    ).start()
    try:
        alice = signup(server.url, "alice@example.com")
        org = f"/api/v1/orgs/{alice.org}"
        token = alice.post("/api/v1/tokens", json={"name": "crash"}).json()["token"]
        made = alice.post(f"{org}/webhooks", json={"url": receiver.url + "/k"})
        assert made.status_code == 201, made.text
        receiver.hang("/k")
        created = alice.post(f"{org}/projects/default/flags", json={"key": "survivor"})
        assert created.status_code == 201  # committed, with its event
        deadline = time.monotonic() + 20
        while receiver.hanging == 0:  # the sender's request is in flight
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        server.kill()
        receiver.hang("/k", on=False)
        assert receiver.received() == []

        server.start()
        got = receiver.wait_for(lambda r: len(r) >= 1, "/k", timeout=30)
        assert got[0].json["type"] == "flag.created"
        assert got[0].json["flag"] == "survivor"
        path = f"{org}/webhooks/{made.json()['id']}/deliveries"
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            for _ in range(200):
                [delivery] = client.get(path).json()["deliveries"]
                if delivery["status"] != "pending":
                    break
                time.sleep(0.05)
        assert delivery["status"] == "succeeded"
        assert delivery["attempts"] == 1  # the killed attempt was never recorded
    finally:
        server.kill()
        receiver.stop()
