"""Properties of the engine that hold for every input, checked with hypothesis and sampling.

What vectors cannot show: that evaluation never raises whatever the context, flag key or
default; that results do not depend on the process (hash seed); that rollouts split as weighted
and a salt reshuffles only its flag; that compilation fails only with SnapshotError; and that a
flag whose implementation fails answers GENERAL.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from launchsequence_engine import (
    CompiledSnapshot,
    EvaluationResult,
    SnapshotError,
    compile,  # noqa: A004
    evaluate,
    evaluate_all,
)

SRC = Path(__file__).resolve().parents[1] / "src"

REASONS = {"STATIC", "DISABLED", "TARGETING_MATCH", "SPLIT", "DEFAULT", "ERROR"}
ERROR_CODES = {
    "FLAG_NOT_FOUND",
    "TYPE_MISMATCH",
    "PARSE_ERROR",
    "TARGETING_KEY_MISSING",
    "INVALID_CONTEXT",
    "GENERAL",
}
HUGE = 10**400  # a JSON number Python parses as an int that no float can hold


def _clause(attribute: str, op: str, values: list[Any], negate: bool = False) -> dict[str, Any]:
    return {"attribute": attribute, "op": op, "values": values, "negate": negate}


def _rule(rule_id: str, clauses: list[dict[str, Any]], serve: dict[str, Any]) -> dict[str, Any]:
    return {"id": rule_id, "clauses": clauses, "serve": serve}


def _split(*weights: int, bucket_by: str | None = None) -> dict[str, Any]:
    rollout: dict[str, Any] = {
        "weights": [{"variation": i, "weight": w} for i, w in enumerate(weights)]
    }
    if bucket_by is not None:
        rollout["bucket_by"] = bucket_by
    return {"rollout": rollout}


V0, V1, V2 = {"variation": 0}, {"variation": 1}, {"variation": 2}

#: Every operator (plain and negated), `$now`, segments (nested), targets, rules without
#: clauses, rollouts by key and by attribute, two and three ways, in rules and fallthroughs.
FLAGS: dict[str, dict[str, Any]] = {
    "strings": {
        "type": "string",
        "variations": [{"value": "a", "name": "A"}, {"value": "b"}, {"value": "c"}],
        "on": True,
        "client_side": True,
        "off_variation": 0,
        "targets": [{"variation": 2, "values": ["user-1", "user-2"]}],
        "rules": [
            _rule("in", [_clause("country", "in", ["DE", "FR", "é"])], V1),
            _rule("contains", [_clause("email", "contains", ["@corp"])], V2),
            _rule("contains-any", [_clause("username", "contains", ["x", "y"])], V1),
            _rule("starts", [_clause("username", "starts_with", ["admin-", "root-"])], V2),
            _rule("ends", [_clause("email", "ends_with", [".org"])], V1),
            _rule("not-in", [_clause("plan", "in", ["free", "trial"], negate=True)], V2),
            _rule("not-ends", [_clause("email", "ends_with", [".com"], negate=True)], V0),
        ],
        "fallthrough": V0,
    },
    "numbers": {
        "type": "number",
        "variations": [{"value": 0}, {"value": 1.5}, {"value": -7}],
        "on": True,
        "off_variation": 0,
        "rules": [
            _rule("lt", [_clause("age", "lt", [18, 13.5])], V1),
            _rule("lte", [_clause("age", "lte", [21])], V2),
            _rule("gt", [_clause("score", "gt", [99.5, 1000])], _split(50_000, 50_000)),
            _rule("gte", [_clause("age", "gte", [65])], V1),
            _rule("not-gte", [_clause("score", "gte", [10], negate=True)], V2),
            _rule("in-mixed", [_clause("tier", "in", [1, 2.5, True, "1"])], V1),
            _rule("in-now", [_clause("$now", "in", [1767225600000])], V2),
            _rule("gt-now", [_clause("$now", "gt", [1767225600000])], V0),
        ],
        "fallthrough": _split(20_000, 30_000, 50_000),
    },
    "versions": {
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "on": True,
        "client_side": True,
        "off_variation": 1,
        "rules": [
            _rule("eq", [_clause("version", "semver_eq", ["1.2", "2.0.0-rc.1+build"])], V0),
            _rule("lt", [_clause("version", "semver_lt", ["1.0.0-alpha.1"])], V1),
            _rule("gt", [_clause("version", "semver_gt", ["3"])], V0),
            _rule("not-gt", [_clause("app", "semver_gt", ["2.1.0"], negate=True)], V1),
        ],
        "fallthrough": _split(30_000, 70_000),
    },
    "dates": {
        "type": "json",
        "variations": [{"value": {"layout": "new"}}, {"value": [1, "two"]}, {"value": "plain"}],
        "on": True,
        "off_variation": 2,
        "rules": [
            _rule("before", [_clause("created", "before", ["2026-01-01T00:00:00Z"])], V0),
            _rule(
                "after",
                [_clause("created", "after", [1767225600000, "2027-01-01 00:00:00+02:00"])],
                V1,
            ),
            _rule("launch", [_clause("$now", "after", ["2026-12-01T00:00:00z"])], V2),
            _rule("not-before", [_clause("$now", "before", [0], negate=True)], V1),
        ],
        "fallthrough": _split(0, 60_000, 40_000, bucket_by="org"),
    },
    "segments": {
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "on": True,
        "off_variation": 1,
        "targets": [{"variation": 1, "values": ["user-3"]}],
        "rules": [
            _rule("beta", [{"op": "segment_match", "values": ["beta", "empty"]}], V0),
            _rule(
                "both",
                [
                    _clause("country", "in", ["US"]),
                    {"op": "segment_match", "values": ["staff"], "negate": True},
                ],
                _split(50_000, 50_000, bucket_by="email"),
            ),
            _rule("rest", [], _split(10_000, 90_000)),
        ],
        "fallthrough": V1,
    },
    "targets-only": {
        "type": "string",
        "variations": [{"value": "x"}, {"value": "y"}],
        "on": True,
        "off_variation": 0,
        "targets": [
            {"variation": 0, "values": ["user-1"]},
            {"variation": 1, "values": ["user-2", "user-3"]},
        ],
        "fallthrough": V0,
    },
    "off": {
        "type": "number",
        "variations": [{"value": 1}, {"value": 2}],
        "on": False,
        "client_side": True,
        "off_variation": 1,
        "targets": [{"variation": 0, "values": ["user-1"]}],
        "rules": [_rule("r", [], V0)],
        "fallthrough": V0,
    },
    "split": {
        "key": "split",
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "salt": "s41t",
        "on": True,
        "off_variation": 1,
        "fallthrough": _split(50_000, 50_000),
    },
}
SEGMENTS: dict[str, dict[str, Any]] = {
    "beta": {
        "included": ["user-1"],
        "excluded": ["user-9"],
        "rules": [
            {"id": "pro", "clauses": [_clause("plan", "in", ["pro", "enterprise"])]},
            {"id": "staff", "clauses": [{"op": "segment_match", "values": ["staff"]}]},
        ],
    },
    "staff": {"rules": [{"id": "corp", "clauses": [_clause("email", "ends_with", ["@corp"])]}]},
    "empty": {},
}
SNAPSHOT: dict[str, Any] = {
    "schema_version": 1,
    "project": "default",
    "environment": "test",
    "version": 3,
    "flags": FLAGS,
    "segments": SEGMENTS,
}
COMPILED = compile(SNAPSHOT)

ATTRIBUTES = [
    "key", "country", "email", "username", "plan", "age", "score", "tier", "version", "app",
    "created", "org", "$now",
]  # fmt: skip
KEYS = ["user-1", "user-2", "user-3", "user-9", "u", "ü", "", " ", "\ud800", "a\udfffb"]
STRINGS = [
    "DE", "FR", "US", "é", "e\u0301", "free", "pro", "enterprise", "a@corp", "b@x.org", "c@y.com",
    "admin-1", "root-", "xy", "1", "true", "1.2.0", "1.2", "2.0.0-rc.1", "1.0.0-alpha", "3.0.1",
    "01.2.3", "v1.2.3", "2026-01-01T00:00:00Z", "2025-12-31t23:59:59.999999999+01:00",
    "2027-06-01 10:00:00-05:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z", "\x00", "\ufeff", "\U0001d518\U0001d52b", "שלום", "\u202e", "\udc00",
    "acme\ud83d", "\ud83d\ude00",
    "a" * 300,
]  # fmt: skip
NUMBERS = [0, 1, -1, 1.0, 2.5, 13.5, 18, 21, 65, 99.5, 1000, 2**53 + 1, 2**64, -(2**70), HUGE]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(NUMBERS),
    st.floats(),  # NaN and infinities included: Python's json reads them
    st.text(max_size=12),
    st.sampled_from(STRINGS + KEYS),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(ATTRIBUTES)), children, max_size=4
        ),
    ),
    max_leaves=10,
)
contexts = st.one_of(
    json_values,
    st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries(
            {},
            optional={"key": st.one_of(st.sampled_from(KEYS), json_values)}
            | {name: json_values for name in ATTRIBUTES[1:]},
        ),
        st.dictionaries(st.text(max_size=6), json_values, max_size=2),
    ),
)
flag_keys = st.one_of(st.sampled_from([*FLAGS, "missing", ""]), st.text(max_size=8), json_values)
nows = st.one_of(st.none(), st.integers(), st.floats(), st.sampled_from([1767225600000, HUGE]))


def _valid(flag_key: Any, context: Any, now: Any) -> bool:
    """Whether the input is one a caller may send, so that GENERAL would be the engine's fault.

    Not valid: a flag key that is not a string, a `now` no float can hold. Strings with lone
    surrogates (which json.loads makes of "\\ud800") are valid: they hash as U+FFFD.
    """
    if not isinstance(flag_key, str):
        return False
    try:
        float(now or 0)
    except OverflowError:
        return False
    return True


def _check_result(result: Any, flag_key: Any, default: Any, valid: bool) -> None:
    assert isinstance(result, EvaluationResult)
    assert result.reason in REASONS
    if result.reason == "ERROR":
        assert result.error_code in ERROR_CODES
        assert result.value is default
        assert result.variation is None and result.variant is None
        assert result.rule_id is None and result.rule_index is None
        if result.error_code == "GENERAL":
            # Reserved for failures of the engine itself: no valid input may produce it.
            assert not valid, result
        return
    raw = FLAGS[flag_key]
    assert result.key == flag_key
    assert result.error_code is None
    assert type(result.variation) is int
    assert result.value == raw["variations"][result.variation]["value"]
    assert result.variant == raw["variations"][result.variation].get("name", str(result.variation))
    if result.rule_index is None:
        assert result.rule_id is None
    else:
        assert result.rule_id == raw["rules"][result.rule_index]["id"]
    result.to_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context=contexts, flag_key=flag_keys, default=json_values, now=nows)
@example(context={"key": "u", "created": HUGE}, flag_key="dates", default=None, now=None)
@example(context={"key": "u", "org": HUGE}, flag_key="dates", default=None, now=None)
@example(context={"key": "u"}, flag_key="numbers", default=HUGE, now=None)
@example(context={"key": "u"}, flag_key="dates", default=None, now=HUGE)
@example(context={"key": "\ud800", "org": "a\udfff"}, flag_key="dates", default=None, now=None)
@example(context={"key": "x\udc00"}, flag_key="split", default=None, now=None)
@example(
    context={"key": "u", "version": "1.2.3-" + "a" * 300},
    flag_key="versions",
    default=None,
    now=None,
)
def test_evaluate_never_raises(context: Any, flag_key: Any, default: Any, now: Any) -> None:
    valid = _valid(flag_key, context, now)
    result = evaluate(COMPILED, flag_key, context, default, now=now)
    _check_result(result, flag_key, default, valid)
    if isinstance(flag_key, str) and flag_key in FLAGS and default is None:
        # The same context through every flag: every rule's matcher sees it.
        for key in FLAGS:
            _check_result(evaluate(COMPILED, key, context, now=now), key, None, valid)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context=contexts, now=nows, client_side_only=st.booleans())
@example(context={"key": "u", "created": HUGE, "org": HUGE}, now=None, client_side_only=False)
def test_evaluate_all_never_raises(context: Any, now: Any, client_side_only: bool) -> None:
    results = evaluate_all(COMPILED, context, now=now, client_side_only=client_side_only)
    expected = [k for k, f in FLAGS.items() if f.get("client_side") or not client_side_only]
    assert list(results) == expected
    valid = _valid("", context, now)
    for flag_key, result in results.items():
        _check_result(result, flag_key, None, valid)
        assert result == evaluate(COMPILED, flag_key, context, now=now)


# --- Determinism across processes ---------------------------------------------------------


def _sample_pairs(count: int, seed: int) -> list[dict[str, Any]]:
    """(flag, context, now) triples that reach targets, every rule and every rollout."""
    rng = random.Random(seed)
    pools: dict[str, list[Any]] = {
        "country": ["DE", "US", "é", 1],
        "email": ["a@corp", "b@x.org", "c@y.com", ["d@corp", 2]],
        "username": ["admin-1", "xy", "q"],
        "plan": ["free", "pro", None],
        "age": [12, 18, 21, 40, 70, "70"],
        "score": [5, 50, 100, 2000, True],
        "tier": [1, 1.0, 2.5, True, "1", [3, 1]],
        "version": ["1.2.0", "0.9.0", "1.0.0-alpha", "3.0.1", "bad"],
        "app": ["2.1.0", "2.2.0"],
        "created": ["2025-06-01T00:00:00Z", 1767225600001, "2028-01-01T00:00:00+00:00"],
        "org": [42, 42.0, "acme", 4.5, None, "acme\ud800"],
    }
    pairs = []
    for i in range(count):
        context: dict[str, Any] = {"key": rng.choice(KEYS[:4]) if i % 5 == 0 else f"k-{i}"}
        for name, pool in pools.items():
            if rng.random() < 0.4:
                context[name] = rng.choice(pool)
        now = rng.choice([None, 1767225600000, 1796083200001])
        pairs.append({"flag": list(FLAGS)[i % len(FLAGS)], "context": context, "now": now})
    return pairs


def _results(compiled: CompiledSnapshot, pairs: list[dict[str, Any]]) -> list[Any]:
    out = []
    for pair in pairs:
        result = evaluate(compiled, pair["flag"], pair["context"], now=pair["now"])
        out.append(result.to_dict())
    out.append({k: r.to_dict() for k, r in evaluate_all(compiled, pairs[1]["context"]).items()})
    return out


_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from launchsequence_engine import compile, evaluate, evaluate_all
data = json.load(sys.stdin)
compiled = compile(data["snapshot"])
out = []
for pair in data["pairs"]:
    out.append(evaluate(compiled, pair["flag"], pair["context"], now=pair["now"]).to_dict())
first = data["pairs"][1]["context"]
out.append({k: r.to_dict() for k, r in evaluate_all(compiled, first).items()})
json.dump(out, sys.stdout)
"""


