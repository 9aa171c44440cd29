"""A flag's evaluation generated as Python functions, for speed.

The closures of `flags.py` cost a call per rule; on the fall-through path of a flag with five
rules that is a third of the time. Here the targets lookup, every rule, the fallthrough and the
rollout's bucketing become one function, with the common clause shapes inline (`in` over
strings, booleans or numbers, `starts_with`, `ends_with`, number comparisons, when the attribute
has the obvious type). Every other case, and every attribute of another type, calls the clause's
compiled matcher, so the two paths cannot disagree: the inline test is exactly what that matcher
would compute.

`evaluate_all` passes the function a fourth argument, the call's list of slots: a clause that
the snapshot uses more than once (`sharing.py`) is then read from it, or tested and stored into
it; `evaluate` passes none, and the clause is tested as any other. The fifth, `seg`, is the
memo of segments decided so far in the call (`evaluate_all` shares one between all flags; the
function makes its own when it is not given one), which every `segment_match` clause passes on.

Only identifiers we make (and the spec's 100000 buckets) appear in the source; every value,
attribute name and slot number lives in the namespace. So flags of the same shape (the same
operators in the same places) have the same source, compiled once per snapshot.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType, FunctionType
from typing import Any, Protocol

from .bucketing import BUCKETS, bucket_value, utf8
from .clauses import NOW_ATTRIBUTE, Matcher, Memo
from .result import EvaluationResult
from .rollouts import RolloutPlan
from .sharing import ClauseTable, clause_signature

__all__ = ["CachedRun", "ClausePlan", "GeneratedRun", "Slots", "generate_run"]

Context = Mapping[str, Any]
#: The call's list of slots for shared clauses (in it, None: not tested yet).
Slots = list["bool | None"]
Serve = EvaluationResult | RolloutPlan

_NUMBER_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
#: The type test of an `in` whose values are all of one JSON type, keyed by that type.
_IN_TYPES = {str: "type{get} is str", bool: "type{get} is bool"}
_NUMBER_TYPE = "(type{get} is int or type(v) is float)"
#: The bucket's source: the digest's first four bytes as an unsigned big-endian integer.
_FIRST_WORD = struct.Struct(">I").unpack_from


class ClausePlan:
    """A compiled clause with what the generator needs to inline and share it."""

    __slots__ = ("attribute", "matcher", "negate", "op", "signature", "values")

    def __init__(self, raw: Mapping[str, Any], matcher: Matcher) -> None:
        self.op = raw.get("op")
        self.attribute = raw.get("attribute")
        self.values = raw.get("values")
        self.negate = raw.get("negate", False) is True
        self.matcher = matcher
        self.signature = clause_signature(raw)


class GeneratedRun(Protocol):
    """A flag's evaluation of a valid context; `evaluate_all` also passes its slots and memo."""

    def __call__(
        self,
        context: Context,
        key: str,
        now: float | None,
        cache: Slots | None = None,
        seg: Memo | None = None,
        /,
    ) -> EvaluationResult: ...


@dataclass(frozen=True, slots=True)
class CachedRun:
    """A flag's generated `run`, which takes the call's slots of `table` as `cache`."""

    run: GeneratedRun
    table: ClauseTable


def _keep(cache: Slots, slot: int, value: bool) -> bool:
    cache[slot] = value
    return value


def _generic(plan: ClausePlan, name: str) -> str:
    """The call of the clause's compiled matcher (a segment_match passes the call's memo)."""
    if plan.op == "segment_match":
        return f"{name}_m(context, now, seg)"
    return f"{name}_m(context, now)"


def _clause_expression(plan: ClausePlan, name: str, namespace: dict[str, Any]) -> str:
    namespace[f"{name}_m"] = plan.matcher
    generic = _generic(plan, name)
    attribute = plan.attribute
    if plan.op == "segment_match":
        return generic
    if type(attribute) is not str or attribute == NOW_ATTRIBUTE or type(plan.values) is not list:
        return generic
    namespace[f"{name}_a"] = attribute
    get = f"(v := context.get({name}_a))"
    negate = "not " if plan.negate else ""
    values = plan.values
    op = plan.op
    kinds = {type(x) for x in values}
    if op == "in" and len(kinds) == 1 and (kind := next(iter(kinds))) in _IN_TYPES:
        namespace[f"{name}_s"] = frozenset(values)
        return f"(({negate}(v in {name}_s)) if {_IN_TYPES[kind].format(get=get)} else {generic})"
    if op == "in" and kinds <= {int, float}:  # 1 is 1.0; booleans are kept out by the type test
        namespace[f"{name}_s"] = frozenset(values)
        return f"(({negate}(v in {name}_s)) if {_NUMBER_TYPE.format(get=get)} else {generic})"
    if op in ("starts_with", "ends_with") and kinds == {str}:
        namespace[f"{name}_t"] = tuple(values)
        method = op.replace("_", "")
        return f"(({negate}v.{method}({name}_t)) if type{get} is str else {generic})"
    if op in _NUMBER_OPS:
        bound = max(values) if op in ("lt", "lte") else min(values)
        namespace[f"{name}_b"] = bound
        test = f"v {_NUMBER_OPS[op]} {name}_b"
        return f"(({negate}({test})) if {_NUMBER_TYPE.format(get=get)} else {generic})"
    return generic


