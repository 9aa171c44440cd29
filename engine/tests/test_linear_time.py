"""The engine's work grows linearly with its input, whatever the input.

Two measures, because neither sees all of it:

- **steps**: every line of engine code run (its modules and the code it generates for each
  flag), counted with `sys.settrace`. Exact and the same on any machine, but blind to work done
  inside C: `in` on a string, `str.startswith`, hashing, regular expressions.
- **CPU time** of this thread (`time.thread_time_ns`, not wall time, so other processes count
  little), the least of several tries with the garbage collector off. It sees the work in C.
  No counter of instructions is available everywhere (virtual machines have no PMU), so this is
  the one measure here taken with a clock; its bound is set far from both the linear and the
  quadratic answer, so noise cannot turn one into the other.

For each way an input can grow (flags, rules, clauses, values, targets, segments, nesting, and
the context's strings, lists, attributes and key; also the snapshot and the context together),
compiling and evaluating an input four times larger must cost at most about four times the
steps, and one eight times larger at most sixteen times the CPU time (work quadratic in the
input would take sixty-four). Hypothesis then grows arbitrary JSON context values the same way.
"""

from __future__ import annotations

import gc
import sys
import time
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
SMALL, LARGE = 40, 160  # steps: LARGE is four times SMALL
SLACK = 1.15  # fixed costs make small inputs relatively dearer, never cheaper
TIME_SMALL, TIME_LARGE = 40, 320  # CPU time: eight times the input...
TIME_BOUND = 16  # ...may cost at most sixteen times (linear: 8 at most; quadratic: 64)
TRIES = 5
SAMPLE_NS = 2_000_000  # each try runs the small input long enough for the clock to be exact


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


def _cpu_ns(work: Callable[[], object], repeat: int, tries: int, budget: int = sys.maxsize) -> int:
    """The least CPU time of this thread, over `tries` tries, to run `work` `repeat` times; or,
    as soon as one try has spent more than `budget`, what it has spent (work gone quadratic
    or worse is not waited for)."""
    best = sys.maxsize
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(tries):
            start = time.thread_time_ns()
            for _ in range(repeat):
                work()
                if (spent := time.thread_time_ns() - start) > budget:
                    return spent
            best = min(best, spent)
    finally:
        if collecting:
            gc.enable()
    return best


def cpu_ratio(small: Callable[[], object], large: Callable[[], object]) -> float:
    """How many times the CPU time of `small` `large` takes, each repeated as often as one try
    of `small` needs to last SAMPLE_NS. (The least of several tries leaves out the first call,
    which builds what the engine builds on first use.)"""
    small()
    repeat = 1
    while repeat < 1 << 16 and _cpu_ns(small, repeat, 1) < SAMPLE_NS:
        repeat *= 2
    base = max(_cpu_ns(small, repeat, TRIES), 1)
    return _cpu_ns(large, repeat, TRIES, budget=4 * TIME_BOUND * base) / base


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


