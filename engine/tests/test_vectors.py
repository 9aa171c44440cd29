"""Runs every vector in spec/vectors/ against the engine, as spec/evaluation.md section 6 says.

Also checks the vectors themselves: their number, their descriptions, and that vectors, snapshots,
contexts and the engine's results follow the JSON Schemas in spec/schemas/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from launchsequence_engine import SnapshotError, bucket, evaluate, evaluate_all
from launchsequence_engine import compile as compile_snapshot

SPEC = Path(__file__).resolve().parents[2] / "spec"
VECTORS = sorted((SPEC / "vectors").glob("*.json"))
#: Results whose context is deliberately not a valid context (so not checked against its schema).
CONTEXT_ERRORS = {"INVALID_CONTEXT"}
#: In `expected`, these must be absent or null in the result when the vector leaves them out.
ABSENT_MEANS_NULL = ("error_code", "rule_id", "rule_index", "prerequisite")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def validator(name: str) -> Draft202012Validator:
    schema = load(SPEC / "schemas" / name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def snapshot_of(vector: dict[str, Any]) -> Any:
    """The vector's snapshot, expanding the `flag` shorthand."""
    if "flag" in vector:
        flag = vector["flag"]
        return {"schema_version": 2, "version": 1, "flags": {flag["key"]: flag}, "segments": {}}
    return vector["snapshot"]


def same(actual: Any, expected: Any) -> bool:
    """JSON equality: `1` equals `1.0`, but `true` is not `1`."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return actual == expected
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return type(actual) is type(expected) and actual == expected


def check_result(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for name, want in expected.items():
        got = actual.get(name)
        assert same(got, want), f"{where}: {name} is {got!r}, expected {want!r} in {actual!r}"
    for name in ABSENT_MEANS_NULL:
        if name not in expected:
            assert actual.get(name) is None, f"{where}: unexpected {name} in {actual!r}"


def evaluations(vector: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """(context, expected result) of every evaluation and evaluate_all entry of a vector."""
    out: list[tuple[Any, dict[str, Any]]] = []
    for item in vector.get("evaluations", []):
        out.append((item["context"], item["expected"]))
    for item in vector.get("evaluate_all", []):
        for expected in item["expected"].values():
            out.append((item["context"], expected))
    return out


@pytest.mark.parametrize("path", VECTORS, ids=[p.name for p in VECTORS])
def test_vector(path: Path) -> None:
    vector = load(path)
    snapshot = snapshot_of(vector)
    strict = vector.get("strict", True)

    for pin in vector.get("buckets", []):
        got = bucket(pin["flag"], pin["salt"], pin["value"])
        assert got == pin["bucket"], f"bucket{(pin['flag'], pin['salt'], pin['value'])} is {got}"

    if "compile_error" in vector:
        with pytest.raises(SnapshotError) as caught:
            compile_snapshot(snapshot, strict=strict)
        error = caught.value.to_dict()
        for name, want in vector["compile_error"].items():
            assert error.get(name) == want, f"{name} is {error.get(name)!r}, not {want!r}: {error}"
        return

    compiled = compile_snapshot(snapshot, strict=strict)
    for i, item in enumerate(vector["evaluations"]):
        result = evaluate(
            compiled, item["flag"], item["context"], item.get("default"), now=item.get("now")
        )
        assert result.key == item["flag"]
        check_result(result.to_dict(), item["expected"], f"evaluations[{i}]")
    for i, item in enumerate(vector.get("evaluate_all", [])):
        results = evaluate_all(compiled, item["context"])
        assert results.keys() == item["expected"].keys(), f"evaluate_all[{i}]: {list(results)}"
        for flag_key, expected in item["expected"].items():
            assert results[flag_key].key == flag_key
            check_result(results[flag_key].to_dict(), expected, f"evaluate_all[{i}].{flag_key}")


def test_there_are_enough_vectors() -> None:
    assert len(VECTORS) >= 80


@pytest.mark.parametrize("path", VECTORS, ids=[p.name for p in VECTORS])
def test_vector_description(path: Path) -> None:
    description = load(path)["description"]
    assert description.startswith("Given ")
    assert " when " in description
    assert " then " in description
    assert "\n" not in description


def test_vectors_follow_the_schemas() -> None:
    vector_schema = validator("vector.schema.json")
    snapshot_schema = validator("snapshot.schema.json")
    context_schema = validator("context.schema.json")
    result_schema = validator("result.schema.json")
    problems: list[str] = []

    def check(schema: Draft202012Validator, instance: Any, where: str) -> None:
        problems.extend(f"{where}: {e.message}" for e in schema.iter_errors(instance))

    for path in VECTORS:
        vector = load(path)
        name = path.name
        check(vector_schema, vector, name)
        if "compile_error" in vector:
            continue  # deliberately invalid: see test_invalid_snapshots_fail_the_snapshot_schema
        snapshot = snapshot_of(vector)
        if vector.get("strict", True):
            check(snapshot_schema, snapshot, f"{name} snapshot")
        for context, expected in evaluations(vector):
            deliberately_invalid = expected.get("error_code") in CONTEXT_ERRORS
            if isinstance(context, dict) and not deliberately_invalid:
                check(context_schema, context, f"{name} context")
            if deliberately_invalid:
                assert not context_schema.is_valid(context), f"{name}: context is valid"

        compiled = compile_snapshot(snapshot, strict=vector.get("strict", True))
        for item in vector["evaluations"]:
            result = evaluate(
                compiled, item["flag"], item["context"], item.get("default"), now=item.get("now")
            )
            check(result_schema, result.to_dict(), f"{name} result")
        for item in vector.get("evaluate_all", []):
            for result in evaluate_all(compiled, item["context"]).values():
                check(result_schema, result.to_dict(), f"{name} evaluate_all result")

    assert not problems, "\n".join(problems)


def test_invalid_snapshots_fail_the_snapshot_schema() -> None:
    """The deliberately invalid snapshots of compile_error vectors are caught by the schema too,
    where a schema can express the rule (not sums, uniqueness, references or cycles)."""
    snapshot_schema = validator("snapshot.schema.json")
    schema_blind = {
        "compile-duplicate-target-key.json",
        "compile-weights-sum-fallthrough.json",
        "compile-weights-sum-rule.json",
        "compile-weight-variation-twice.json",
        "compile-off-variation-out-of-range.json",
        "compile-duplicate-rule-id.json",
        "compile-flag-key-mismatch.json",
        "compile-flag-missing-segment.json",
        "compile-segment-missing-segment.json",
        "compile-segment-nested-missing-segment.json",
        "compile-segment-cycle-self.json",
        "compile-segment-cycle.json",
        "compile-segment-too-deep.json",
        "compile-set-aside-flag.json",  # a valid snapshot: the server set the flag aside
        "compile-prerequisite-cycle.json",
        "compile-prerequisite-self.json",
        "compile-prerequisite-variation-out-of-range.json",
        "compile-prerequisite-twice.json",
        "compile-prerequisite-too-deep.json",
    }
    for path in VECTORS:
        vector = load(path)
        if "compile_error" not in vector or path.name in schema_blind:
            continue
        assert not snapshot_schema.is_valid(snapshot_of(vector)), path.name
