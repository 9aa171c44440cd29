"""Segments that use segments: long chains, cycles, shared sub-segments and the depth limit.

Compiling must answer SnapshotError (never RecursionError) whatever the chain, name the same
segment whichever order the document lists them in, and in lenient mode set aside only the
flags that use a segment nested too deep. Evaluation decides each segment once, so segments
that use the next one twice do not double the work at each level. When the host's stack runs
out anyway, evaluation answers GENERAL instead of raising.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from launchsequence_engine import SnapshotError, evaluate, evaluate_all
from launchsequence_engine import compile as compile_snapshot

T = TypeVar("T")
LIMIT = 32  # spec/evaluation.md section 1: segments nest at most 32 deep


def flag(*uses: str) -> dict[str, Any]:
    rules = [
        {"id": f"uses-{key}", "clauses": [{"op": "segment_match", "values": [key]}]} for key in uses
    ]
    return {
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "on": True,
        "off_variation": 1,
        "rules": [{**rule, "serve": {"variation": 0}} for rule in rules],
        "fallthrough": {"variation": 1},
    }


def uses(*keys: str, rule: str = "next") -> dict[str, Any]:
    return {"id": rule, "clauses": [{"op": "segment_match", "values": list(keys)}]}


PRO = {"id": "pro", "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}]}


def chain(length: int, prefix: str = "s") -> dict[str, Any]:
    """s0 uses s1 uses ... uses s(length-1), which holds the contexts on plan pro."""
    return {
        f"{prefix}{i}": {"rules": [uses(f"{prefix}{i + 1}") if i + 1 < length else PRO]}
        for i in range(length)
    }


def snapshot(segments: dict[str, Any], **flags: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "flags": flags, "segments": segments}


def refusal(document: Any) -> dict[str, str]:
    with pytest.raises(SnapshotError) as caught:
        compile_snapshot(document)
    return caught.value.to_dict()


@pytest.mark.parametrize("length", [LIMIT + 1, 200, 5_000])
def test_a_chain_too_deep_is_refused_at_the_segment_that_passes_the_limit(length: int) -> None:
    culprit = length - LIMIT - 1  # s(culprit) is 33 deep and uses one 32 deep
    expected = {
        "segment": f"s{culprit}",
        "rule": "next",
        "path": "rules[0].clauses[0].values[0]",
    }
    segments = chain(length)
    forwards = refusal(snapshot(segments, f=flag("s0")))
    backwards = refusal(snapshot(dict(reversed(list(segments.items()))), f=flag("s0")))
    for error in (forwards, backwards):
        assert {name: error.get(name) for name in expected} == expected, error
        assert f"at most {LIMIT} deep" in error["message"]
        assert "flag" not in error  # found while checking the segments, before any flag


def test_a_chain_at_the_limit_compiles_and_evaluates() -> None:
    compiled = compile_snapshot(snapshot(chain(LIMIT), f=flag("s0")))
    assert evaluate(compiled, "f", {"key": "u", "plan": "pro"}).rule_id == "uses-s0"
    assert evaluate(compiled, "f", {"key": "u", "plan": "free"}).reason == "DEFAULT"


def test_lenient_compile_sets_aside_only_the_flags_using_a_segment_too_deep() -> None:
    document = snapshot(
        chain(200),
        deep=flag("s0"),
        also_deep=flag("s150"),  # 50 deep
        at_limit=flag("s168"),  # 32 deep
        plain=flag(),
    )
    compiled = compile_snapshot(document, strict=False)
    assert set(compiled.broken) == {"deep", "also_deep"}
    assert compiled.broken["deep"].segment == "s167"
    assert compiled.broken["deep"].flag == "deep"
    results = evaluate_all(compiled, {"key": "u", "plan": "pro"})
    assert {key: (r.reason, r.error_code) for key, r in results.items()} == {
        "deep": ("ERROR", "PARSE_ERROR"),
        "also_deep": ("ERROR", "PARSE_ERROR"),
        "at_limit": ("TARGETING_MATCH", None),
        "plain": ("STATIC", None),
    }


def test_a_long_cycle_is_refused_as_a_cycle() -> None:
    segments = {f"c{i}": {"rules": [uses(f"c{(i + 1) % 500}")]} for i in range(500)}
    error = refusal(snapshot(segments, f=flag("c0")))
    assert error["segment"] == "c499"  # the reference that closes the cycle, seen from c0
    assert error["path"] == "rules[0].clauses[0].values[0]"
    assert "cycle: c0 -> c1 -> " in error["message"]
    assert error["message"].endswith("c499 -> c0")


def test_a_long_chain_into_a_cycle_is_refused_as_a_cycle() -> None:
    segments = {**chain(300), "s299": {"rules": [uses("s250")]}}
    error = refusal(snapshot(segments, f=flag("s0")))
    assert (error["segment"], error["rule"]) == ("s299", "next")
    assert "cycle: s250 -> s251 -> " in error["message"]
    compiled = compile_snapshot(snapshot(segments, f=flag("s0"), g=flag()), strict=False)
    assert set(compiled.broken) == {"f"}


def test_a_segment_used_twice_at_every_level_is_decided_once_per_evaluation() -> None:
    """d0 uses d1 in two rules (and twice in one clause), d1 uses d2 the same way, and so on,
    32 deep: tested naively that is 3^31 evaluations of the last segment for a context that is
    in none of them. Each segment is decided once, so the answers come at once."""
    segments = {
        f"d{i}": {"rules": [uses(f"d{i + 1}", rule="a"), uses(f"d{i + 1}", f"d{i + 1}", rule="b")]}
        for i in range(LIMIT - 1)
    }
    segments[f"d{LIMIT - 1}"] = {"rules": [PRO]}
    compiled = compile_snapshot(snapshot(segments, f=flag("d0", "d1", "d5"), g=flag("d3")))
    assert evaluate(compiled, "f", {"key": "u", "plan": "free"}).reason == "DEFAULT"
    assert evaluate(compiled, "f", {"key": "u", "plan": "pro"}).rule_id == "uses-d0"
    results = evaluate_all(compiled, {"key": "u", "plan": "free"})
    assert [r.reason for r in results.values()] == ["DEFAULT", "DEFAULT"]


def _frames() -> int:
    frame = sys._getframe(1)
    count = 0
    while frame is not None:
        count += 1
        frame = frame.f_back  # type: ignore[assignment]
    return count


def _with_little_stack(work: Callable[[], T], spare: int) -> T:
    """Run `work` with only `spare` frames of stack left before RecursionError."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + spare)
    try:
        return work()
    finally:
        sys.setrecursionlimit(limit)


def test_running_out_of_stack_answers_general_instead_of_raising() -> None:
    """GENERAL is the engine's answer to its own failures (spec section 2): here the host left
    too little stack for a segment chain at the depth limit. Evaluation still returns."""
    compiled = compile_snapshot(snapshot(chain(LIMIT), f=flag("s0"), g=flag()))
    context = {"key": "u", "plan": "pro"}

    result = _with_little_stack(lambda: evaluate(compiled, "f", context, default=False), 30)
    assert (result.reason, result.error_code) == ("ERROR", "GENERAL")
    assert result.value is False and result.variation is None
    assert result.error_message is not None and "RecursionError" in result.error_message

    results = _with_little_stack(lambda: evaluate_all(compiled, context), 30)
    assert (results["f"].reason, results["f"].error_code) == ("ERROR", "GENERAL")
    assert results["g"].reason == "STATIC"  # the other flags are still answered

    # With the stack back, the same evaluation succeeds: the failure was the host's.
    assert evaluate(compiled, "f", context).rule_id == "uses-s0"
