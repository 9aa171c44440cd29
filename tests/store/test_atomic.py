"""The read-check-write patterns of store/atomic.py under real concurrency, on SQLite and on
PostgreSQL: threads with connections of their own, released together by a barrier.

They run on tables of their own, shaped as the services' would be (a guard row with a counter,
one-time links kept or deleted after use, a unique key), so that the next single-use token
(a password reset link, an e-mail confirmation) can rely on the same calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)

from launchsequence.config import Settings
from launchsequence.store.atomic import claim, insert_unless_taken, lock, take
from launchsequence.store.db import create_db_engine, writer

THREADS = 8
TRIALS = 10

scratch = MetaData()
guards = Table(
    "race_guards",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("counter", Integer, nullable=False),
)
links = Table(
    "race_links",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("used_at", BigInteger),
)
names = Table(
    "race_names",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
)
notes = Table(
    "race_notes",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("text", String(64), nullable=False),
)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(Settings(database_url=database_url).resolved_database_url)
    scratch.create_all(engine)
    yield engine
    engine.dispose()


def _together(work: Callable[[int], Any]) -> list[Any]:
    """`work(i)` in THREADS threads released at once; their results (or exceptions)."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # handed to the test's thread below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a transaction hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    return results


def test_a_locked_guard_row_makes_read_check_write_exact(db):
    """Each thread reads the counter after locking its row and writes it plus one: no
    increment is lost, as two transactions reading the same value would lose one."""
    with writer(db).begin() as conn:
        conn.execute(insert(guards).values(id=1, counter=0))

    def increment(_: int) -> None:
        with writer(db).begin() as conn:
            row = lock(conn, guards, guards.c.id == 1)
            assert row is not None
            time.sleep(0.01)  # the window in which an unlocked reader would read the same value
            conn.execute(update(guards).where(guards.c.id == 1).values(counter=row["counter"] + 1))

    for _ in range(TRIALS // 2):
        _together(increment)
    with db.connect() as conn:
        assert conn.execute(select(guards.c.counter)).scalar_one() == THREADS * (TRIALS // 2)
        assert lock(conn, guards, guards.c.id == 2) is None


@pytest.mark.parametrize("keep", [False, True], ids=["take", "claim"])
def test_a_single_use_row_is_used_once(db, keep):
    """Threads redeem the same one-time link at once: exactly one gets it, every other one
    gets None, whether the link is deleted (`take`) or marked used (`claim`)."""
    for trial in range(TRIALS):
        token = f"token-{trial}"
        with writer(db).begin() as conn:
            conn.execute(insert(links).values(token_hash=token))

        def redeem(i: int, token: str = token) -> dict[str, Any] | None:
            with writer(db).begin() as conn:
                if keep:
                    row = claim(
                        conn,
                        links,
                        links.c.token_hash == token,
                        links.c.used_at.is_(None),
                        values={"used_at": 1000 + i},
                    )
                else:
                    row = take(conn, links, links.c.token_hash == token)
                time.sleep(0.01)  # hold the transaction: the others must wait, then miss
                return row

        winners = [r for r in _together(redeem) if r is not None]
        assert len(winners) == 1, winners
        with db.connect() as conn:
            stored = conn.execute(select(links).where(links.c.token_hash == token)).first()
        if keep:
            assert stored is not None and stored.used_at == winners[0]["used_at"]
        else:
            assert stored is None


def test_a_rolled_back_take_gives_the_row_back(db):
    with writer(db).begin() as conn:
        conn.execute(insert(links).values(token_hash="back"))
    with pytest.raises(RuntimeError), writer(db).begin() as conn:
        assert take(conn, links, links.c.token_hash == "back") is not None
        raise RuntimeError("a check after taking it failed")
    with writer(db).begin() as conn:
        assert take(conn, links, links.c.token_hash == "back") is not None


def test_insert_unless_taken_lets_one_insert_win_and_every_transaction_go_on(db):
    """Threads insert the same unique key: one gets its row, the others None, and each one's
    transaction goes on to write and commit something else."""
    for trial in range(TRIALS // 2):
        key = f"key-{trial}"

        def create(i: int, key: str = key) -> Any:
            with writer(db).begin() as conn:
                row = insert_unless_taken(conn, insert(names).values(key=key).returning(names.c.id))
                conn.execute(insert(notes).values(text=f"{key}-{i}"))
                return row

        results = _together(create)
        assert len([r for r in results if r is not None]) == 1, results
        with db.connect() as conn:
            written = conn.execute(select(notes.c.text).where(notes.c.text.like(f"{key}-%")))
            assert len(written.all()) == THREADS
