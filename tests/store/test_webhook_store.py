"""The sender's lease and queue, on SQLite and on PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert

from launchsequence.store import leases, migrate
from launchsequence.store import webhooks as store
from launchsequence.store.db import create_db_engine, writer
from launchsequence.store.tables import organizations, webhooks


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def acquire(db: Engine, holder: str, now: int, ttl: int = 1000) -> bool:
    with writer(db).begin() as conn:
        return leases.acquire(conn, "test", holder, now=now, ttl_ms=ttl)


def test_one_holder_at_a_time_until_it_expires(db: Engine) -> None:
    assert acquire(db, "a", 0)
    assert not acquire(db, "b", 500)
    assert acquire(db, "a", 600)  # renewed: held until 1600
    assert not acquire(db, "b", 1599)
    assert acquire(db, "b", 1600)  # expired: taken over
    assert not acquire(db, "a", 1700)
    with writer(db).begin() as conn:
        leases.release(conn, "test", "b")
    assert acquire(db, "a", 1701)


def test_of_racing_instances_exactly_one_takes_the_lease(db: Engine) -> None:
    winners: list[str] = []
    start = threading.Barrier(8)

    def race(name: str) -> None:
        start.wait(timeout=10)
        if acquire(db, name, 10_000):
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"i{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(winners) == 1


def test_only_the_oldest_pending_delivery_per_flag_is_due(db: Engine) -> None:
    with writer(db).begin() as conn:
        org = conn.execute(
            insert(organizations).values(key="o", name="O", created_at=0)
        ).inserted_primary_key[0]
        hook = conn.execute(
            insert(webhooks).values(
                org_id=org, url="http://x", description="", secret="s", secret_prefix="s",
                events=["*"], format="json", enabled=True, created_at=0, updated_at=0,
            )
        ).inserted_primary_key[0]  # fmt: skip
        ids = {}
        for name, key in (("a1", "flag:a"), ("b1", "flag:b"), ("a2", "flag:a"), ("b2", "flag:b")):
            event = store.write_event(
                conn,
                {"uid": name, "org_id": org, "type": "flag.changed", "order_key": key,
                 "body": {}, "created_at": 0},
            )  # fmt: skip
            ids[name] = store.add_delivery(
                conn, webhook_id=hook, event_id=event, order_key=key, now=0
            )
    with db.connect() as conn:
        assert [d["id"] for d in store.due_heads(conn, now=0, limit=10)] == [ids["a1"], ids["b1"]]
    with writer(db).begin() as conn:
        # a1 fails and waits; b1 succeeds: b2 is due, a2 still waits behind a1.
        assert store.finish_attempt(conn, ids["a1"], attempt=1, values={"next_attempt_at": 50})
        assert store.finish_attempt(conn, ids["b1"], attempt=1, values={"status": "succeeded"})
        # A second recording of the same attempt (another sender) changes nothing.
        assert not store.finish_attempt(conn, ids["b1"], attempt=1, values={"status": "failed"})
    with db.connect() as conn:
        assert [d["id"] for d in store.due_heads(conn, now=10, limit=10)] == [ids["b2"]]
        assert [d["id"] for d in store.due_heads(conn, now=50, limit=10)] == [
            ids["a1"],
            ids["b2"],
        ]
