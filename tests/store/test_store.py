"""The store on SQLite and on PostgreSQL: migrations, pragmas, cascades, versions, snapshots and
constraints. Each test runs once per database (the `database_url` fixture)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import launchsequence_engine as engine
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from launchsequence.config import Settings
from launchsequence.services import Actor, Passwords, Runtime, Services
from launchsequence.store import flags as flag_store
from launchsequence.store import migrate
from launchsequence.store import orgs as org_store
from launchsequence.store.db import create_db_engine, is_sqlite, writer
from launchsequence.store.snapshot import build_snapshot
from launchsequence.store.tables import (
    environments,
    flag_configs,
    flags,
    metadata,
    projects,
    sdk_keys,
    segments,
)
from tests.support.databases import sqlite_url


class CheapPasswords(Passwords):
    """Argon2id with the smallest cost: these tests are about the store, not about hashing."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        self._dummy = self._hasher.hash("not a password of anyone's")


def _engine(url: str) -> Engine:
    return create_db_engine(Settings(database_url=url).resolved_database_url)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """A migrated, empty database."""
    eng = _engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@dataclass
class World:
    """A user with organization `org` (project `default`: production, staging)."""

    services: Services
    actor: Actor
    org: str
    db: Engine

    def ids(self, project: str = "default") -> dict[str, Any]:
        with self.db.connect() as conn:
            project_id = conn.execute(
                select(projects.c.id).where(projects.c.key == project)
            ).scalar_one()
            envs = {
                row.key: row.id
                for row in conn.execute(
                    select(environments.c.key, environments.c.id).where(
                        environments.c.project_id == project_id
                    )
                )
            }
        return {"project": project_id, "environments": envs}


@pytest.fixture
def world(db: Engine, tmp_path: Path) -> World:
    settings = Settings(data_dir=str(tmp_path / "data"), secret_key="test-secret")
    services = Services.build(Runtime(db=db, settings=settings), CheapPasswords())
    actor = services.accounts.create_user(email="store@example.com", password="correct horse")
    org = services.orgs.list_orgs(actor)[0]["key"]
    return World(services, actor, org, db)


# --- migrations and engine settings ----------------------------------------------------------


def test_migrations_apply_to_an_empty_database_and_are_idempotent(database_url):
    eng = _engine(database_url)
    try:
        assert inspect(eng).get_table_names() == []
        assert not migrate.is_current(eng)
        migrate.upgrade(eng)
        assert migrate.is_current(eng)
        tables = set(inspect(eng).get_table_names())
        assert set(metadata.tables) <= tables
        assert "alembic_version" in tables
        migrate.upgrade(eng)  # nothing to do, and no error
        assert migrate.is_current(eng)
        assert set(inspect(eng).get_table_names()) == tables
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        eng.dispose()