def test_results_do_not_depend_on_the_process() -> None:
    pairs = _sample_pairs(300, seed=7)
    expected = json.loads(json.dumps(_results(COMPILED, pairs)))
    assert sum(r.get("reason") == "SPLIT" for r in expected[:-1]) >= 30
    assert {r.get("rule_id") for r in expected[:-1]} >= {"in", "gt", "eq", "after", "beta"}
    payload = json.dumps({"snapshot": SNAPSHOT, "pairs": pairs})
    children = {}
    for seed in ("0", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        children[seed] = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(SRC)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    for seed, child in children.items():
        out, err = child.communicate(payload, timeout=120)
        assert child.returncode == 0, err
        assert json.loads(out) == expected, f"PYTHONHASHSEED={seed} gave other results"


# --- Rollouts ------------------------------------------------------------------------------


def _uuid_like(rng: random.Random) -> str:
    digits = f"{rng.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _rollout_flag(weights: tuple[int, ...], salt: str | None = None) -> dict[str, Any]:
    flag: dict[str, Any] = {
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "on": True,
        "off_variation": 1,
        "fallthrough": _split(*weights),
    }
    if salt is not None:
        flag["salt"] = salt
    return flag


def test_a_30_70_rollout_splits_100k_keys_within_one_percent() -> None:
    compiled = compile({"schema_version": 1, "flags": {"f": _rollout_flag((30_000, 70_000))}})
    rng = random.Random(20260101)
    counts = [0, 0]
    for _ in range(100_000):
        result = evaluate(compiled, "f", {"key": _uuid_like(rng)})
        assert result.reason == "SPLIT"
        counts[result.variation] += 1  # type: ignore[index]
    assert 29_000 <= counts[0] <= 31_000, counts
    assert 69_000 <= counts[1] <= 71_000, counts


def test_changing_a_salt_reshuffles_that_flag_only() -> None:
    def snapshot(salt_a: str) -> Any:
        flags = {
            "flag-a": _rollout_flag((50_000, 50_000), salt=salt_a),
            "flag-b": _rollout_flag((50_000, 50_000)),
        }
        return compile({"schema_version": 1, "flags": flags})

    before, after = snapshot("first-salt"), snapshot("second-salt")
    rng = random.Random(99)
    keys = [_uuid_like(rng) for _ in range(20_000)]
    flipped = 0
    for key in keys:
        context = {"key": key}
        assert evaluate(before, "flag-b", context) == evaluate(after, "flag-b", context)
        flipped += (
            evaluate(before, "flag-a", context).variation
            != evaluate(after, "flag-a", context).variation
        )
    assert 0.40 <= flipped / len(keys) <= 0.60, flipped


# --- Compilation ---------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    document = copy.deepcopy(document)
    if not path:
        return new
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return document


#: Paths inside one flag or segment (not the whole `flags`/`segments` object).
INNER_PATHS = [p for p in _paths(SNAPSHOT) if len(p) >= 2 and p[0] in ("flags", "segments")]
ALL_PATHS = list(_paths(SNAPSHOT))

snapshots = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "schema_version": st.one_of(st.just(1), json_values),
            "version": st.one_of(st.integers(min_value=0), json_values),
            "flags": st.one_of(st.dictionaries(st.text(max_size=6), json_values), json_values),
            "segments": st.one_of(st.dictionaries(st.text(max_size=6), json_values), json_values),
        },
    ),
)


