"""A flag's evaluation generated as one Python function, for speed.

The closures of `flags.py` cost a call per rule; on the fall-through path of a flag with five
rules that is a third of the time. Here the targets lookup, every rule and the fallthrough
become one function, with the common clause shapes inline (`in` over strings, `starts_with`,
`ends_with`, number comparisons, when the attribute has the obvious type). Every other case,
and every attribute of another type, calls the clause's compiled matcher, so the two paths
cannot disagree: the inline test is exactly what that matcher would compute.

Only identifiers we make and `repr()` of attribute names (a valid literal for any string)
appear in the source; every value lives in the namespace, never in the code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .clauses import NOW_ATTRIBUTE, Matcher
from .result import EvaluationResult

__all__ = ["ClausePlan", "generate_run"]

Context = Mapping[str, Any]
Rollout = Callable[[Context, str], EvaluationResult]
Run = Callable[[Context, str, "float | None"], EvaluationResult]

_NUMBER_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


class ClausePlan:
    """A compiled clause with what the generator needs to inline it."""

    __slots__ = ("attribute", "matcher", "negate", "op", "values")

    def __init__(self, raw: Mapping[str, Any], matcher: Matcher) -> None:
        self.op = raw.get("op")
        self.attribute = raw.get("attribute")
        self.values = raw.get("values")
        self.negate = raw.get("negate", False) is True
        self.matcher = matcher


def _clause_expression(plan: ClausePlan, name: str, namespace: dict[str, Any]) -> str:
    matcher = f"{name}_m"
    namespace[matcher] = plan.matcher
    generic = f"{matcher}(context, now)"
    attribute = plan.attribute
    if type(attribute) is not str or attribute == NOW_ATTRIBUTE or type(plan.values) is not list:
        return generic
    get = f"(v := get({attribute!r}))"
    negate = "not " if plan.negate else ""
    values = plan.values
    if plan.op == "in" and all(type(x) is str for x in values):
        namespace[f"{name}_s"] = frozenset(values)
        return f"(({negate}(v in {name}_s)) if type{get} is str else {generic})"
    if plan.op in ("starts_with", "ends_with") and all(type(x) is str for x in values):
        namespace[f"{name}_t"] = tuple(values)
        return (
            f"(({negate}v.{plan.op.replace('_', '')}({name}_t)) if type{get} is str else {generic})"
        )
    if plan.op in _NUMBER_OPS:
        bound = max(values) if plan.op in ("lt", "lte") else min(values)
        namespace[f"{name}_b"] = bound
        test = f"v {_NUMBER_OPS[plan.op]} {name}_b"
        return f"(({negate}({test})) if (type{get} is int or type(v) is float) else {generic})"
    return generic


def generate_run(
    targets: dict[str, EvaluationResult],
    rules: list[tuple[list[ClausePlan], EvaluationResult | None, Rollout | None]],
    fallthrough: EvaluationResult | Rollout,
    flag_key: str,
) -> Run:
    """One function: targets, rules in order (clauses ANDed, none = match), fallthrough."""
    namespace: dict[str, Any] = {"target": targets.get}
    lines = [
        "def run(context, key, now):",
        "    hit = target(key)",
        "    if hit is not None:",
        "        return hit",
        "    get = context.get",
    ]
    for i, (clauses, result, rollout) in enumerate(rules):
        tests = [_clause_expression(p, f"c{i}_{j}", namespace) for j, p in enumerate(clauses)]
        if result is not None:
            namespace[f"r{i}"] = result
            serve = f"r{i}"
        else:
            namespace[f"ro{i}"] = rollout
            serve = f"ro{i}(context, key)"
        if tests:
            lines.append(f"    if {' and '.join(tests)}:")
            lines.append(f"        return {serve}")
        else:
            lines.append(f"    return {serve}")  # a rule without clauses matches everyone
            break
    else:
        if isinstance(fallthrough, EvaluationResult):
            namespace["fixed"] = fallthrough
            lines.append("    return fixed")
        else:
            namespace["fallthrough"] = fallthrough
            lines.append("    return fallthrough(context, key)")
    code = compile("\n".join(lines) + "\n", f"<flag {flag_key!r}>", "exec")
    exec(code, namespace)  # noqa: S102 - our own source, values only in the namespace
    run: Run = namespace["run"]
    return run
