"""Usage rows on SQLite and PostgreSQL: intervals add up, compaction folds hours into days
without changing a sum, pruning keeps the retention, one holder at a time has the upkeep
lease, and the reads answer what was written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, insert, select

from launchsequence.store import leases, migrate
from launchsequence.store import usage as store
from launchsequence.store.db import create_db_engine, writer
from launchsequence.store.tables import environments, organizations, projects, usage_hourly

DAY, HOUR = store.DAY_MS, store.HOUR_MS
T0 = 1_700_000_000_000 // DAY * DAY  # a UTC midnight


@pytest.fixture
def db(database_url: str) -> Iterator[tuple[Engine, int]]:
    engine = create_db_engine(database_url)
    migrate.upgrade(engine)
    with writer(engine).begin() as conn:
        org = conn.execute(insert(organizations).values(key="o", name="o", created_at=0))
        project = conn.execute(insert(projects).values(
            org_id=org.inserted_primary_key[0], key="p", name="p", created_at=0))  # fmt: skip
        env = conn.execute(insert(environments).values(
            project_id=project.inserted_primary_key[0], key="e", name="e", version=1,
            created_at=0))  # fmt: skip
    yield engine, int(env.inserted_primary_key[0])
    engine.dispose()


def write(engine: Engine, bucket: int, counts: dict, apps: dict | None = None) -> None:
    with writer(engine).begin() as conn:
        store.write_interval(conn, bucket, counts, apps or {})


def totals(engine: Engine, env_id: int, flag: str) -> dict[tuple[int, int], int]:
    """{(variation, bucket size): count} over everything kept."""
    with engine.connect() as conn:
        rows = store.counts(conn, [env_id], flag, 0, 2**62)
    out: dict[tuple[int, int], int] = {}
    for _env, variation, _app, _bucket, size, n in rows:
        out[(variation, size)] = out.get((variation, size), 0) + n
    return out


def test_intervals_of_one_hour_add_up(db):
    engine, env = db
    write(engine, T0, {(env, "f", 0, "a"): 5, (env, "f", -1, ""): 1})
    write(engine, T0, {(env, "f", 0, "a"): 7})
    write(engine, T0 + HOUR, {(env, "f", 0, "a"): 1})
    assert totals(engine, env, "f") == {(0, HOUR): 13, (-1, HOUR): 1}
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(usage_hourly)).scalar_one()
        assert rows == 3
        assert store.last_evaluated(conn, [env]) == {(env, "f"): T0 + 2 * HOUR - 1}


def test_compaction_folds_hours_into_days_and_pruning_keeps_the_retention(db):
    engine, env = db
    for day in range(3):
        for hour in (1, 5, 23):
            write(engine, T0 + day * DAY + hour * HOUR, {(env, "f", 1, "a"): 10})
    with writer(engine).begin() as conn:
        assert store.compact(conn, T0 + 2 * DAY) == 6  # days 0 and 1; day 2 stays hourly
    assert totals(engine, env, "f") == {(1, DAY): 60, (1, HOUR): 30}
    write(engine, T0 + 1 * HOUR, {(env, "f", 1, "a"): 5})  # late counts of a compacted day
    with writer(engine).begin() as conn:
        store.compact(conn, T0 + 2 * DAY)
    assert totals(engine, env, "f") == {(1, DAY): 65, (1, HOUR): 30}
    with engine.connect() as conn:
        assert store.last_evaluated(conn, [env]) == {(env, "f"): T0 + 2 * DAY + 24 * HOUR - 1}
    with writer(engine).begin() as conn:
        assert store.prune(conn, T0 + DAY) == 1  # day 0 is past the retention
    assert totals(engine, env, "f") == {(1, DAY): 30, (1, HOUR): 30}


def test_applications_keep_the_latest_sighting(db):
    engine, env = db
    write(engine, T0, {}, {(env, "web", "js", "1.0"): (T0 + 5, 2)})
    write(engine, T0, {}, {(env, "web", "js", "1.0"): (T0 + 3, 1)})  # an older report
    with engine.connect() as conn:
        [app] = store.applications(conn, [env], T0)
    assert (app["last_seen"], app["first_seen"], app["instance_count"]) == (T0 + 5, T0 + 5, 1)


def test_one_holder_at_a_time_has_the_lease(db):
    engine, _ = db
    with writer(engine).begin() as conn:
        assert leases.acquire(conn, "upkeep", "a", now=0, ttl_ms=100)
    with writer(engine).begin() as conn:
        assert not leases.acquire(conn, "upkeep", "b", now=50, ttl_ms=100)
        assert leases.acquire(conn, "upkeep", "a", now=60, ttl_ms=100)  # renewed
    with writer(engine).begin() as conn:
        assert leases.acquire(conn, "upkeep", "b", now=160, ttl_ms=100)  # a lapsed
        assert not leases.acquire(conn, "upkeep", "a", now=170, ttl_ms=100)