def _compiles_or_refuses(document: Any, *, strict: bool) -> CompiledSnapshot | None:
    try:
        return compile(document, strict=strict)
    except SnapshotError:
        return None


def _check_lenient(document: Any) -> None:
    compiled = compile(document, strict=False)  # must not raise at all
    flags = document.get("flags", {})
    assert set(compiled.flags) | set(compiled.broken) == set(flags)
    assert not set(compiled.flags) & set(compiled.broken)
    everything = evaluate_all(compiled, {"key": "user-1"})
    for key in compiled.broken:
        result = evaluate(compiled, key, {"key": "user-1"})
        assert (result.reason, result.error_code) == ("ERROR", "PARSE_ERROR"), result
        assert (everything[key].reason, everything[key].error_code) == ("ERROR", "PARSE_ERROR")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=snapshots, strict=st.booleans())
def test_compile_refuses_arbitrary_json_only_with_snapshot_error(
    document: Any, strict: bool
) -> None:
    _compiles_or_refuses(document, strict=strict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ALL_PATHS), new=json_values)
@example(path=("flags", "numbers", "variations", 0, "value"), new=HUGE)
@example(path=("flags", "numbers", "rules", 0, "clauses", 0, "values", 0), new=HUGE)
@example(path=("flags", "dates", "rules", 0, "clauses", 0, "values", 0), new=HUGE)
@example(path=("flags", "strings", "rules", 0, "clauses", 0, "op"), new=[])
@example(path=("flags", "strings", "type"), new={})
def test_compile_of_a_mutated_snapshot_raises_only_snapshot_error(
    path: tuple[Any, ...], new: Any
) -> None:
    document = _replace(SNAPSHOT, path, new)
    for strict in (True, False):
        _compiles_or_refuses(document, strict=strict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(INNER_PATHS), new=json_values)
