"""Flag metadata and prerequisites: the checks a write must pass, and who depends on whom.

Prerequisites name flags of the same project, checked in the environment being written: each
must exist and not be archived, have the named variation, and close no cycle. The cycle check
is the engine's own (the same one every snapshot compilation runs), over the environment's
graph of prerequisites with this configuration in place; its error names the cycle.
"""

from __future__ import annotations

import math
from typing import Any

import launchsequence_engine as engine
from sqlalchemy import Connection

from ..store import flags as store
from .errors import Invalid

__all__ = [
    "MAX_METADATA_ENTRIES",
    "MAX_METADATA_KEY",
    "MAX_METADATA_STRING",
    "check_metadata",
    "check_prerequisites",
    "dependents",
]

#: Explicit bounds, the same as the engine's (spec/evaluation.md, section 1).
MAX_METADATA_ENTRIES = 32
MAX_METADATA_KEY = 64
MAX_METADATA_STRING = 1_000


def check_metadata(value: Any) -> dict[str, Any]:
    """Flag metadata: at most 32 entries, names of 1 to 64 characters, values booleans, finite
    numbers or strings of at most 1,000 characters. Raises Invalid naming the entry."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("must be an object", field="metadata")
    if len(value) > MAX_METADATA_ENTRIES:
        raise Invalid(f"may hold at most {MAX_METADATA_ENTRIES} entries", field="metadata")
    for name, item in value.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_METADATA_KEY:
            raise Invalid(f"entry names have 1 to {MAX_METADATA_KEY} characters", field="metadata")
        fits = (
            isinstance(item, bool)
            or (isinstance(item, int) and abs(item) < 2**53)
            or (isinstance(item, float) and math.isfinite(item))
            or (isinstance(item, str) and len(item) <= MAX_METADATA_STRING)
        )
        if not fits:
            raise Invalid(
                "must be a boolean, a finite number or a string of at most "
                f"{MAX_METADATA_STRING} characters",
                field=f"metadata.{name}",
            )
    return dict(value)


def check_prerequisites(
    conn: Connection, project_id: int, env_id: int, flag: dict[str, Any], prerequisites: Any
) -> None:
    """Raise Invalid (code `prerequisite_cycle` for a cycle, naming it) unless every
    prerequisite names a live flag of the project with that variation, and none closes a cycle
    in this environment."""
    if not prerequisites:
        return
    live = {f["key"]: f for f in store.list_flags(conn, project_id=project_id, archived=False)}
    for i, entry in enumerate(prerequisites):
        other = live.get(entry.get("flag")) if isinstance(entry, dict) else None
        if other is None:
            raise Invalid(
                "names no flag of this project (or an archived one)",
                field=f"prerequisites[{i}].flag",
            )
    graph = {
        c["flag_id"]: c.get("prerequisites") or []
        for c in store.list_configs_for_environment(conn, env_id)
    }
    # The flag being written first, so that a cycle is reported from it.
    documents = {flag["key"]: _stub(flag, prerequisites)}
    for key, other in live.items():
        if key != flag["key"] and other["id"] in graph:
            documents[key] = _stub(other, graph[other["id"]])
    try:
        engine.compile({"schema_version": 2, "flags": documents, "segments": {}})
    except engine.SnapshotError as exc:
        code = "prerequisite_cycle" if "cycle" in exc.problem else None
        if exc.flag == flag["key"] and exc.path.startswith("prerequisites"):
            raise Invalid(exc.problem, field=exc.path, code=code) from None
        at = _cycle_through(flag["key"], prerequisites, exc.problem) if code else None
        if at is not None:
            raise Invalid(at[1], field=f"prerequisites[{at[0]}].flag", code=code) from None
        raise Invalid(str(exc), field="prerequisites", code=code) from None


def _cycle_through(key: str, prerequisites: list[Any], problem: str) -> tuple[int, str] | None:
    """A cycle the engine reported at another flag, told from flag `key`: the index of `key`'s
    prerequisite that leads into it, and the cycle starting at `key`; None if it misses `key`.
    (The stored graph has no cycle, so a new one runs through the flag being written.)"""
    _, _, path = problem.partition("closes a cycle: ")
    nodes = path.split(" -> ")[:-1]
    if key not in nodes:
        return None
    start = nodes.index(key)
    cycle = [*nodes[start:], *nodes[:start], key]
    for i, entry in enumerate(prerequisites):
        if isinstance(entry, dict) and entry.get("flag") == cycle[1]:
            return i, f"closes a cycle: {' -> '.join(cycle)}"
    return None


def _stub(flag: dict[str, Any], prerequisites: Any) -> dict[str, Any]:
    """Just enough of a flag for the engine to check its prerequisites."""
    return {
        "type": flag["type"],
        "variations": flag["variations"],
        "on": True,
        "off_variation": None,
        "fallthrough": None,
        "prerequisites": prerequisites or [],
    }


def dependents(
    conn: Connection, project_id: int, key: str, *, served_only: bool = False
) -> dict[str, list[str]]:
    """The flags whose configuration requires flag `key`: {environment key: [flag key, ...]},
    flag keys in order, environments with none left out. With `served_only`, archived flags
    (served nowhere, so nothing of theirs can fail) are left out too."""
    archived = False if served_only else None
    names = {
        f["id"]: f["key"] for f in store.list_flags(conn, project_id=project_id, archived=archived)
    }
    out: dict[str, list[str]] = {}
    for config in store.list_configs_for_project(conn, project_id):
        if config["flag_id"] not in names:
            continue
        if any(p.get("flag") == key for p in config.get("prerequisites") or []):
            out.setdefault(config["environment_key"], []).append(names[config["flag_id"]])
    return {env: sorted(keys) for env, keys in out.items()}
