"""A snapshot compiled once into flags that evaluate from memory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .codegen import GeneratedRun
from .errors import SnapshotError, shown
from .flags import CompiledFlag, compile_flag
from .prerequisites import link_prerequisites
from .segments import SegmentTable
from .sharing import ClauseTable

__all__ = ["READS_SCHEMA_VERSIONS", "SCHEMA_VERSION", "SET_ASIDE", "CompiledSnapshot", "compile"]

#: The snapshot format this engine writes about (`schema_version` in the document).
SCHEMA_VERSION: Final = 2
#: The formats it reads: version 2 adds prerequisites, metadata and unset off variations and
#: fallthroughs to version 1, which it reads unchanged.
READS_SCHEMA_VERSIONS: Final = (1, 2)
#: Marks a flag the server could not serve; its value says why (spec/evaluation.md, section 1).
SET_ASIDE: Final = "set_aside"

#: `evaluate_all`'s steps: (flag key, its `run`, which of the call's slot lists it takes).
Plan = tuple[tuple[str, GeneratedRun, int], ...]


@dataclass(frozen=True, slots=True)
class CompiledSnapshot:
    """An environment's flags, compiled. Immutable: a new snapshot is compiled for each change.

    `broken` holds, when compiled with `strict=False`, the flags that did not compile and why;
    evaluating one answers ERROR with PARSE_ERROR.
    """

    version: int
    environment: str | None
    project: str | None
    flags: Mapping[str, CompiledFlag]
    broken: Mapping[str, SnapshotError] = field(default_factory=dict)
    # Derived from `flags` when constructed, for `evaluate_all`: every flag, the client-side
    # ones, and the length of each slot list (one per ClauseTable among the flags).
    plan: Plan = field(init=False, repr=False, compare=False)
    client_side_plan: Plan = field(init=False, repr=False, compare=False)
    slot_counts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tables: dict[ClauseTable, int] = {}
        steps: list[tuple[str, GeneratedRun, int]] = []
        client_side: list[tuple[str, GeneratedRun, int]] = []
        for key, flag in self.flags.items():
            shared = flag.shared
            if shared is not None and shared.run is flag.run:
                step = (key, shared.run, tables.setdefault(shared.table, len(tables)))
            else:  # a flag built by hand, or rebuilt with another `run`: call that one
                step = (key, _without_slots(flag.run), 0)
            steps.append(step)
            if flag.client_side:
                client_side.append(step)
        object.__setattr__(self, "plan", tuple(steps))
        object.__setattr__(self, "client_side_plan", tuple(client_side))
        object.__setattr__(self, "slot_counts", tuple(t.size for t in tables) or (0,))


def compile(snapshot: Any, *, strict: bool = True) -> CompiledSnapshot:  # noqa: A001
    """Compile a parsed snapshot document (`spec/schemas/snapshot.schema.json`).

    Strict (the default, what the server uses before storing anything): any invalid flag or
    segment raises SnapshotError naming the flag or segment, the rule and the field. Lenient
    (what SDKs use, so one flag written by a newer server cannot take down the others): invalid
    flags are kept aside in `broken` and evaluate to PARSE_ERROR. A document that is not a
    snapshot at all raises in both modes.
    """
    if not isinstance(snapshot, Mapping):
        raise SnapshotError("a snapshot must be a JSON object")
    schema = snapshot.get("schema_version", 1)
    if type(schema) is not int or schema not in READS_SCHEMA_VERSIONS:
        raise SnapshotError(
            f"schema_version {shown(schema)} is not one this engine reads (1 or 2)",
            path="schema_version",
        )
    version = snapshot.get("version", 0)
    if type(version) is not int or version < 0:
        raise SnapshotError("must be a non-negative integer", path="version")
    environment = _optional_str(snapshot, "environment")
    project = _optional_str(snapshot, "project")
    raw_flags = snapshot.get("flags", {})
    raw_segments = snapshot.get("segments", {})
    if not isinstance(raw_flags, Mapping):
        raise SnapshotError("must be an object of flags by key", path="flags")
    if not isinstance(raw_segments, Mapping):
        raise SnapshotError("must be an object of segments by key", path="segments")

    segments = SegmentTable(raw_segments)
    table = ClauseTable()
    table.count(raw_flags)
    if strict:
        for key in raw_segments:
            segments.matcher(key)  # reports a broken segment even when no flag uses it

    flags: dict[str, CompiledFlag] = {}
    broken: dict[str, SnapshotError] = {}
    for key, raw in raw_flags.items():
        try:
            flags[key] = _compile_one(key, raw, segments, table)
        except SnapshotError as exc:
            if strict:
                raise
            broken[key] = exc
    link_prerequisites(flags, broken, table, strict=strict)
    table.finish()
    return CompiledSnapshot(version, environment, project, flags, broken)


def _compile_one(key: str, raw: Any, segments: SegmentTable, table: ClauseTable) -> CompiledFlag:
    """One flag, or SnapshotError: also for a flag the server set aside (`set_aside` names
    why), and for any other failure while compiling it, so that one flag never takes down the
    others (a stack exhausted by a pathological document, a fault of the engine itself)."""
    if isinstance(raw, Mapping) and SET_ASIDE in raw:
        why = raw[SET_ASIDE]
        raise SnapshotError(
            f"set aside by the server: {why if type(why) is str else shown(why)}", flag=key
        )
    try:
        return compile_flag(key, raw, segments.matcher, table)
    except SnapshotError:
        raise
    except Exception as exc:  # reported as this flag's fault, as above
        problem = f"cannot be compiled: {type(exc).__name__}: {str(exc)[:200]}"
        raise SnapshotError(problem, flag=key) from exc


def _optional_str(snapshot: Mapping[str, Any], name: str) -> str | None:
    value = snapshot.get(name)
    if value is not None and type(value) is not str:
        raise SnapshotError("must be a string", path=name)
    return value


def _without_slots(run: Callable[[Any, str, float | None], Any]) -> GeneratedRun:
    return lambda context, key, now, cache=None, seg=None, /: run(context, key, now)