@example(path=("flags", "strings", "rules", 0, "clauses", 0, "op"), new=[])
@example(path=("flags", "numbers", "variations", 0, "value"), new=HUGE)
@example(path=("segments", "staff", "rules", 0, "clauses", 0, "values"), new=["beta"])
def test_lenient_compile_sets_aside_only_broken_flags(path: tuple[Any, ...], new: Any) -> None:
    _check_lenient(_replace(SNAPSHOT, path, new))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flags=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    segments=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
)
def test_lenient_compile_never_raises_when_flags_and_segments_are_objects(
    flags: dict[str, Any], segments: dict[str, Any]
) -> None:
    _check_lenient({"schema_version": 1, "flags": flags, "segments": segments})


def _nested(depth: int) -> Any:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "path",
    [
        ("schema_version",),
        ("flags", "numbers", "rules", 0, "clauses", 0, "values", 0),
        ("flags", "strings", "rules", 0, "clauses", 0, "op"),
        ("flags", "strings", "targets", 0, "values", 0),
        ("segments", "beta", "rules", 0, "clauses", 0, "values", 0),
    ],
)
def test_values_nested_deeper_than_the_stack_are_refused_with_snapshot_error(
    path: tuple[Any, ...],
) -> None:
    """An error message describes the faulty value: one nested 100,000 deep (Python callers can
    build one; JSON parsers stop sooner) is described briefly, without running out of stack."""
    document = _replace(SNAPSHOT, path, _nested(100_000))
    with pytest.raises(SnapshotError) as caught:
        compile(document)
    assert len(str(caught.value)) < 300
    if path[0] == "schema_version":
        with pytest.raises(SnapshotError):
            compile(document, strict=False)
    else:  # only the flag at fault, or the one using the segment at fault, is set aside
        broken = path[1] if path[0] == "flags" else "segments"
        assert set(compile(document, strict=False).broken) == {broken}


