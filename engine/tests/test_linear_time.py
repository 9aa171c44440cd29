"""The engine's work grows linearly with its input, whatever the input.

Work is counted, not timed: every line the engine executes (its modules and the code it
generates for each flag) is one step, counted with `sys.settrace`, so the count is the same on
a quiet machine and a busy one. For each way an input can grow (more flags, rules, clauses,
clause values, targets, segment keys and rules, longer chains of segments, longer context
values and lists), compiling and evaluating an input four times larger must cost at most about
four times the steps. Hypothesis then grows arbitrary JSON context values the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from launchsequence_engine import compile as compile_snapshot
from launchsequence_engine import evaluate, evaluate_all

ENGINE_DIR = str(Path(__file__).resolve().parents[1] / "src" / "launchsequence_engine")
SMALL, LARGE = 40, 160  # LARGE is four times SMALL
SLACK = 1.15  # fixed costs make small inputs relatively dearer, never cheaper


def steps(work: Callable[[], object]) -> int:
    """Lines of engine code (its modules and generated flag functions) that `work` runs."""
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def on_call(frame: FrameType, event: str, arg: object) -> Any:
        name = frame.f_code.co_filename
        if name.startswith(ENGINE_DIR) or name.startswith("<flag "):
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        work()
    finally:
        sys.settrace(previous)
    return count


def flag(key: str, rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "type": "string",
        "variations": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
        "on": True,
        "off_variation": 0,
        "fallthrough": {
            "rollout": {
                "weights": [
                    {"variation": 0, "weight": 50_000},
                    {"variation": 1, "weight": 50_000},
                ]
            }
        },
        "rules": rules,
        **extra,
    }


def clause(attribute: str, op: str, values: list[Any], negate: bool = False) -> dict[str, Any]:
    return {"attribute": attribute, "op": op, "values": values, "negate": negate}


def rule(rule_id: str, clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": rule_id, "clauses": clauses, "serve": {"variation": 2}}


def snapshot(flags: list[dict[str, Any]], segments: dict[str, Any] | None = None) -> Any:
    return {
        "schema_version": 1,
        "version": 1,
        "flags": {f["key"]: f for f in flags},
        "segments": segments or {},
    }


CONTEXT = {"key": "user-1", "country": "NZ", "email": "a@b.example", "version": "1.2.3"}

# Each builds (snapshot, context) of size n along one dimension; the context falls through
# every rule, the dearest path, so each element of the input is looked at.
GROWTH: dict[str, Callable[[int], tuple[Any, dict[str, Any]]]] = {
    "flags": lambda n: (
        snapshot(
            [flag(f"f{i}", [rule("r", [clause("country", "in", ["DE", "FR"])])]) for i in range(n)]
        ),
        CONTEXT,
    ),
    "rules": lambda n: (
        snapshot(
            [flag("f", [rule(f"r{i}", [clause("country", "in", [f"C{i}"])]) for i in range(n)])]
        ),
        CONTEXT,
    ),
    "clauses": lambda n: (
        snapshot(
            [
                flag(
                    "f",
                    [
                        rule(
                            "r",
                            [clause("email", "ends_with", [".example"]) for _ in range(n)]
                            + [clause("country", "in", ["DE"])],
                        )
                    ],
                )
            ]
        ),
        CONTEXT,
    ),
    "in values": lambda n: (
        snapshot([flag("f", [rule("r", [clause("country", "in", [f"C{i}" for i in range(n)])])])]),
        CONTEXT,
    ),
    "contains values": lambda n: (
        snapshot(
            [flag("f", [rule("r", [clause("email", "contains", [f"x{i}" for i in range(n)])])])]
        ),
        CONTEXT,
    ),
    "semver values": lambda n: (
        snapshot(
            [
                flag(
                    "f",
                    [rule("r", [clause("version", "semver_eq", [f"9.{i}.0" for i in range(n)])])],
                )
            ]
        ),
        CONTEXT,
    ),
    "date values": lambda n: (
        snapshot(
            [
                flag(
                    "f",
                    [
                        rule(
                            "r",
                            [
                                clause(
                                    "signed_up",
                                    "before",
                                    [f"2020-01-01T00:00:{i % 60:02d}Z" for i in range(n)],
                                )
                            ],
                        )
                    ],
                )
            ]
        ),
        {**CONTEXT, "signed_up": 1_900_000_000_000},
    ),
    "targets": lambda n: (
        snapshot(
            [flag("f", [], targets=[{"variation": 1, "values": [f"u{i}" for i in range(n)]}])]
        ),
        CONTEXT,
    ),
    "segment keys": lambda n: (
        snapshot(
            [flag("f", [rule("r", [clause("", "segment_match", ["s"])])])],
            {
                "s": {
                    "key": "s",
                    "included": [f"in{i}" for i in range(n)],
                    "excluded": [f"out{i}" for i in range(n)],
                }
            },
        ),
        CONTEXT,
    ),
    "segment rules": lambda n: (
        snapshot(
            [flag("f", [rule("r", [clause("", "segment_match", ["s"])])])],
            {
                "s": {
                    "key": "s",
                    "rules": [
                        {"id": f"s{i}", "clauses": [clause("country", "in", [f"C{i}"])]}
                        for i in range(n)
                    ],
                }
            },
        ),
        CONTEXT,
    ),
    "segment chain": lambda n: (
        snapshot(
            [flag("f", [rule("r", [clause("", "segment_match", ["s0"])])])],
            {
                f"s{i}": {
                    "key": f"s{i}",
                    "rules": (
                        [{"id": "next", "clauses": [clause("", "segment_match", [f"s{i + 1}"])]}]
                        if i + 1 < n
                        else []
                    ),
                }
                for i in range(n)
            },
        ),
        CONTEXT,
    ),
    "segments used by many flags": lambda n: (
        snapshot(
            [flag(f"f{i}", [rule("r", [clause("", "segment_match", ["s"])])]) for i in range(n)],
            {"s": {"key": "s", "rules": [{"id": "x", "clauses": [clause("k", "in", [1])]}]}},
        ),
        CONTEXT,
    ),
    "context string length": lambda n: (
        snapshot(
            [
                flag(
                    "f",
                    [
                        rule(
                            "r",
                            [
                                clause("email", "contains", ["zz"]),
                                clause("email", "starts_with", ["zz"]),
                                clause("email", "semver_gt", ["1.0.0"]),
                                clause("email", "after", ["2020-01-01T00:00:00Z"]),
                            ],
                        )
                    ],
                )
            ]
        ),
        {**CONTEXT, "email": "a" * (1000 * n)},
    ),
    "context list length": lambda n: (
        snapshot([flag("f", [rule("r", [clause("groups", "in", ["admins", "staff"])])])]),
        {**CONTEXT, "groups": [f"g{i}" for i in range(n)]},
    ),
    "context attributes": lambda n: (
        snapshot([flag("f", [rule("r", [clause("country", "in", ["DE"])])])]),
        {**CONTEXT, **{f"a{i}": i for i in range(n)}},
    ),
}


def cost(document: Any, context: dict[str, Any]) -> tuple[int, int]:
    """Steps to compile `document`, and to evaluate all its flags for `context`."""
    compiled: list[Any] = []
    compile_steps = steps(lambda: compiled.append(compile_snapshot(document)))
    evaluate_steps = steps(lambda: evaluate_all(compiled[0], context))
    return compile_steps, evaluate_steps


@pytest.mark.parametrize("dimension", list(GROWTH))
def test_four_times_the_input_costs_at_most_four_times_the_work(dimension: str) -> None:
    small = cost(*GROWTH[dimension](SMALL))
    large = cost(*GROWTH[dimension](LARGE))
    for what, s, big in zip(("compile", "evaluate"), small, large, strict=True):
        assert big <= 4 * SLACK * s + 50, (
            f"{dimension}: {what} took {big} steps for {LARGE} and {s} for {SMALL}: "
            f"{big / max(s, 1):.1f} times the work for 4 times the input"
        )


def test_the_step_counter_sees_superlinear_work() -> None:
    """The measure can fail: work quadratic in n is caught by the same bound."""

    def quadratic(n: int) -> int:
        compiled = compile_snapshot(GROWTH["rules"](1)[0])
        return steps(lambda: [evaluate(compiled, "f", CONTEXT) for _ in range(n * n)])

    assert quadratic(LARGE // 10) > 4 * SLACK * quadratic(SMALL // 10) + 50


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=20),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)

EVERY_OPERATOR = snapshot(
    [
        flag(
            f"f-{op}",
            [
                rule(
                    "r",
                    [clause("x", op, values), clause("x", op, values, negate=True)],
                )
            ],
        )
        for op, values in [
            ("in", ["a", 1, True]),
            ("contains", ["a"]),
            ("starts_with", ["a"]),
            ("ends_with", ["a"]),
            ("lt", [5]),
            ("lte", [5]),
            ("gt", [5]),
            ("gte", [5]),
            ("semver_eq", ["1.0.0"]),
            ("semver_lt", ["1.0.0"]),
            ("semver_gt", ["1.0.0"]),
            ("before", [1_700_000_000_000]),
            ("after", ["2020-01-01T00:00:00Z"]),
        ]
    ]
)
COMPILED_EVERY_OPERATOR = compile_snapshot(EVERY_OPERATOR)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, as_list=st.booleans())
def test_arbitrary_context_values_cost_linear_work(value: Any, as_list: bool) -> None:
    """Any JSON value, repeated four times as often in a list (or as a longer string), costs
    every operator at most four times the work."""

    def context(n: int) -> dict[str, Any]:
        grown: Any = [value] * n if as_list or not isinstance(value, str) else value * n
        return {"key": "user-1", "x": grown}

    def work(n: int) -> int:
        ctx = context(n)
        return steps(lambda: evaluate_all(COMPILED_EVERY_OPERATOR, ctx))

    small, large = work(SMALL), work(LARGE)
    assert large <= 4 * SLACK * small + 50, (value, small, large)
