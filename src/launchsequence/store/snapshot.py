"""The environment snapshot: the one document the engine compiles and SDKs download."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select

from .tables import environments, flag_configs, flags, projects, segments

__all__ = [
    "SCHEMA_VERSION",
    "SET_ASIDE",
    "build_snapshot",
    "flag_document",
    "segment_document",
    "servable",
    "snapshot_connection",
]

#: The snapshot format built here (spec/evaluation.md, section 1).
SCHEMA_VERSION = 2
#: The field that marks a flag or segment the server could not serve (`servable`).
SET_ASIDE = "set_aside"


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


def build_snapshot(
    conn: Connection, environment_id: int, *, only: str | None = None
) -> dict[str, Any] | None:
    """The snapshot of one environment, or None if it does not exist. Archived flags are left
    out: SDKs answer FLAG_NOT_FOUND for them, as for deleted ones. With `only`, the flags are
    that one (if served) alone; the segments are all there. Flags and segments that cannot be
    written as JSON are set aside (`servable`).

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
    query = (
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
    )
    if only is not None:
        query = query.where(flags.c.key == only)
    rows = conn.execute(query).mappings()
    flag_docs = {row["key"]: flag_document(dict(row), dict(row)) for row in rows}
    segment_rows = conn.execute(
        select(segments).where(segments.c.environment_id == environment_id).order_by(segments.c.key)
    ).mappings()
    return servable(
        {
            "schema_version": SCHEMA_VERSION,
            "project": head.project,
            "environment": head.key,
            "version": head.version,
            "flags": flag_docs,
            "segments": {row["key"]: segment_document(dict(row)) for row in segment_rows},
        }
    )


def servable(document: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with every flag or segment that cannot be written as JSON set aside, so
    that one bad row never stops an environment's other flags.

    Nothing the API accepts is refused here (`services/values.py` bounds every write); this is
    for rows that got in some other way. A flag set aside becomes `{"key", "version",
    "client_side", "set_aside": why}`, which every engine sets aside in turn (it evaluates to
    ERROR / PARSE_ERROR); a segment likewise, and so does every segment and flag that uses it.
    """
    try:
        orjson.dumps(document)
        return document  # the usual case: one encoding, nothing to set aside
    except (TypeError, ValueError):
        pass
    segs: dict[str, Any] = dict(document["segments"])
    bad: dict[str, str] = {}
    for key, seg in segs.items():
        why = _unwritable(seg)
        if why is not None:
            bad[key] = why
    grew = True
    while grew:  # a segment that uses a segment set aside is set aside too
        grew = False
        for key, seg in segs.items():
            used = None if key in bad else next((k for k in _segments_used(seg) if k in bad), None)
            if used is not None:
                bad[key] = f"it uses segment {used!r}, which was set aside"
                grew = True
    for key, why in bad.items():
        segs[key] = {"key": key, "version": segs[key].get("version"), SET_ASIDE: why}
    flag_docs: dict[str, Any] = {}
    for key, doc in document["flags"].items():
        why = _unwritable(doc)
        uses = next((k for k in _segments_used(doc) if k in bad), None)
        if why is None and uses is not None:
            why = f"it uses segment {uses!r}, which was set aside: {bad[uses]}"
        flag_docs[key] = doc if why is None else _stub(key, doc, why)
    return {**document, "flags": flag_docs, "segments": segs}


def _unwritable(doc: Any) -> str | None:
    """Why `doc` cannot be written as JSON, or None."""
    try:
        orjson.dumps(doc)
    except (TypeError, ValueError) as exc:
        if "ecursion" in str(exc):
            return "a value in it nests too deep to be written as JSON"
        return f"it cannot be written as JSON: {exc}"
    return None


def _stub(key: str, doc: dict[str, Any], why: str) -> dict[str, Any]:
    client_side = doc.get("client_side")
    return {
        "key": key,
        "version": doc.get("version"),
        "client_side": client_side if type(client_side) is bool else False,
        SET_ASIDE: why,
    }


def _segments_used(doc: Any) -> Iterator[str]:
    """The segment keys a flag's or segment's rules name (tolerant of any shape)."""
    rules = doc.get("rules") if isinstance(doc, dict) else None
    for rule in rules if isinstance(rules, list) else ():
        clauses = rule.get("clauses") if isinstance(rule, dict) else None
        for clause in clauses if isinstance(clauses, list) else ():
            if isinstance(clause, dict) and clause.get("op") == "segment_match":
                values = clause.get("values")
                if isinstance(values, list):
                    yield from (v for v in values if type(v) is str)