def _serve_lines(serve: Serve, name: str, namespace: dict[str, Any]) -> list[str]:
    """Statements that return the serve's result (a rollout's bucketing inline)."""
    namespace[name] = serve
    if isinstance(serve, EvaluationResult):
        return [f"return {name}"]
    namespace[f"{name}_copy"] = serve.seeded.copy
    namespace[f"{name}_first"] = serve.first
    if serve.bucket_by == "key":
        hashed = "key"
        namespace[f"{name}_nokey"] = serve.missing_key
        lines = ["if key is None:", f"    return {name}_nokey", f"s = {name}_copy()"]
    else:
        hashed = "v"
        namespace[f"{name}_a"] = serve.bucket_by
        lines = [
            f"v = context.get({name}_a)",
            "if type(v) is not str:",
            "    v = bucket_value(v)",
            "    if v is None:",
            f"        return {name}_first",  # no value to hash: bucket 0
            f"s = {name}_copy()",
        ]
    # A lone surrogate has no UTF-8 encoding: only then is it hashed as U+FFFD (spec section 5).
    lines += [
        "try:",
        f"    s.update({hashed}.encode())",
        "except UnicodeEncodeError:",
        f"    s.update(utf8({hashed}))",
        f"b = first_word(s.digest())[0] % {BUCKETS}",
    ]
    *inner, (_, last) = serve.bounds  # the last bound is BUCKETS: no test needed
    for i, (bound, result) in enumerate(inner):
        namespace[f"{name}_b{i}"] = bound
        namespace[f"{name}_r{i}"] = result
        lines += [f"if b < {name}_b{i}:", f"    return {name}_r{i}"]
    namespace[f"{name}_last"] = last
    lines.append(f"return {name}_last")
    return lines


def _cached(
    expression: str, generic: str, name: str, slot: int | None, namespace: dict[str, Any]
) -> str:
    """The clause's test; with a slot, read from `cache` when there is one (its matcher fills
    the slot, once per `evaluate_all`: no need to repeat the inline test)."""
    if slot is None:
        return expression
    namespace[f"{name}_i"] = slot
    fill = f"keep(cache, {name}_i, {generic})"
    read = f"(x if (x := cache[{name}_i]) is not None else {fill})"
    return f"({expression} if cache is None else {read})"


def generate_run(
    targets: dict[str, EvaluationResult],
    rules: list[tuple[list[ClausePlan], Serve]],
    fallthrough: Serve,
    flag_key: str,
    table: ClauseTable,
) -> GeneratedRun:
    """One function: targets, rules in order (clauses ANDed, none = match), fallthrough.

    It takes two optional arguments: `cache`, the call's slots of `table` (`sharing.py`), and
    `seg`, the call's memo of segments.
    """
    namespace: dict[str, Any] = {
        "target": targets.get,
        "bucket_value": bucket_value,
        "first_word": _FIRST_WORD,
        "keep": _keep,
        "utf8": utf8,
    }
    lines = ["def run(context, key, now, cache=None, seg=None):"]
    if targets:
        lines += ["    hit = target(key)", "    if hit is not None:", "        return hit"]
    if any(plan.op == "segment_match" for clauses, _ in rules for plan in clauses):
        lines += ["    if seg is None:", "        seg = {}"]
    for i, (clauses, serve) in enumerate(rules):
        tests = []
        for j, plan in enumerate(clauses):
            name = f"c{i}_{j}"
            test = _clause_expression(plan, name, namespace)
            slot = table.slot(plan.signature)
            tests.append(_cached(test, _generic(plan, name), name, slot, namespace))
        serve_lines = _serve_lines(serve, f"r{i}", namespace)
        if not tests:  # a rule without clauses matches everyone
            lines += ["    " + line for line in serve_lines]
            break
        lines.append(f"    if {' and '.join(tests)}:")
        lines += ["        " + line for line in serve_lines]
    else:
        lines += ["    " + line for line in _serve_lines(fallthrough, "fallthrough", namespace)]
    # Flags of the same shape have the same source: compile it once per snapshot, and give each
    # flag its own file name for tracebacks.
    source = "\n".join(lines) + "\n"
    code = table.code.get(source)
    if code is None:
        module = compile(source, "<flag>", "exec")
        code = table.code[source] = next(c for c in module.co_consts if isinstance(c, CodeType))
    code = code.replace(co_filename=f"<flag {flag_key!r}>")
    run: GeneratedRun = FunctionType(code, namespace, "run", (None, None))
    return run
