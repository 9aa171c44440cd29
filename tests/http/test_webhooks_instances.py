"""Two instances on one PostgreSQL database: one sender between them, each event sent once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import signup
from tests.support.databases import postgres_database
from tests.support.live import LiveServer
from tests.support.receiver import Receiver


def test_two_instances_deliver_each_event_once_and_one_takes_over(
    make_settings: Callable[..., Settings],
) -> None:
    receiver = Receiver().start()
    with postgres_database() as url:
        settings: dict[str, Any] = {
            "database_url": url,
            "webhook_allow_private_addresses": "true",
            "webhook_lease_seconds": 3,
        }
        one = LiveServer(create_app(make_settings(**settings))).start()
        two = LiveServer(create_app(make_settings(**settings))).start()
        try:
            alice = signup(one.url, "alice@example.com")
            org = f"/api/v1/orgs/{alice.org}"
            made = alice.post(f"{org}/webhooks", json={"url": receiver.url + "/m"})
            assert made.status_code == 201, made.text
            # Changes through both instances, alternating.
            for i in range(20):
                alice.http.base_url = (one if i % 2 else two).url
                created = alice.post(f"{org}/projects/default/flags", json={"key": f"m{i}"})
                assert created.status_code == 201, created.text
            got = receiver.wait_for(lambda r: len(r) >= 20, "/m")
            time.sleep(3)  # several more rounds of both senders: nothing is sent twice
            ids = Counter(r.json["id"] for r in receiver.received("/m"))
            assert len(ids) == 20 and set(ids.values()) == {1}, ids
            assert sorted(r.json["flag"] for r in got) == sorted(f"m{i}" for i in range(20))

            # The instance holding the lease stops; the other sends from then on.
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.connect() as conn:
                holder = conn.execute(text("SELECT holder FROM leases")).scalar_one()
            engine.dispose()
            senders = {one: one.app.state.webhook_sender, two: two.app.state.webhook_sender}
            [holding] = [s for s, sender in senders.items() if sender.holder == holder]
            other = two if holding is one else one
            holding.stop()
            alice.http.base_url = other.url
            created = alice.post(f"{org}/projects/default/flags", json={"key": "after"})
            assert created.status_code == 201
            receiver.wait_for(lambda r: any(x.json["flag"] == "after" for x in r), "/m")
            assert len(receiver.received("/m")) == 21
        finally:
            one.stop()
            two.stop()
            receiver.stop()
