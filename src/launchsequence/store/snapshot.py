"""The environment snapshot: the one document the engine compiles and SDKs download."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select

from .tables import environments, flag_configs, flags, projects, segments

__all__ = [
    "SCHEMA_VERSION",
    "build_snapshot",
    "flag_document",
    "segment_document",
    "snapshot_connection",
]

#: The snapshot format built here (spec/evaluation.md, section 1).
SCHEMA_VERSION = 2


def snapshot_connection(engine: Engine) -> Connection:
    """A connection whose reads all see one moment, for `build_snapshot`.

    PostgreSQL's default (READ COMMITTED) gives each statement the latest commit, so the
    version and the flags could come from two commits: REPEATABLE READ fixes the moment at
    the first read. A SQLite transaction already reads one moment.
    """
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def flag_document(flag: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """One flag as the snapshot holds it (`spec/schemas/snapshot.schema.json`)."""
    document = {
        "key": flag["key"],
        "type": flag["type"],
        "variations": flag["variations"],
        "salt": flag["salt"],
        "version": config["version"],
        "on": config["on"],
        "client_side": config["client_side"],
        "off_variation": config["off_variation"],
        "targets": config["targets"],
        "rules": config["rules"],
        "fallthrough": config["fallthrough"],
    }
    if config.get("prerequisites"):
        document["prerequisites"] = config["prerequisites"]
    if flag.get("metadata"):
        document["metadata"] = flag["metadata"]
    return document


def segment_document(segment: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": segment["key"],
        "version": segment["version"],
        "included": segment["included"],
        "excluded": segment["excluded"],
        "rules": segment["rules"],
    }


def build_snapshot(conn: Connection, environment_id: int) -> dict[str, Any] | None:
    """The snapshot of one environment, or None if it does not exist. Archived flags are left
    out: SDKs answer FLAG_NOT_FOUND for them, as for deleted ones.

    Read it on a `snapshot_connection` (or in a write transaction, which sees its own
    changes), so that the version and the flags always belong together.
    """
    head = conn.execute(
        select(environments.c.key, environments.c.version, projects.c.key.label("project"))
        .join(projects, projects.c.id == environments.c.project_id)
        .where(environments.c.id == environment_id)
    ).first()
    if head is None:
        return None
    rows = conn.execute(
        select(
            flags.c.key,
            flags.c.type,
            flags.c.variations,
            flags.c.salt,
            flags.c.metadata,
            flag_configs,
        )
        .join(flag_configs, flag_configs.c.flag_id == flags.c.id)
        .where(flag_configs.c.environment_id == environment_id, flags.c.archived.is_(False))
        .order_by(flags.c.key)
    ).mappings()
    flag_docs = {row["key"]: flag_document(dict(row), dict(row)) for row in rows}
    segment_rows = conn.execute(
        select(segments).where(segments.c.environment_id == environment_id).order_by(segments.c.key)
    ).mappings()
    return {
        "schema_version": SCHEMA_VERSION,
        "project": head.project,
        "environment": head.key,
        "version": head.version,
        "flags": flag_docs,
        "segments": {row["key"]: segment_document(dict(row)) for row in segment_rows},
    }
