"""EvaluationResult keeps Python's equality/hash contract: equal results hash alike."""

from __future__ import annotations

from launchsequence_engine import EvaluationResult


def test_equal_results_hash_alike_and_are_one_key() -> None:
    a = EvaluationResult("beta", True, 0, "on", "STATIC")
    b = EvaluationResult("beta", True, 0, "on", "STATIC")
    assert a == b and a is not b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: 1}[b] == 1
