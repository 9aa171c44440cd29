"""Micro-benchmark of the evaluation engine: `python bench/engine.py` (or `make bench`).

Prints plain text; always exits 0 (timings are reported against targets, never enforced).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter_ns
from typing import Any

try:
    import launchsequence_engine as engine
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine" / "src"))
    import launchsequence_engine as engine

TARGET_B_NS = 1_500  # (b): median per evaluation
TARGET_C_NS = 120_000  # (c): median per evaluate_all of 100 flags

COUNTRIES = [
    "DE", "FR", "IT", "ES", "PT", "NL", "BE", "LU", "AT", "CH",
    "PL", "CZ", "SK", "HU", "SE", "NO", "DK", "FI", "IE", "GB",
]  # fmt: skip
TARGETED_KEY = "user-target-42"


def trivial_flag() -> dict[str, Any]:
    return {
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "on": True,
        "off_variation": 1,
        "fallthrough": {"variation": 0},
    }


def realistic_flag(key: str) -> dict[str, Any]:
    """100 targeted keys, 5 one-clause rules, a 50/50 rollout fallthrough."""
    return {
        "key": key,
        "type": "boolean",
        "variations": [{"value": True, "name": "On"}, {"value": False, "name": "Off"}],
        "on": True,
        "off_variation": 1,
        "targets": [
            {"variation": 0, "values": [f"user-target-{i}" for i in range(0, 100, 2)]},
            {"variation": 1, "values": [f"user-target-{i}" for i in range(1, 100, 2)]},
        ],
        "rules": [
            {
                "id": "countries",
                "clauses": [{"attribute": "country", "op": "in", "values": COUNTRIES}],
                "serve": {"variation": 0},
            },
            {
                "id": "one-email",
                "clauses": [{"attribute": "email", "op": "in", "values": ["ceo@example.com"]}],
                "serve": {"variation": 0},
            },
            {
                "id": "staff",
                "clauses": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
                "serve": {"variation": 0},
            },
            {
                "id": "seniors",
                "clauses": [{"attribute": "age", "op": "gt", "values": [65]}],
                "serve": {"variation": 1},
            },
            {
                "id": "beta",
                "clauses": [{"attribute": "beta", "op": "in", "values": [True]}],
                "serve": {"variation": 0},
            },
        ],
        "fallthrough": {
            "rollout": {
                "weights": [{"variation": 0, "weight": 50_000}, {"variation": 1, "weight": 50_000}]
            }
        },
    }


USERS: dict[str, dict[str, Any]] = {
    "targeted": {"key": TARGETED_KEY, "country": "US", "email": "a@b.org", "age": 30},
    "rule-5 only": {
        "key": "user-beta",
        "country": "US",
        "email": "beta@customer.org",
        "age": 30,
        "beta": True,
    },
    "fall-through": {
        "key": "user-fallthrough",
        "country": "US",
        "email": "someone@customer.org",
        "age": 30,
        "beta": False,
    },
}


def snapshot(flags: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "version": 1, "flags": flags, "segments": {}}


# Each batch function runs `n` calls in a plain for loop, so that the loop's own cost (the same
# in every case, baseline included) is part of every figure.


def _lookup(table: dict[str, int], key: str) -> int:
    return table[key]


def batch_lookup(n: int, table: dict[str, int], key: str) -> None:
    lookup = _lookup
    for _ in range(n):
        lookup(table, key)


def batch_evaluate(n: int, compiled: Any, flag_key: str, context: dict[str, Any]) -> None:
    evaluate = engine.evaluate
    for _ in range(n):
        evaluate(compiled, flag_key, context)


def batch_evaluate_all(n: int, compiled: Any, context: dict[str, Any]) -> None:
    evaluate_all = engine.evaluate_all
    for _ in range(n):
        evaluate_all(compiled, context)


class Figure:
    def __init__(
        self, label: str, median_ns: float, best_ns: float, p99_ns: float, calls: int
    ) -> None:
        self.label = label
        self.median_ns = median_ns
        self.best_ns = best_ns
        self.p99_ns = p99_ns
        self.calls = calls


def measure(
    label: str,
    batch: Callable[..., None],
    args: tuple[Any, ...],
    *,
    batch_size: int,
    batches: int,
    repeats: int,
) -> Figure:
    """Per-call times: each repeat times `batches` batches of `batch_size` calls each.

    median: the median, over repeats, of each repeat's total time / its number of calls.
    best: the fastest repeat's time per call (how far noise pushed the median up).
    p99: the 99th percentile, over every batch of every repeat, of that batch's time / calls.
    """
    batch(batch_size, *args)  # warm-up
    per_repeat: list[float] = []
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            total = 0
            for _ in range(batches):
                start = perf_counter_ns()
                batch(batch_size, *args)
                elapsed = perf_counter_ns() - start
                total += elapsed
                samples.append(elapsed / batch_size)
            per_repeat.append(total / (batches * batch_size))
    finally:
        if gc_was_enabled:
            gc.enable()
    p99 = statistics.quantiles(samples, n=100, method="inclusive")[98]
    median = statistics.median(per_repeat)
    return Figure(label, median, min(per_repeat), p99, repeats * batches * batch_size)


def fmt_ns(ns: float) -> str:
    if ns >= 10_000:
        return f"{ns / 1000:.1f} us"
    if ns >= 1_000:
        return f"{ns / 1000:.2f} us"
    return f"{ns:.0f} ns"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="repeats per figure (default 7)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the number of calls (default 1.0)"
    )
    options = parser.parse_args(argv)
    repeats = max(1, options.repeats)

    def sized(n: int) -> int:
        return max(1, int(n * options.scale))

    one = engine.compile(
        snapshot({"trivial": trivial_flag(), "realistic": realistic_flag("realistic")})
    )
    hundred = engine.compile(
        snapshot({f"flag-{i:03d}": realistic_flag(f"flag-{i:03d}") for i in range(100)})
    )

    # Sanity: each user takes the path its name says.
    checks = {
        "targeted": ("TARGETING_MATCH", None),
        "rule-5 only": ("TARGETING_MATCH", "beta"),
        "fall-through": ("SPLIT", None),
    }
    for name, (reason, rule_id) in checks.items():
        result = engine.evaluate(one, "realistic", USERS[name])
        assert (result.reason, result.rule_id) == (reason, rule_id), (name, result)
    fallthrough_user = USERS["fall-through"]
    all_results = engine.evaluate_all(hundred, fallthrough_user)
    assert len(all_results) == 100 and all(r.reason == "SPLIT" for r in all_results.values())

    table = {f"key-{i}": i for i in range(1000)}
    small = {"batch_size": sized(1000), "batches": sized(60), "repeats": repeats}
    large = {"batch_size": sized(10), "batches": sized(40), "repeats": repeats}

    baseline = measure(
        "baseline: dict lookup in a function", batch_lookup, (table, "key-500"), **small
    )
    trivial = measure(
        "(a) trivial flag", batch_evaluate, (one, "trivial", USERS["targeted"]), **small
    )
    figures: list[tuple[Figure, int | None]] = [(trivial, None)]
    for name in USERS:
        figure = measure(
            f"(b) realistic flag, user {name}",
            batch_evaluate,
            (one, "realistic", USERS[name]),
            **small,
        )
        figures.append((figure, TARGET_B_NS))
    figures.append(
        (
            measure(
                "(c) evaluate_all, 100 flags, fall-through user",
                batch_evaluate_all,
                (hundred, fallthrough_user),
                **large,
            ),
            TARGET_C_NS,
        )
    )

    print("Launch Sequence engine benchmark")
    print(f"python   {platform.python_implementation()} {platform.python_version()}")
    print(f"machine  {platform.machine()} {platform.processor() or '(processor unknown)'}, "
          f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}")  # fmt: skip
    print()
    print("What is measured: wall time (time.perf_counter_ns) of batches of calls in a plain loop,")
    print("GC disabled while timing. 'median' is the median over repeats of each repeat's mean")
    print("time per call; 'p99' is the 99th percentile over all batches of the batch's mean time")
    print("per call; 'best' is the fastest repeat's time per call; 'x base' is median divided by")
    print("the baseline's median (a Python function returning table[key], called the same way).")
    print(
        f"repeats: {repeats}; calls per batch: {small['batch_size']} ((c): {large['batch_size']})"
    )
    print()
    print("(a) flag: on, no targets, no rules, fixed fallthrough; the 'targeted' user's context.")
    print("(b) flag: 100 targeted keys; rules: country in 20 values, email == one value,")
    print("    email ends_with, age gt 65, beta in [true]; fallthrough: 50/50 rollout by key.")
    print("    users: 'targeted' is in the targets; 'rule-5 only' matches only the beta rule;")
    print("    'fall-through' matches no rule and is bucketed by the rollout.")
    print("(c) evaluate_all over 100 (b) flags with distinct keys, for the 'fall-through' user")
    print("    (every flag runs all 5 rules and hashes the key): 100 results per call.")
    print()
    header = f"{'figure':<47} {'median':>10} {'best':>10} {'p99':>10} {'x base':>7}  target"
    print(header)
    print("-" * len(header))
    for figure, target in [(baseline, None), *figures]:
        ratio = figure.median_ns / baseline.median_ns
        if target is None:
            verdict = ""
        else:
            met = "met" if figure.median_ns <= target else "MISSED"
            verdict = f"median <= {fmt_ns(target).strip()}: {met}"
        line = (
            f"{figure.label:<47} {fmt_ns(figure.median_ns):>10} {fmt_ns(figure.best_ns):>10} "
            f"{fmt_ns(figure.p99_ns):>10} {ratio:>7.1f}  {verdict}"
        )
        print(line.rstrip())
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # never fail the build on a benchmark
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(0)