def needles(count: int) -> list[str]:
    """Distinct values that end like the strings they are tested against (`a@a@`), so that a
    search for each value compares at almost every position of the string before it fails."""
    return [f"{i}{'a@' * (i % 7 + 2)}" for i in range(count)]


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
    # Segments nest at most 32 deep: chains grow to n // 10 (16 for steps, 32 for time).
    "segment chain": lambda n: (
        snapshot(
            [flag("f", [rule("r", [clause("", "segment_match", ["s0"])])])],
            {
                f"s{i}": {
                    "key": f"s{i}",
                    "rules": (
                        [{"id": "next", "clauses": [clause("", "segment_match", [f"s{i + 1}"])]}]
                        if i + 1 < n // 10
                        else []
                    ),
                }
                for i in range(n // 10)
            },
        ),
        CONTEXT,
    ),
    # Each segment uses the next one three times: tested naively, 3^depth evaluations (so
    # the depth grows more slowly, n // 20: a regression fails in seconds rather than hangs).
    "segment diamonds": lambda n: (
        snapshot(
            [flag("f", [rule("r", [clause("", "segment_match", ["s0"])])])],
            {
                f"s{i}": {
                    "key": f"s{i}",
                    "rules": (
                        [
                            {"id": "a", "clauses": [clause("", "segment_match", [f"s{i + 1}"])]},
                            {
                                "id": "b",
                                "clauses": [clause("", "segment_match", [f"s{i + 1}"] * 2)],
                            },
                        ]
                        if i + 1 < n // 20
                        else [{"id": "leaf", "clauses": [clause("country", "in", ["DE"])]}]
                    ),
                }
                for i in range(n // 20)
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
    "context key length": lambda n: (
        snapshot([flag("f", [], targets=[{"variation": 1, "values": ["u1", "u2"]}])]),
        {**CONTEXT, "key": "k" * (1000 * n)},
    ),
    # Both the snapshot and the context grow: an operator that costs values x length (a search
    # per value through the whole string) costs the square of the input.
    "contains values and string length": lambda n: (
        snapshot([flag("f", [rule("r", [clause("email", "contains", needles(10 * n))])])]),
        {**CONTEXT, "email": "a@" * (50 * n)},
    ),
    "contains values and list length": lambda n: (
        snapshot([flag("f", [rule("r", [clause("groups", "contains", needles(10 * n))])])]),
        {**CONTEXT, "groups": ["a@" * 5] * (10 * n)},
    ),
    "starts_with values and list length": lambda n: (
        snapshot([flag("f", [rule("r", [clause("groups", "starts_with", needles(10 * n))])])]),
        {**CONTEXT, "groups": ["@a" * 5] * (10 * n)},
    ),
    "ends_with values and list length": lambda n: (
        snapshot([flag("f", [rule("r", [clause("groups", "ends_with", needles(10 * n))])])]),
        {**CONTEXT, "groups": ["a@" * 5] * (10 * n)},
    ),
}


def cost(document: Any, context: dict[str, Any]) -> tuple[int, int]:
    """Steps to compile `document`, and to evaluate all its flags for `context`."""
    compiled: list[Any] = []
    compile_steps = steps(lambda: compiled.append(compile_snapshot(document)))
    evaluate_steps = steps(lambda: evaluate_all(compiled[0], context))
    return compile_steps, evaluate_steps


@pytest.mark.parametrize("dimension", list(GROWTH))
def test_four_times_the_input_costs_at_most_four_times_the_steps(dimension: str) -> None:
    small = cost(*GROWTH[dimension](SMALL))
    large = cost(*GROWTH[dimension](LARGE))
    for what, s, big in zip(("compile", "evaluate"), small, large, strict=True):
        assert big <= 4 * SLACK * s + 50, (
            f"{dimension}: {what} took {big} steps for {LARGE} and {s} for {SMALL}: "
            f"{big / max(s, 1):.1f} times the work for 4 times the input"
        )


@pytest.mark.parametrize("dimension", list(GROWTH))
def test_eight_times_the_input_costs_at_most_sixteen_times_the_cpu_time(dimension: str) -> None:
    small_document, small_context = GROWTH[dimension](TIME_SMALL)
    large_document, large_context = GROWTH[dimension](TIME_LARGE)
    small, large = compile_snapshot(small_document), compile_snapshot(large_document)
    ratios = {
        "compile": cpu_ratio(
            lambda: compile_snapshot(small_document), lambda: compile_snapshot(large_document)
        ),
        "evaluate": cpu_ratio(
            lambda: evaluate_all(small, small_context), lambda: evaluate_all(large, large_context)
        ),
    }
    for what, ratio in ratios.items():
        assert ratio <= TIME_BOUND, (
            f"{dimension}: {what} took {ratio:.1f} times the CPU time for "
            f"{TIME_LARGE // TIME_SMALL} times the input"
        )


def test_the_step_counter_sees_superlinear_work() -> None:
    """The measure can fail: work quadratic in n is caught by the same bound."""

    def quadratic(n: int) -> int:
        compiled = compile_snapshot(GROWTH["rules"](1)[0])
        return steps(lambda: [evaluate(compiled, "f", CONTEXT) for _ in range(n * n)])

    assert quadratic(LARGE // 10) > 4 * SLACK * quadratic(SMALL // 10) + 50


def test_the_cpu_clock_sees_superlinear_work_in_c() -> None:
    """The measure can fail where the step counter cannot: a search per value through the whole
    string (one line of Python, all the work in C) is quadratic when both grow."""

    def search_each(n: int) -> Callable[[], object]:
        values, text = needles(10 * n), "a@" * (50 * n)
        return lambda: any(value in text for value in values)

    small, large = search_each(TIME_SMALL), search_each(TIME_LARGE)
    assert steps(large) == steps(small) == 0  # not engine code: nothing the counter sees
    assert cpu_ratio(small, large) > TIME_BOUND


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

MANY = [f"{c}{d}" for c in "a@é" for d in "a@é1"]  # twelve values: the one-pass searches
OPERATOR_VALUES: list[tuple[str, list[Any]]] = [
    ("in", ["a", 1, True]),
    ("contains", ["a"]),
    ("contains", MANY),
    ("starts_with", ["a"]),
    ("starts_with", MANY),
    ("ends_with", ["a"]),
    ("ends_with", MANY),
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
EVERY_OPERATOR = snapshot(
    [
        flag(
            f"f-{op}-{len(values)}",
            [rule("r", [clause("x", op, values), clause("x", op, values, negate=True)])],
        )
        for op, values in OPERATOR_VALUES
    ]
)
COMPILED_EVERY_OPERATOR = compile_snapshot(EVERY_OPERATOR)


def _grown(value: Any, as_list: bool, n: int) -> dict[str, Any]:
    grown: Any = [value] * n if as_list or not isinstance(value, str) else value * n
    return {"key": "user-1", "x": grown}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, as_list=st.booleans())
def test_arbitrary_context_values_cost_linear_steps(value: Any, as_list: bool) -> None:
    """Any JSON value, repeated four times as often in a list (or as a longer string), costs
    every operator at most four times the steps."""

    def work(n: int) -> int:
        context = _grown(value, as_list, n)
        return steps(lambda: evaluate_all(COMPILED_EVERY_OPERATOR, context))

    small, large = work(SMALL), work(LARGE)
    assert large <= 4 * SLACK * small + 50, (value, small, large)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, as_list=st.booleans())
def test_arbitrary_context_values_cost_linear_cpu_time(value: Any, as_list: bool) -> None:
    """The same, in CPU time: what C does with a longer string or list grows linearly too."""
    small_context = _grown(value, as_list, TIME_SMALL * 10)
    large_context = _grown(value, as_list, TIME_LARGE * 10)
    ratio = cpu_ratio(
        lambda: evaluate_all(COMPILED_EVERY_OPERATOR, small_context),
        lambda: evaluate_all(COMPILED_EVERY_OPERATOR, large_context),
    )
    assert ratio <= TIME_BOUND, (value, ratio)