def test_the_migrated_schema_matches_the_tables(db):
    """The migration and `tables.py` describe the same schema (autogenerate finds nothing)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(tmp_path):
    eng = _engine(sqlite_url(tmp_path))
    try:
        migrate.upgrade(eng)
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000
        # Every pooled connection gets the same setup, not just the first.
        with eng.connect() as a, eng.connect() as b:
            for conn in (a, b):
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert (tmp_path / "launchsequence.db-wal").exists()
    finally:
        eng.dispose()


def test_sqlite_writers_queue_instead_of_failing(tmp_path):
    """`writer(engine)` begins IMMEDIATE: a second writer waits for the first, then proceeds."""
    eng = _engine(sqlite_url(tmp_path))
    migrate.upgrade(eng)
    assert is_sqlite(eng)
    events: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait()
        with writer(eng).begin() as conn:
            events.append("second")
            conn.execute(
                text("INSERT INTO organizations (key, name, created_at) VALUES ('b', 'B', 0)")
            )

    thread = threading.Thread(target=second)
    thread.start()
    with writer(eng).begin() as conn:
        count = conn.execute(text("SELECT count(*) FROM organizations")).scalar_one()
        holding.set()
        time.sleep(0.3)  # the second writer is blocked on the write lock meanwhile
        events.append("first")
        conn.execute(
            text("INSERT INTO organizations (key, name, created_at) VALUES ('a', 'A', :n)"),
            {"n": count},
        )
    thread.join(timeout=15)
    assert events == ["first", "second"]
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM organizations")).scalar_one() == 2
    eng.dispose()


# --- cascades ----------------------------------------------------------------------------------


def _counts(conn: Any, project_id: int) -> dict[str, int]:
    env_ids = select(environments.c.id).where(environments.c.project_id == project_id)
    flag_ids = select(flags.c.id).where(flags.c.project_id == project_id)

    def count(query: Any) -> int:
        return int(conn.execute(query).scalar_one())

    return {
        "environments": count(select(func.count()).where(environments.c.project_id == project_id)),
        "flags": count(select(func.count()).where(flags.c.project_id == project_id)),
        "flag_configs": count(
            select(func.count()).where(
                flag_configs.c.flag_id.in_(flag_ids) | flag_configs.c.environment_id.in_(env_ids)
            )
        ),
        "sdk_keys": count(select(func.count()).where(sdk_keys.c.environment_id.in_(env_ids))),
        "segments": count(select(func.count()).where(segments.c.environment_id.in_(env_ids))),
    }


def test_deleting_a_project_cascades_to_everything_in_it(world):
    s, actor, org = world.services, world.actor, world.org
    s.orgs.create_project(actor, org, key="other", name="Other")
    for project in ("default", "other"):
        for key in ("a", "b"):
            s.flags.create_flag(actor, org, project, {"key": key})
        s.flags.write_segment(
            actor, org, project, "production", "beta", {"included": ["u1"]}, create=True
        )
    doomed = world.ids("default")["project"]
    doomed_envs = world.ids("default")["environments"]
    kept = world.ids("other")["project"]
    with world.db.connect() as conn:
        before = _counts(conn, doomed)
    assert before == {
        "environments": 2,
        "flags": 2,
        "flag_configs": 4,
        "sdk_keys": 2,  # a client key per environment; no server key nobody saw
        "segments": 1,
    }

    gone = s.orgs.delete_project(actor, org, "default")
    assert sorted(gone) == sorted(doomed_envs.values())

    with world.db.connect() as conn:
        assert _counts(conn, doomed) == dict.fromkeys(before, 0)
        # The other project is untouched (made through the API's create, which shows its new
        # server keys in its answer, so it has them).
        assert _counts(conn, kept) == {**before, "sdk_keys": 4}


def test_the_store_level_delete_cascades_without_the_services(world):
    """The cascade is the database's (ON DELETE CASCADE with foreign keys enforced)."""
    s, actor, org = world.services, world.actor, world.org
    s.flags.create_flag(actor, org, "default", {"key": "a"})
    s.flags.write_segment(actor, org, "default", "staging", "beta", {}, create=True)
    project_id = world.ids()["project"]
    with writer(world.db).begin() as conn:
        org_store.delete_project(conn, project_id)
    with world.db.connect() as conn:
        counts = _counts(conn, project_id)
        assert counts == dict.fromkeys(counts, 0)
        total = conn.execute(select(func.count()).select_from(flag_configs)).scalar_one()
        assert total == 0


# --- versions ----------------------------------------------------------------------------------


def test_update_config_with_a_stale_version_changes_nothing(world):
    s, actor, org = world.services, world.actor, world.org
    s.flags.create_flag(actor, org, "default", {"key": "checkout"})
    env_id = world.ids()["environments"]["production"]
    with world.db.connect() as conn:
        flag = flag_store.get_flag(conn, project_id=world.ids()["project"], key="checkout")
        assert flag is not None
        original = flag_store.get_config(conn, flag_id=flag["id"], environment_id=env_id)
    assert original is not None
    v = original["version"]

    with writer(world.db).begin() as conn:
        stale = flag_store.update_config(
            conn,
            flag_id=flag["id"],
            environment_id=env_id,
            values={"on": True},
            expected_version=v - 1,
            at=original["updated_at"] + 1000,
        )
        assert stale is None
        ahead = flag_store.update_config(
            conn,
            flag_id=flag["id"],
            environment_id=env_id,
            values={"on": True},
            expected_version=v + 1,
            at=original["updated_at"] + 1000,
        )
        assert ahead is None
    with world.db.connect() as conn:
        assert flag_store.get_config(conn, flag_id=flag["id"], environment_id=env_id) == original

    with writer(world.db).begin() as conn:
        fresh = flag_store.update_config(
            conn,
            flag_id=flag["id"],
            environment_id=env_id,
            values={"on": True},
            expected_version=v,
            at=original["updated_at"] + 1000,
        )
    assert fresh == v + 1
    with world.db.connect() as conn:
        now = flag_store.get_config(conn, flag_id=flag["id"], environment_id=env_id)
    assert now is not None
    assert now == {**original, "on": True, "version": v + 1, "updated_at": now["updated_at"]}
    assert now["updated_at"] == original["updated_at"] + 1000

    # Without an expected version the write is unconditional (and still counts).
    with writer(world.db).begin() as conn:
        forced = flag_store.update_config(
            conn,
            flag_id=flag["id"],
            environment_id=env_id,
            values={"on": False},
            expected_version=None,
            at=now["updated_at"],
        )
    assert forced == v + 2