def test_the_mutations_reach_deep_fields() -> None:
    assert len(INNER_PATHS) > 200
    assert ("flags", "dates", "fallthrough", "rollout", "bucket_by") in INNER_PATHS


# --- What vectors cannot show ----------------------------------------------------------------


def _with_failing_run(flag_key: str) -> CompiledSnapshot:
    def run(context: Any, key: str, now: float | None) -> EvaluationResult:
        raise RuntimeError("the engine failed")

    flags = dict(COMPILED.flags)
    flags[flag_key] = dataclasses.replace(COMPILED.flags[flag_key], run=run)
    return dataclasses.replace(COMPILED, flags=flags)


def test_a_failing_flag_answers_general_instead_of_raising() -> None:
    compiled = _with_failing_run("strings")
    result = evaluate(compiled, "strings", {"key": "user-1"}, default="fallback")
    assert result.reason == "ERROR"
    assert result.error_code == "GENERAL"
    assert result.value == "fallback"
    assert result.variation is None and result.variant is None
    assert result.error_message is not None and "the engine failed" in result.error_message


def test_a_failing_flag_does_not_hide_the_others_in_evaluate_all() -> None:
    compiled = _with_failing_run("strings")
    results = evaluate_all(compiled, {"key": "user-1"})
    assert list(results) == list(FLAGS)
    assert (results["strings"].reason, results["strings"].error_code) == ("ERROR", "GENERAL")
    assert results["strings"].value is None
    for key, result in results.items():
        if key != "strings":
            assert result == evaluate(COMPILED, key, {"key": "user-1"})
            assert result.reason != "ERROR"


