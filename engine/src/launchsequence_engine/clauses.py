"""Clauses compiled into matchers: one attribute, one operator, a list of values, `negate`."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .errors import SnapshotError, shown
from .semver import parse_semver
from .strings import string_test
from .timestamps import parse_timestamp

__all__ = [
    "NOW_ATTRIBUTE",
    "OPERATORS",
    "Matcher",
    "Member",
    "Memo",
    "SegmentClause",
    "compile_clause",
]

Context = Mapping[str, Any]
Matcher = Callable[[Context, "float | None"], bool]
Test = Callable[[Any], bool]
#: What one evaluation has decided about segments: membership by the segment's `Member`.
Memo = dict[Any, bool]
#: A segment's membership test; it records its answer in the evaluation's memo.
Member = Callable[[Context, "float | None", Memo], bool]


class SegmentClause(Protocol):
    """A `segment_match` clause: a Matcher that also takes the evaluation's memo, so that each
    segment is decided at most once per evaluation however often it is used."""

    def __call__(self, context: Context, now: float | None, memo: Memo | None = None, /) -> bool:
        """Whether the context is (or with `negate`, is not) in one of the clause's segments."""


#: The clause attribute that reads the evaluation's `now` (Unix ms) instead of the context.
NOW_ATTRIBUTE = "$now"

OPERATORS = frozenset(
    {
        "in", "contains", "starts_with", "ends_with",
        "lt", "lte", "gt", "gte",
        "semver_eq", "semver_lt", "semver_gt",
        "before", "after",
        "segment_match",
    }
)  # fmt: skip

MAX_CLAUSE_VALUES = 10_000


def _is_number(value: Any) -> bool:
    kind = type(value)
    # Integers are finite whatever their size (math.isfinite would overflow on huge ones).
    return kind is int or (kind is float and math.isfinite(value))


def _values_of(raw: Mapping[str, Any], check: Callable[[Any], bool], kind: str) -> list[Any]:
    values = raw.get("values")
    if type(values) is not list or not values:
        raise SnapshotError("must be a non-empty list", path="values")
    if len(values) > MAX_CLAUSE_VALUES:
        raise SnapshotError(f"holds more than {MAX_CLAUSE_VALUES} values", path="values")
    for index, value in enumerate(values):
        if not check(value):
            raise SnapshotError(f"must be {kind}, got {shown(value)}", path=f"values[{index}]")
    return values