def test_bump_environment_versions_adds_exactly_one(world):
    world.services.orgs.create_project(world.actor, world.org, key="other", name="Other")
    envs = world.ids()["environments"]
    other = world.ids("other")["environments"]
    with world.db.connect() as conn:
        start = dict(conn.execute(select(environments.c.id, environments.c.version)).all())

    with writer(world.db).begin() as conn:
        assert org_store.bump_environment_versions(conn, []) == {}
        bumped = org_store.bump_environment_versions(conn, list(envs.values()))
    assert bumped == {i: start[i] + 1 for i in envs.values()}
    with writer(world.db).begin() as conn:
        again = org_store.bump_environment_versions(conn, [envs["production"]])
    assert again == {envs["production"]: start[envs["production"]] + 2}

    with world.db.connect() as conn:
        after = dict(conn.execute(select(environments.c.id, environments.c.version)).all())
    assert after[envs["production"]] == start[envs["production"]] + 2
    assert after[envs["staging"]] == start[envs["staging"]] + 1
    for env_id in other.values():
        assert after[env_id] == start[env_id]


def test_every_service_write_bumps_the_environment_version_by_one(world):
    s, actor, org = world.services, world.actor, world.org
    env_id = world.ids()["environments"]["production"]

    def version() -> int:
        with world.db.connect() as conn:
            snapshot = build_snapshot(conn, env_id)
        assert snapshot is not None
        return int(snapshot["version"])

    v = version()
    s.flags.create_flag(actor, org, "default", {"key": "f"})
    assert version() == v + 1
    s.flags.write_config(
        actor, org, "default", "f", "production", {"on": True}, if_match=None, replace=False
    )
    assert version() == v + 2
    # A write that changes nothing does not count.
    s.flags.write_config(
        actor, org, "default", "f", "production", {"on": True}, if_match=None, replace=False
    )
    assert version() == v + 2
    s.flags.write_config(
        actor, org, "default", "f", "staging", {"on": True}, if_match=None, replace=False
    )
    assert version() == v + 2


# --- snapshots ---------------------------------------------------------------------------------


def test_build_snapshot_orders_flags_leaves_out_archived_and_compiles(world):
    s, actor, org = world.services, world.actor, world.org
    for key in ("zeta", "alpha", "m.mid", "beta-2", "0-first", "archived-one"):
        s.flags.create_flag(actor, org, "default", {"key": key, "tags": ["t"]})
    s.flags.create_flag(
        actor,
        org,
        "default",
        {
            "key": "plan",
            "type": "string",
            "variations": [{"value": "free"}, {"value": "pro", "name": "Pro"}],
        },
    )
    s.flags.update_flag(actor, org, "default", "archived-one", {"archived": True})
    s.flags.write_segment(
        actor,
        org,
        "default",
        "production",
        "staff",
        {
            "included": ["boss"],
            "rules": [
                {"clauses": [{"attribute": "email", "op": "ends_with", "values": ["@corp.com"]}]}
            ],
        },
        create=True,
    )
    s.flags.write_config(
        actor,
        org,
        "default",
        "alpha",
        "production",
        {
            "on": True,
            "targets": [{"variation": 0, "values": ["u1"]}],
            "rules": [
                {
                    "id": "staff",
                    "clauses": [{"attribute": "key", "op": "segment_match", "values": ["staff"]}],
                    "serve": {"variation": 0},
                }
            ],
            "fallthrough": {
                "rollout": {
                    "bucket_by": "key",
                    "weights": [
                        {"variation": 0, "weight": 30000},
                        {"variation": 1, "weight": 70000},
                    ],
                }
            },
        },
        if_match=None,
        replace=False,
    )
    ids = world.ids()
    with world.db.connect() as conn:
        snapshot = build_snapshot(conn, ids["environments"]["production"])
        staging = build_snapshot(conn, ids["environments"]["staging"])
        assert build_snapshot(conn, 999_999) is None
    assert snapshot is not None and staging is not None

    expected = sorted(["zeta", "alpha", "m.mid", "beta-2", "0-first", "plan"])
    assert list(snapshot["flags"]) == expected
    assert list(staging["flags"]) == expected
    assert "archived-one" not in snapshot["flags"]
    assert snapshot["project"] == "default"
    assert snapshot["environment"] == "production"
    assert snapshot["schema_version"] == 2
    assert list(snapshot["segments"]) == ["staff"]
    assert staging["segments"] == {}
    assert snapshot["flags"]["alpha"]["on"] is True
    assert snapshot["flags"]["alpha"]["version"] == 2
    assert staging["flags"]["alpha"]["on"] is False

    compiled = engine.compile(snapshot, strict=True)
    engine.compile(staging, strict=True)
    assert compiled is not None
    assert set(compiled.flags) == set(expected)
    assert compiled.version == snapshot["version"]
    result = engine.evaluate(compiled, "alpha", {"key": "boss"})
    assert result.value is True
    assert result.reason == "TARGETING_MATCH"
    off = engine.evaluate(compiled, "zeta", {"key": "boss"})
    assert off.reason == "DISABLED"
    missing = engine.evaluate(compiled, "archived-one", {"key": "boss"})
    assert missing.reason == "ERROR"


