"""One flag compiled: prebuilt results, a target map, rule matchers and serves."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .bucketing import BUCKETS
from .clauses import Member, compile_clause
from .codegen import CachedRun, ClausePlan, GeneratedRun, Serve, generate_run
from .errors import SnapshotError, shown
from .result import ErrorCode, EvaluationResult, Reason
from .rollouts import RolloutPlan
from .sharing import ClauseTable

__all__ = [
    "FLAG_TYPES",
    "MAX_METADATA_ENTRIES",
    "MAX_METADATA_KEY",
    "MAX_METADATA_STRING",
    "MAX_PREREQUISITES",
    "CompiledFlag",
    "compile_clauses",
    "compile_flag",
    "type_check",
]

FLAG_TYPES = ("boolean", "string", "number", "json")
MAX_TARGET_KEYS = 10_000
MAX_RULES = 1_000
MAX_VARIATIONS = 100
MAX_PREREQUISITES = 100
#: Flag metadata is small by design: a few labels (owner, team, ticket) that reach every answer.
MAX_METADATA_ENTRIES = 32
MAX_METADATA_KEY = 64
MAX_METADATA_STRING = 1_000

Context = Mapping[str, Any]
#: A flag's evaluation once the context is known to be valid: (context, its key, now).
Run = Callable[[Context, str, "float | None"], EvaluationResult]


def type_check(flag_type: str) -> Callable[[Any], bool]:
    """Whether a value (a variation, or a caller's default) is of this flag type."""
    if flag_type == "boolean":
        return lambda v: type(v) is bool
    if flag_type == "string":
        return lambda v: type(v) is str
    if flag_type == "number":
        return lambda v: type(v) is int or (type(v) is float and math.isfinite(v))
    return lambda v: v is not None


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    """A flag ready to evaluate. `run` assumes a valid context; `evaluate` checks it first."""

    key: str
    type: str
    version: int
    client_side: bool
    on: bool
    variations: tuple[Any, ...]
    accepts: Callable[[Any], bool]
    run: Run
    #: `run` and the table of the clauses it shares: `evaluate_all` passes it the call's slots
    #: while `shared.run is run` (a flag rebuilt with another `run` has that one called).
    shared: CachedRun | None = None
    #: The flags that must serve a given variation first: (flag key, variation index), in order.
    prerequisites: tuple[tuple[str, int], ...] = ()
    #: What the flag serves when it is off (its off variation, or no value: the caller's default).
    off: EvaluationResult | None = None
    metadata: Mapping[str, Any] | None = None


def _int_index(raw: Any, count: int, path: str) -> int:
    if type(raw) is not int or not 0 <= raw < count:
        raise SnapshotError(f"must be a variation index from 0 to {count - 1}", path=path)
    return raw


class _Builder:
    """Holds what one flag's compilation shares: its key, salt and the results it may give."""

    def __init__(
        self,
        key: str,
        salt: str,
        values: list[Any],
        names: list[str],
        metadata: Mapping[str, Any] | None,
    ) -> None:
        self.key = key
        self.prefix = f"{key}.{salt}."
        self.values = values
        self.names = names
        self.metadata = metadata
        #: Whether nothing about a context can change the answer (no targets, rules or
        #: prerequisites): the fallthrough's fixed variation then answers STATIC, not DEFAULT.
        self.static = False

    def result(self, index: int, reason: str, rule: tuple[str, int] | None) -> EvaluationResult:
        rule_id, rule_index = rule if rule is not None else (None, None)
        return EvaluationResult(
            self.key, self.values[index], index, self.names[index], reason,
            rule_id=rule_id, rule_index=rule_index, metadata=self.metadata,
        )  # fmt: skip

    def no_value(self, reason: str, code: str | None = None, message: str | None = None
                 ) -> EvaluationResult:  # fmt: skip
        """A result without a value of the flag's: the caller's default is answered."""
        return EvaluationResult(self.key, None, None, None, reason, code, message,
                                metadata=self.metadata)  # fmt: skip

    def serve(self, raw: Any, path: str, rule: tuple[str, int] | None) -> Serve:
        """A prebuilt result for a fixed variation, or a rollout's plan."""
        if raw is None and rule is None:  # an unset fallthrough: the caller's default
            return self.no_value(Reason.DEFAULT)
        if not isinstance(raw, Mapping):
            raise SnapshotError("must be an object with `variation` or `rollout`", path=path)
        has_variation, has_rollout = "variation" in raw, "rollout" in raw
        if has_variation == has_rollout:
            raise SnapshotError("must have exactly one of `variation` and `rollout`", path=path)
        count = len(self.values)
        if has_variation:
            index = _int_index(raw["variation"], count, f"{path}.variation")
            if rule is not None:
                reason = Reason.TARGETING_MATCH
            else:
                reason = Reason.STATIC if self.static else Reason.DEFAULT
            return self.result(index, reason, rule)
        return self.rollout(raw["rollout"], f"{path}.rollout", rule)

    def rollout(self, raw: Any, path: str, rule: tuple[str, int] | None) -> RolloutPlan:
        if not isinstance(raw, Mapping):
            raise SnapshotError("must be an object", path=path)
        bucket_by = raw.get("bucket_by", "key")
        if type(bucket_by) is not str or not bucket_by:
            raise SnapshotError("must be a non-empty attribute name", path=f"{path}.bucket_by")
        weights = raw.get("weights")
        if type(weights) is not list or not weights:
            raise SnapshotError("must be a non-empty list", path=f"{path}.weights")
        bounds: list[tuple[int, EvaluationResult]] = []
        total = 0
        seen: set[int] = set()
        for i, entry in enumerate(weights):
            where = f"{path}.weights[{i}]"
            if not isinstance(entry, Mapping):
                raise SnapshotError("must be an object", path=where)
            index = _int_index(entry.get("variation"), len(self.values), f"{where}.variation")
            if index in seen:
                raise SnapshotError(f"variation {index} is listed twice", path=f"{where}.variation")
            seen.add(index)
            weight = entry.get("weight")
            if type(weight) is not int or not 0 <= weight <= BUCKETS:
                raise SnapshotError(
                    f"must be an integer from 0 to {BUCKETS}", path=f"{where}.weight"
                )
            total += weight
            if weight:
                bounds.append((total, self.result(index, Reason.SPLIT, rule)))
        if total != BUCKETS:
            raise SnapshotError(
                f"weights must sum to {BUCKETS}, not {total}", path=f"{path}.weights"
            )
        missing = self.no_value(
            Reason.ERROR,
            ErrorCode.TARGETING_KEY_MISSING,
            "the rollout buckets by the context's key, and the context has none",
        )
        return RolloutPlan(self.prefix, bucket_by, tuple(bounds), missing)


def compile_clauses(clauses: Any, segment_member: Callable[[str], Member]) -> list[ClausePlan]:
    """A rule's clauses, each compiled; SnapshotError paths start at `clauses`."""
    if type(clauses) is not list:
        raise SnapshotError("must be a list", path="clauses")
    plans: list[ClausePlan] = []
    for index, clause in enumerate(clauses):
        try:
            plans.append(ClausePlan(clause, compile_clause(clause, segment_member)))
        except SnapshotError as exc:
            raise exc.within(prefix=f"clauses[{index}]") from None
    return plans


def _rule_id(raw: Any, index: int, seen: set[str]) -> str:
    if not isinstance(raw, Mapping):
        raise SnapshotError("must be an object", path=f"rules[{index}]")
    rule_id = raw.get("id")
    if type(rule_id) is not str or not rule_id:
        raise SnapshotError("must be a non-empty string", path=f"rules[{index}].id")
    if rule_id in seen:
        raise SnapshotError(f"rule id {rule_id!r} is used twice", path=f"rules[{index}].id")
    seen.add(rule_id)
    return rule_id


def compile_flag(
    key: str,
    raw: Any,
    segment_member: Callable[[str], Member],
    table: ClauseTable | None = None,
) -> CompiledFlag:
    """Compile one flag; raises SnapshotError naming the flag, the rule and the field.

    `table` holds the clauses its snapshot shares between flags (a new one shares none).
    """
    shared = ClauseTable() if table is None else table
    try:
        return _compile_flag(key, raw, segment_member, shared)
    except SnapshotError as exc:
        raise exc.within(flag=key) from None
    finally:
        if table is None:
            shared.finish()


def _compile_flag(
    key: str, raw: Any, segment_member: Callable[[str], Member], table: ClauseTable
) -> CompiledFlag:
    if not isinstance(raw, Mapping):
        raise SnapshotError("must be an object")
    if raw.get("key", key) != key:
        raise SnapshotError(f"does not match the flag's key {key!r}", path="key")
    flag_type = raw.get("type")
    if flag_type not in FLAG_TYPES:
        raise SnapshotError(f"must be one of {', '.join(FLAG_TYPES)}", path="type")
    accepts = type_check(flag_type)

    variations = raw.get("variations")
    if type(variations) is not list or not 1 <= len(variations) <= MAX_VARIATIONS:
        raise SnapshotError(
            f"must be a list of 1 to {MAX_VARIATIONS} variations", path="variations"
        )
    values: list[Any] = []
    names: list[str] = []
    for i, variation in enumerate(variations):
        if not isinstance(variation, Mapping) or "value" not in variation:
            raise SnapshotError("must be an object with a `value`", path=f"variations[{i}]")
        if not accepts(variation["value"]):
            raise SnapshotError(f"must be a {flag_type} value", path=f"variations[{i}].value")
        name = variation.get("name")
        if name is not None and type(name) is not str:
            raise SnapshotError("must be a string", path=f"variations[{i}].name")
        values.append(variation["value"])
        names.append(name if name else str(i))

    salt = raw.get("salt", key)
    if type(salt) is not str:
        raise SnapshotError("must be a string", path="salt")
    on = raw.get("on")
    if type(on) is not bool:
        raise SnapshotError("must be true or false", path="on")
    client_side = raw.get("client_side", False)
    if type(client_side) is not bool:
        raise SnapshotError("must be true or false", path="client_side")
    version = raw.get("version", 0)
    if type(version) is not int:
        raise SnapshotError("must be an integer", path="version")

    metadata = _metadata(raw.get("metadata"))
    build = _Builder(key, salt, values, names, metadata)
    raw_off = raw.get("off_variation")
    if raw_off is None:  # unset: the caller's default
        off = build.no_value(Reason.DISABLED)
    else:
        off = build.result(_int_index(raw_off, len(values), "off_variation"), Reason.DISABLED, None)

    prerequisites = _prerequisites(raw.get("prerequisites", []), key)
    targets = _compile_targets(raw.get("targets", []), build)
    raw_rules = raw.get("rules", [])
    build.static = not targets and not prerequisites and raw_rules == []
    rules = _compile_rules(raw_rules, build, segment_member)
    fallthrough = build.serve(raw.get("fallthrough"), "fallthrough", None)

    run = generate_run(targets, rules, fallthrough, key, table) if on else off_run(off)
    shared = CachedRun(run, table)
    return CompiledFlag(
        key, flag_type, version, client_side, on, tuple(values), accepts, shared.run, shared,
        prerequisites if on else (), off, metadata,
    )  # fmt: skip


def _metadata(raw: Any) -> Mapping[str, Any] | None:
    """The flag's metadata: at most MAX_METADATA_ENTRIES string keys to strings, finite
    numbers or booleans. None when it has none."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or len(raw) > MAX_METADATA_ENTRIES:
        raise SnapshotError(
            f"must be an object of at most {MAX_METADATA_ENTRIES} entries", path="metadata"
        )
    for name, value in raw.items():
        if type(name) is not str or not 0 < len(name) <= MAX_METADATA_KEY:
            raise SnapshotError(
                f"{shown(name)} must be a name of 1 to {MAX_METADATA_KEY} characters",
                path="metadata",
            )
        kind = type(value)
        fits = (
            kind is bool
            or kind is int
            or (kind is float and math.isfinite(value))
            or (kind is str and len(value) <= MAX_METADATA_STRING)
        )
        if not fits:
            raise SnapshotError(
                f"must be a boolean, a finite number or a string of at most "
                f"{MAX_METADATA_STRING} characters",
                path=f"metadata.{name}",
            )
    return dict(raw) if raw else None


def _prerequisites(raw: Any, key: str) -> tuple[tuple[str, int], ...]:
    """The flag's prerequisites, each (flag key, variation index). Whether the other flag
    exists, has that variation and closes no cycle is the snapshot's check (`compiler.py`)."""
    if type(raw) is not list or len(raw) > MAX_PREREQUISITES:
        raise SnapshotError(
            f"must be a list of at most {MAX_PREREQUISITES} prerequisites", path="prerequisites"
        )
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"prerequisites[{i}]"
        if not isinstance(entry, Mapping):
            raise SnapshotError("must be an object with `flag` and `variation`", path=where)
        other = entry.get("flag")
        if type(other) is not str or not other:
            raise SnapshotError("must be a flag key", path=f"{where}.flag")
        if other in seen:
            raise SnapshotError(f"flag {other!r} is listed twice", path=f"{where}.flag")
        seen.add(other)
        variation = entry.get("variation")
        if type(variation) is not int or variation < 0:
            raise SnapshotError("must be a variation index", path=f"{where}.variation")
        out.append((other, variation))
    return tuple(out)


def off_run(off: EvaluationResult) -> GeneratedRun:
    return lambda context, key, now, cache=None, seg=None, /: off


def _compile_targets(raw: Any, build: _Builder) -> dict[str, EvaluationResult]:
    if type(raw) is not list:
        raise SnapshotError("must be a list", path="targets")
    targets: dict[str, EvaluationResult] = {}
    for i, target in enumerate(raw):
        if not isinstance(target, Mapping):
            raise SnapshotError("must be an object", path=f"targets[{i}]")
        index = _int_index(target.get("variation"), len(build.values), f"targets[{i}].variation")
        keys = target.get("values")
        if type(keys) is not list or len(keys) > MAX_TARGET_KEYS:
            raise SnapshotError(
                f"must be a list of at most {MAX_TARGET_KEYS} keys", path=f"targets[{i}].values"
            )
        result = build.result(index, Reason.TARGETING_MATCH, None)
        for j, context_key in enumerate(keys):
            if type(context_key) is not str or not context_key:
                raise SnapshotError("must be a non-empty string", path=f"targets[{i}].values[{j}]")
            if context_key in targets:
                raise SnapshotError(
                    f"{shown(context_key)} is already targeted", path=f"targets[{i}].values[{j}]"
                )
            targets[context_key] = result
    return targets


RulePlan = tuple[list[ClausePlan], Serve]


def _compile_rules(
    raw: Any, build: _Builder, segment_member: Callable[[str], Member]
) -> list[RulePlan]:
    """Each rule's compiled clauses and its serve: a prebuilt result or a rollout."""
    if type(raw) is not list or len(raw) > MAX_RULES:
        raise SnapshotError(f"must be a list of at most {MAX_RULES} rules", path="rules")
    rules: list[RulePlan] = []
    seen: set[str] = set()
    for i, rule in enumerate(raw):
        rule_id = _rule_id(rule, i, seen)
        try:
            plans = compile_clauses(rule.get("clauses", []), segment_member)
            serve = build.serve(rule.get("serve"), "serve", (rule_id, i))
        except SnapshotError as exc:
            raise exc.within(rule=rule_id, prefix=f"rules[{i}]") from None
        rules.append((plans, serve))
    return rules
