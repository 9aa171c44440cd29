"""Work shared between flags never changes a result.

`evaluate_all` tests a clause that several flags use once per call (`sharing.py`), and flags of
the same shape share their generated code. Whatever the snapshot and the context, each flag must
answer in `evaluate_all` exactly what `evaluate` answers for it alone.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from launchsequence_engine import CompiledSnapshot, compile, evaluate, evaluate_all  # noqa: A004


def _clause(attribute: str, op: str, values: list[Any], negate: bool = False) -> dict[str, Any]:
    return {"attribute": attribute, "op": op, "values": values, "negate": negate}


#: Clauses that equal each other in Python but not in JSON (`1`, `1.0`, `true`, `"1"`), the
#: same test negated and not, list attributes, `$now`, segments: each drawn by several flags.
POOL: list[dict[str, Any]] = [
    _clause("country", "in", ["DE", "FR"]),
    _clause("country", "in", ["DE", "FR"], negate=True),
    _clause("country", "in", ["FR", "DE"]),
    _clause("tier", "in", [1]),
    _clause("tier", "in", [1.0]),
    _clause("tier", "in", [True]),
    _clause("tier", "in", ["1"]),
    _clause("tier", "in", [1, "1", False]),
    _clause("email", "ends_with", ["@corp"]),
    _clause("email", "starts_with", ["admin"], negate=True),
    _clause("email", "contains", ["@", "x"]),
    _clause("age", "gt", [65]),
    _clause("age", "lte", [18, 21.5]),
    _clause("age", "gte", [18], negate=True),
    _clause("version", "semver_gt", ["1.2"]),
    _clause("created", "after", ["2026-01-01T00:00:00Z"]),
    _clause("$now", "after", [1767225600000]),
    {"op": "segment_match", "values": ["beta"]},
    {"op": "segment_match", "values": ["beta"], "negate": True},
]
SEGMENTS = {
    "beta": {
        "included": ["user-1"],
        "excluded": ["user-2"],
        "rules": [{"id": "b", "clauses": [_clause("plan", "in", ["pro"])]}],
    }
}


def _serve(rng: random.Random) -> dict[str, Any]:
    choice = rng.randrange(4)
    if choice < 2:
        return {"variation": choice}
    bucket_by = {"bucket_by": rng.choice(["org", "age"])} if choice == 3 else {}
    first = rng.choice([0, 30_000, 50_000, 100_000])
    weights = [{"variation": 0, "weight": first}, {"variation": 1, "weight": 100_000 - first}]
    return {"rollout": {**bucket_by, "weights": weights}}


def _flags(seed: int, count: int) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    flags: dict[str, dict[str, Any]] = {}
    for i in range(count):
        rules = [
            {
                "id": f"r{j}",
                "clauses": [rng.choice(POOL) for _ in range(rng.randrange(3))],
                "serve": _serve(rng),
            }
            for j in range(rng.randrange(5))
        ]
        flags[f"flag-{seed}-{i}"] = {
            "type": "string",
            "variations": [{"value": "a"}, {"value": "b"}],
            "on": rng.random() > 0.1,
            "client_side": rng.random() > 0.5,
            "off_variation": 1,
            "targets": [{"variation": 1, "values": ["user-3"]}] if rng.random() > 0.7 else [],
            "rules": rules,
            "fallthrough": _serve(rng),
        }
    return flags


def _snapshot(flags: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "version": 1, "flags": flags, "segments": SEGMENTS}


COMPILED = compile(_snapshot(_flags(1, 40)))
#: As the Python SDK builds one after a patch: flags of two compilations in one snapshot, so
#: that the slots of one compilation's shared clauses mean other clauses in the other.
_OTHER = compile(_snapshot(_flags(2, 40)))
MERGED = CompiledSnapshot(1, None, None, {**COMPILED.flags, **_OTHER.flags})

values = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 1.0, 18, 21.5, 65, 66, 2.5, -1]),
    st.sampled_from(["DE", "FR", "US", "1", "true", "pro", "a@corp", "admin@x", "1.3.0", "x"]),
    st.sampled_from(["2026-06-01T00:00:00Z", "2025-01-01T00:00:00Z"]),
)
contexts = st.fixed_dictionaries(
    {"key": st.sampled_from(["user-1", "user-2", "user-3", "user-4", "ü"])},
    optional={
        name: st.one_of(values, st.lists(values, max_size=3))
        for name in ["country", "tier", "email", "age", "version", "created", "plan", "org"]
    },
)
nows = st.one_of(st.none(), st.sampled_from([0, 1767225600000, 1767225600001]))


def _alone(compiled: CompiledSnapshot, context: Any, now: Any) -> dict[str, dict[str, Any]]:
    return {key: evaluate(compiled, key, context, now=now).to_dict() for key in compiled.flags}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context=contexts, now=nows)
@example(context={"key": "user-4", "tier": True, "country": "DE"}, now=None)
@example(context={"key": "user-4", "tier": [1.0, "x"], "age": 66}, now=1767225600001)
def test_evaluate_all_answers_what_evaluate_answers(context: dict[str, Any], now: Any) -> None:
    for compiled in (COMPILED, MERGED):
        everything = evaluate_all(compiled, context, now=now)
        assert {k: r.to_dict() for k, r in everything.items()} == _alone(compiled, context, now)
        client = evaluate_all(compiled, context, now=now, client_side_only=True)
        assert list(client) == [k for k, f in compiled.flags.items() if f.client_side]
        assert all(client[k] == everything[k] for k in client)


def test_values_equal_in_python_but_not_in_json_stay_apart() -> None:
    flags = {
        f"f-{i}": {
            "type": "boolean",
            "variations": [{"value": True}, {"value": False}],
            "on": True,
            "off_variation": 1,
            "rules": [{"id": "r", "clauses": [clause, clause], "serve": {"variation": 0}}],
            "fallthrough": {"variation": 1},
        }
        for i, clause in enumerate(POOL[3:7] * 2)  # tier in [1], [1.0], [true], ["1"], twice
    }
    compiled = compile(_snapshot(flags))
    for tier, matching in [(1, {0, 1, 4, 5}), (True, {2, 6}), ("1", {3, 7}), (2, set())]:
        results = evaluate_all(compiled, {"key": "u", "tier": tier})
        assert {i for i in range(8) if results[f"f-{i}"].value is True} == matching, tier


def test_flags_of_one_shape_keep_their_own_values() -> None:
    # Same operators in the same places: one generated code, each flag with its own values.
    countries = ["DE", "FR", "IT", "ES"]
    flags = {
        country: {
            "type": "string",
            "variations": [{"value": country}, {"value": "other"}],
            "on": True,
            "off_variation": 1,
            "rules": [
                {
                    "id": "c",
                    "clauses": [_clause(f"attr-{country}", "in", [country])],
                    "serve": {"variation": 0},
                }
            ],
            "fallthrough": {"variation": 1},
        }
        for country in countries
    }
    compiled = compile(_snapshot(flags))
    for country in countries:
        context = {"key": "u", **{f"attr-{c}": country for c in countries}}
        results = evaluate_all(compiled, context)
        assert [r.value for r in results.values()] == [
            c if c == country else "other" for c in countries
        ]
        assert evaluate(compiled, country, context).value == country


class CountingContext(Mapping[str, Any]):
    """A context that counts how often each attribute is read."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.reads: dict[str, int] = {}

    def __getitem__(self, name: str) -> Any:
        self.reads[name] = self.reads.get(name, 0) + 1
        return self.data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_a_clause_many_flags_share_is_tested_once_per_call() -> None:
    rule = {"id": "eu", "clauses": [POOL[0]], "serve": {"variation": 0}}
    flags = {
        f"f-{i}": {
            "type": "boolean",
            "variations": [{"value": True}, {"value": False}],
            "on": True,
            "off_variation": 1,
            "rules": [rule],
            "fallthrough": {"variation": 1},
        }
        for i in range(30)
    }
    compiled = compile(_snapshot(flags))
    context = CountingContext({"key": "u", "country": "US"})
    results = evaluate_all(compiled, context)
    assert all(r.value is False for r in results.values())
    assert context.reads.get("country") == 1
    # evaluate, one flag at a time, reads it for each flag (nothing kept between calls)
    for key in flags:
        evaluate(compiled, key, context)
    assert context.reads.get("country") == 31