def test_context_checks_come_before_the_flag_runs() -> None:
    compiled = _with_failing_run("strings")
    assert evaluate(compiled, "strings", {"key": 5}).error_code == "INVALID_CONTEXT"
    assert evaluate(compiled, "strings", []).error_code == "INVALID_CONTEXT"
    assert evaluate(compiled, "strings", {"key": "u"}, default=1).error_code == "TYPE_MISMATCH"


def test_results_are_shared_and_immutable() -> None:
    first = evaluate(COMPILED, "targets-only", {"key": "user-2"})
    again = evaluate(COMPILED, "targets-only", {"key": "user-3", "other": 1})
    assert first is again  # one prebuilt result per outcome, not one per evaluation
    assert evaluate(COMPILED, "split", {"key": "k"}) is evaluate(COMPILED, "split", {"key": "k"})
    assert dataclasses.is_dataclass(first)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.value = "z"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        first.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(first, "__dict__")
    assert evaluate(COMPILED, "targets-only", {"key": "user-2"}).value == "y"


def test_a_huge_number_is_still_a_number() -> None:
    """JSON numbers have no range: Python reads 1e400-sized integers exactly."""
    result = evaluate(COMPILED, "numbers", {"key": "u", "age": HUGE})
    assert result.reason != "ERROR", result  # gte 65 matches
    assert result.rule_id == "gte"