# --- constraints -------------------------------------------------------------------------------


def _flag_row(project_id: int, key: str) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "key": key,
        "name": key,
        "description": "",
        "tags": [],
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "salt": "00",
        "defaults": {"on_variation": 0, "off_variation": 1},
        "archived": False,
        "created_at": 0,
        "updated_at": 0,
    }


def test_unique_constraints_raise_integrity_error(world):
    world.services.orgs.create_project(world.actor, world.org, key="other", name="Other")
    project_id = world.ids()["project"]
    other_id = world.ids("other")["project"]
    with writer(world.db).begin() as conn:
        flag_store.create_flag(conn, _flag_row(project_id, "dup"))
        flag_store.create_flag(conn, _flag_row(other_id, "dup"))  # another project: fine
    with pytest.raises(IntegrityError), writer(world.db).begin() as conn:
        flag_store.create_flag(conn, _flag_row(project_id, "dup"))
    with world.db.connect() as conn:
        count = conn.execute(
            select(func.count()).where(flags.c.key == "dup", flags.c.project_id == project_id)
        ).scalar_one()
    assert count == 1
    # The same holds for environments and projects.
    with pytest.raises(IntegrityError), writer(world.db).begin() as conn:
        org_store.create_environment(
            conn, project_id=project_id, key="production", name="Again", at=0
        )
    with pytest.raises(IntegrityError), writer(world.db).begin() as conn:
        org_id = conn.execute(
            select(projects.c.org_id).where(projects.c.id == project_id)
        ).scalar_one()
        org_store.create_project(conn, org_id=org_id, key="other", name="Again", at=0)


def test_a_config_for_a_missing_flag_is_refused(world):
    """Foreign keys are enforced on both databases."""
    env_id = world.ids()["environments"]["production"]
    with pytest.raises(IntegrityError), writer(world.db).begin() as conn:
        flag_store.create_config(
            conn,
            {
                "flag_id": 999_999,
                "environment_id": env_id,
                "on": False,
                "off_variation": 1,
                "targets": [],
                "rules": [],
                "fallthrough": {"variation": 0},
                "client_side": False,
                "version": 1,
                "updated_at": 0,
            },
        )


def test_the_flag_list_shows_each_environments_state(world):
    """The list reads every configuration's state in one query (no JSON columns)."""
    s, actor, org = world.services, world.actor, world.org
    s.orgs.create_project(world.actor, world.org, key="other", name="Other")
    s.flags.create_flag(actor, org, "other", {"key": "elsewhere"})
    for key, tags in (("b-flag", ["web"]), ("a-flag", []), ("c-flag", ["web", "ios"])):
        s.flags.create_flag(actor, org, "default", {"key": key, "tags": tags})
    s.flags.write_config(
        actor, org, "default", "b-flag", "production", {"on": True}, if_match=1, replace=False
    )
    s.flags.update_flag(actor, org, "default", "c-flag", {"archived": True})

    listed = s.flags.list_flags(actor, org, "default")
    assert [f["key"] for f in listed] == ["a-flag", "b-flag"]
    by_key = {f["key"]: f for f in listed}
    assert list(by_key["b-flag"]["environments"]) == ["production", "staging"]
    assert by_key["b-flag"]["environments"] == {
        "production": {"on": True, "version": 2, "client_side": False},
        "staging": {"on": False, "version": 1, "client_side": False},
    }
    assert by_key["a-flag"]["environments"]["production"]["on"] is False
    # The list agrees with the one-flag view, and adds when anything of the flag last changed.
    for flag in listed:
        changed_at = flag.pop("changed_at")
        assert flag == s.flags.get_flag(actor, org, "default", flag["key"])
        assert changed_at >= flag["updated_at"]

    everything = s.flags.list_flags(actor, org, "default", archived=None)
    assert [f["key"] for f in everything] == ["a-flag", "b-flag", "c-flag"]
    web = s.flags.list_flags(actor, org, "default", archived=None, tag="web")
    assert [f["key"] for f in web] == ["b-flag", "c-flag"]
    assert [f["key"] for f in s.flags.list_flags(actor, org, "default", search="B-FL")] == [
        "b-flag"
    ]
    with world.db.connect() as conn:
        states = flag_store.list_config_states(conn, world.ids()["project"])
    assert len(states) == 3 * 2
    assert {env for _, env, *_ in states} == {"production", "staging"}
