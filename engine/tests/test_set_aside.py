"""One flag that cannot be compiled is set aside, whatever the failure: the others still work.

The vectors pin the `set_aside` member the server writes (spec/vectors/*set-aside*); these
tests cover failures no JSON document can cause, such as a fault inside the compiler itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from launchsequence_engine import ErrorCode, Reason, SnapshotError, evaluate, evaluate_all
from launchsequence_engine import compile as compile_snapshot

OK = {
    "type": "boolean",
    "variations": [{"value": True}, {"value": False}],
    "on": True,
    "off_variation": 1,
    "fallthrough": {"variation": 0},
}


class Exploding(Mapping[str, Any]):
    """A flag document whose `rules` cannot be read: a fault the compiler does not expect."""

    def __init__(self) -> None:
        self._data = {**OK, "rules": None}

    def __getitem__(self, name: str) -> Any:
        if name == "rules":
            raise RuntimeError("the rules are gone")
        return self._data[name]

    def get(self, name: str, default: Any = None) -> Any:
        if name == "rules":
            raise RuntimeError("the rules are gone")
        return self._data.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def snapshot() -> dict[str, Any]:
    return {"schema_version": 1, "version": 1, "flags": {"bad": Exploding(), "ok": OK}}


def test_a_flag_whose_compilation_fails_unexpectedly_is_set_aside_alone() -> None:
    compiled = compile_snapshot(snapshot(), strict=False)
    bad = evaluate(compiled, "bad", {"key": "u"}, False)
    assert (bad.reason, bad.error_code, bad.value) == (Reason.ERROR, ErrorCode.PARSE_ERROR, False)
    assert "RuntimeError: the rules are gone" in (bad.error_message or "")
    assert evaluate(compiled, "ok", {"key": "u"}).value is True
    every = evaluate_all(compiled, {"key": "u"})
    assert every["bad"].error_code == ErrorCode.PARSE_ERROR
    assert every["ok"].value is True


def test_strict_compilation_reports_it_as_the_flags_fault() -> None:
    with pytest.raises(SnapshotError) as caught:
        compile_snapshot(snapshot())
    assert caught.value.flag == "bad"
    assert "cannot be compiled" in caught.value.problem