def _test_in(values: list[Any]) -> Test:
    strings = frozenset(v for v in values if type(v) is str)
    numbers = frozenset(v for v in values if type(v) is int or type(v) is float)
    booleans = frozenset(v for v in values if type(v) is bool)

    def test(value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return value in strings
        if kind is bool:
            return value in booleans
        if kind is int or kind is float:
            return value in numbers
        return False

    return test


def _test_numbers(op: str, values: list[float]) -> Test:
    # `x < any of values` is `x < max(values)`: one comparison whatever the list's length.
    if op == "lt":
        bound = max(values)
        return lambda v: (type(v) is int or type(v) is float) and v < bound
    if op == "lte":
        bound = max(values)
        return lambda v: (type(v) is int or type(v) is float) and v <= bound
    if op == "gt":
        bound = min(values)
        return lambda v: (type(v) is int or type(v) is float) and v > bound
    bound = min(values)
    return lambda v: (type(v) is int or type(v) is float) and v >= bound


def _test_semver(op: str, values: list[str]) -> Test:
    keys = [key for key in map(parse_semver, values) if key is not None]
    if op == "semver_eq":
        wanted = set(keys)

        def test_eq(value: Any) -> bool:
            return parse_semver(value) in wanted

        return test_eq
    if op == "semver_lt":
        high = max(keys)

        def test_lt(value: Any) -> bool:
            key = parse_semver(value)
            return key is not None and key < high

        return test_lt
    low = min(keys)

    def test_gt(value: Any) -> bool:
        key = parse_semver(value)
        return key is not None and key > low

    return test_gt


def _test_dates(op: str, values: list[Any]) -> Test:
    moments = [parse_timestamp(v) for v in values]
    if op == "before":
        latest = max(m for m in moments if m is not None)

        def test_before(value: Any) -> bool:
            moment = parse_timestamp(value)
            return moment is not None and moment < latest

        return test_before
    earliest = min(m for m in moments if m is not None)

    def test_after(value: Any) -> bool:
        moment = parse_timestamp(value)
        return moment is not None and moment > earliest

    return test_after


def _attribute_matcher(attribute: str, test: Test, negate: bool) -> Matcher:
    """Reads the attribute and applies `test` (to each element of a list); absent never matches."""
    if attribute == NOW_ATTRIBUTE:

        def match_now(context: Context, now: float | None) -> bool:
            if now is None:
                return False
            return test(now) is not negate

        return match_now

    def match(context: Context, now: float | None) -> bool:
        value = context.get(attribute)
        if value is None:
            return False
        if type(value) is list:
            return any(test(item) for item in value) is not negate
        return test(value) is not negate

    return match


def _in_matcher(attribute: str, values: list[Any], negate: bool) -> Matcher:
    """`in`, with the type dispatch of `_test_in` inline (no second call for a scalar)."""
    strings = frozenset(v for v in values if type(v) is str)
    numbers = frozenset(v for v in values if type(v) is int or type(v) is float)
    booleans = frozenset(v for v in values if type(v) is bool)
    test = _test_in(values)

    def match(context: Context, now: float | None) -> bool:
        value: Any = context.get(attribute)
        kind = type(value)
        if kind is str:
            return (value in strings) is not negate
        if kind is bool:
            return (value in booleans) is not negate
        if kind is int or kind is float:
            return (value in numbers) is not negate
        if value is None:
            return False
        if kind is list:
            return any(test(item) for item in value) is not negate
        return negate  # an object: never equal

    return match


def _string_op_matcher(
    attribute: str, check: Callable[[str, Any], bool], operand: Any, negate: bool, test: Test
) -> Matcher:
    """A string operator; `check(value, operand)` is a C function, `test` the same for lists."""

    def match(context: Context, now: float | None) -> bool:
        value = context.get(attribute)
        if type(value) is str:
            return check(value, operand) is not negate
        if value is None:
            return False
        if type(value) is list:
            return any(test(item) for item in value) is not negate
        return negate  # not a string: the operator is not satisfied

    return match


def _number_op_matcher(
    attribute: str, check: Callable[[Any, Any], bool], bound: Any, negate: bool, test: Test
) -> Matcher:
    """A numeric comparison against one bound; `check` is `operator.lt` and so on."""

    def match(context: Context, now: float | None) -> bool:
        value = context.get(attribute)
        kind = type(value)
        if kind is int or kind is float:
            return check(value, bound) is not negate
        if value is None:
            return False
        if kind is list:
            return any(test(item) for item in value) is not negate
        return negate  # not a number (a boolean, a numeric string): not satisfied

    return match


_STRING_CHECKS: dict[str, Callable[[str, Any], bool]] = {
    "contains": operator.contains,
    "starts_with": str.startswith,
    "ends_with": str.endswith,
}
_NUMBER_CHECKS: dict[str, tuple[Callable[[Any, Any], bool], Callable[[list[Any]], Any]]] = {
    "lt": (operator.lt, max),
    "lte": (operator.le, max),
    "gt": (operator.gt, min),
    "gte": (operator.ge, min),
}


def compile_clause(raw: Any, segment_member: Callable[[str], Member]) -> Matcher:
    """A matcher for one clause. Raises SnapshotError (path relative to the clause).

    `segment_member(key)` returns the membership test of a segment, raising SnapshotError for a
    segment the snapshot does not define. A `segment_match` clause's matcher is a SegmentClause.
    """
    if not isinstance(raw, Mapping):
        raise SnapshotError("must be an object")
    op = raw.get("op")
    if type(op) is not str or op not in OPERATORS:
        raise SnapshotError(f"unknown operator {shown(op)}", path="op")
    negate = raw.get("negate", False)
    if type(negate) is not bool:
        raise SnapshotError("must be true or false", path="negate")

    if op == "segment_match":
        keys = _values_of(raw, lambda v: type(v) is str, "a segment key")
        found: list[Member] = []
        for index, key in enumerate(keys):
            try:
                found.append(segment_member(key))
            except SnapshotError as exc:
                raise exc.within(prefix=f"values[{index}]") from None
        members = tuple(found)

        def match_segment(context: Context, now: float | None, memo: Memo | None = None) -> bool:
            if memo is None:
                memo = {}
            for member in members:
                if member(context, now, memo):
                    return not negate
            return negate

        return match_segment

    attribute = raw.get("attribute")
    if type(attribute) is not str or not attribute:
        raise SnapshotError("must be a non-empty string", path="attribute")

    if op == "in":
        values = _values_of(
            raw, lambda v: type(v) in (str, bool) or _is_number(v), "a string, number or boolean"
        )
        if attribute != NOW_ATTRIBUTE:
            return _in_matcher(attribute, values, negate)
        return _attribute_matcher(attribute, _test_in(values), negate)
    if op in ("contains", "starts_with", "ends_with"):
        values = _values_of(raw, lambda v: type(v) is str, "a string")
        test = string_test(op, values)
        if attribute == NOW_ATTRIBUTE or (op == "contains" and len(values) > 1):
            return _attribute_matcher(attribute, test, negate)
        # One needle, or the tuple of prefixes or suffixes str.startswith/endswith take.
        operand = values[0] if op == "contains" else tuple(values)
        return _string_op_matcher(attribute, _STRING_CHECKS[op], operand, negate, test)
    if op in ("lt", "lte", "gt", "gte"):
        values = _values_of(raw, _is_number, "a number")
        test = _test_numbers(op, values)
        if attribute == NOW_ATTRIBUTE:
            return _attribute_matcher(attribute, test, negate)
        # `x < any of values` is `x < max(values)`: one comparison whatever the list's length.
        check, pick = _NUMBER_CHECKS[op]
        return _number_op_matcher(attribute, check, pick(values), negate, test)
    if op.startswith("semver_"):
        values = _values_of(raw, lambda v: parse_semver(v) is not None, "a semantic version")
        return _attribute_matcher(attribute, _test_semver(op, values), negate)
    values = _values_of(
        raw,
        lambda v: parse_timestamp(v) is not None,
        "a timestamp (Unix milliseconds or an RFC 3339 date-time with a time zone)",
    )
    return _attribute_matcher(attribute, _test_dates(op, values), negate)
