"""`contains`, `starts_with` and `ends_with` answer exactly as the spec defines them, whichever
way the engine searches (one search per value, an Aho-Corasick automaton over all of them, or a
trie for the elements of a list): checked against the definition for random values and strings
over a small alphabet, so that values overlap, share prefixes and suffixes, and repeat.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from launchsequence_engine import compile as compile_snapshot
from launchsequence_engine import evaluate, evaluate_all

ALPHABET = "abé😀"  # one, two and four UTF-8 bytes: code points, not bytes, are compared
OPS = ["contains", "starts_with", "ends_with"]

values = st.one_of(
    st.lists(st.text(ALPHABET, min_size=1, max_size=4), min_size=1, max_size=8),  # a few
    st.lists(st.text(ALPHABET, max_size=5), min_size=9, max_size=40),  # many, "" possible
    st.lists(st.text(ALPHABET, min_size=2, max_size=6), min_size=120, max_size=250),  # lots
)
texts = st.one_of(
    st.text(ALPHABET, max_size=12),
    st.text(ALPHABET, min_size=150, max_size=400),
    st.builds(lambda t, n: t * n, st.text("ab", min_size=1, max_size=3), st.integers(1, 300)),
)


def definition(op: str, wanted: list[str], text: str) -> bool:
    if op == "contains":
        return any(value in text for value in wanted)
    if op == "starts_with":
        return any(text[: len(value)] == value for value in wanted)
    return any(text[len(text) - len(value) :] == value for value in wanted)


def compiled_rule(op: str, wanted: list[str], negate: bool) -> Any:
    clause = {"attribute": "x", "op": op, "values": wanted, "negate": negate}
    flag = {
        "type": "boolean",
        "variations": [{"value": True}, {"value": False}],
        "on": True,
        "off_variation": 1,
        "rules": [{"id": "r", "clauses": [clause], "serve": {"variation": 0}}],
        "fallthrough": {"variation": 1},
    }
    return compile_snapshot({"schema_version": 1, "flags": {"f": flag}})


def matched(compiled: Any, attribute: Any) -> bool:
    context = {"key": "u", "x": attribute}
    one = evaluate(compiled, "f", context)
    every = evaluate_all(compiled, context)["f"]
    assert one == every
    assert one.reason in ("TARGETING_MATCH", "DEFAULT"), one
    return one.reason == "TARGETING_MATCH"


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(OPS), wanted=values, text=texts, negate=st.booleans())
@example(
    op="contains", wanted=["abab", "bab", *(f"é{i}" for i in range(10))], text="aabab", negate=False
)
@example(
    op="contains", wanted=["abcd", "bce", *(f"é{i}" for i in range(10))], text="abce", negate=False
)
@example(op="contains", wanted=["", *(f"é{i}" for i in range(10))], text="b" * 50, negate=False)
@example(op="starts_with", wanted=["", *(f"é{i}" for i in range(10))], text="", negate=False)
def test_a_string_attribute_matches_as_defined(
    op: str, wanted: list[str], text: str, negate: bool
) -> None:
    expected = definition(op, wanted, text) is not negate
    assert matched(compiled_rule(op, wanted, negate), text) is expected


@settings(max_examples=200, deadline=None)
@given(
    op=st.sampled_from(OPS),
    wanted=values,
    elements=st.lists(texts, max_size=6),
    negate=st.booleans(),
)
@example(
    op="ends_with", wanted=[f"{i}b" for i in range(12)], elements=["a", "b", "9b"], negate=False
)
def test_a_list_attribute_matches_when_an_element_does(
    op: str, wanted: list[str], elements: list[str], negate: bool
) -> None:
    """Also what the compiled snapshot keeps between evaluations (a built automaton or trie)
    must not change a later answer: the same compiled rule answers every element alone too."""
    compiled = compiled_rule(op, wanted, negate)
    found = any(definition(op, wanted, element) for element in elements)
    assert matched(compiled, elements) is (found is not negate)
    for element in elements:
        assert matched(compiled, element) is (definition(op, wanted, element) is not negate)
