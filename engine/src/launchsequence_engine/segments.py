"""Segments: reusable sets of contexts, by included keys, excluded keys and rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from .clauses import Matcher, Member, Memo, SegmentClause
from .errors import SnapshotError, shown
from .flags import MAX_RULES, MAX_TARGET_KEYS, compile_clauses
from .nesting import nesting_faults

__all__ = ["SegmentTable"]

#: A segment rule: its plain clauses and its `segment_match` clauses, all ANDed.
_Rule = tuple[tuple[Matcher, ...], tuple[SegmentClause, ...]]


class SegmentTable:
    """Compiles a snapshot's segments on demand, so that segments may refer to each other.

    `matcher(key)` raises SnapshotError for a segment the snapshot does not define, for a
    segment that fails to compile, for segments that refer to each other in a cycle and for a
    segment nested too deep (`nesting.py`, worked out when the table is made). Compiling a
    segment compiles the segments it uses first, at most MAX_SEGMENT_DEPTH levels down.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw
        self._compiled: dict[str, Member] = {}
        self._failed: dict[str, SnapshotError] = nesting_faults(raw)

    def matcher(self, key: str) -> Member:
        done = self._compiled.get(key)
        if done is not None:
            return done
        if key in self._failed:
            raise self._failed[key]
        if key not in self._raw:
            raise SnapshotError(f"refers to segment {shown(key)}, which does not exist")
        try:
            member = self._compile(key, self._raw[key])
        except SnapshotError as exc:
            error = exc if exc.segment is not None else exc.within(segment=key)
            self._failed[key] = error
            raise error from None
        self._compiled[key] = member
        return member

    def _compile(self, key: str, raw: Any) -> Member:
        if not isinstance(raw, Mapping):
            raise SnapshotError("must be an object")
        if raw.get("key", key) != key:
            raise SnapshotError(f"does not match the segment's key {key!r}", path="key")
        included = _keys(raw.get("included", []), "included")
        excluded = _keys(raw.get("excluded", []), "excluded")
        rules_raw = raw.get("rules", [])
        if type(rules_raw) is not list or len(rules_raw) > MAX_RULES:
            raise SnapshotError(f"must be a list of at most {MAX_RULES} rules", path="rules")
        rules: list[_Rule] = []
        seen: set[str] = set()
        for i, rule in enumerate(rules_raw):
            if not isinstance(rule, Mapping):
                raise SnapshotError("must be an object", path=f"rules[{i}]")
            rule_id = rule.get("id")
            if type(rule_id) is not str or not rule_id or rule_id in seen:
                raise SnapshotError("must be a unique non-empty string", path=f"rules[{i}].id")
            seen.add(rule_id)
            try:
                plans = compile_clauses(rule.get("clauses", []), self.matcher)
            except SnapshotError as exc:
                raise exc.within(segment=key, rule=rule_id, prefix=f"rules[{i}]") from None
            plain = tuple(p.matcher for p in plans if p.op != "segment_match")
            nested = tuple(cast(SegmentClause, p.matcher) for p in plans if p.op == "segment_match")
            rules.append((plain, nested))
        matchers = tuple(rules)

        # Included keys win over excluded ones, and both over rules. Rules are decided once per
        # evaluation (`memo`): a segment used many times, or by several nested segments, costs
        # no more than one used once.
        def member(context: Mapping[str, Any], now: float | None, memo: Memo) -> bool:
            context_key = context.get("key")
            if context_key in included:
                return True
            if context_key in excluded or not matchers:
                return False
            known = memo.get(member)
            if known is not None:
                return known
            found = False
            for plain, nested in matchers:  # loops, not all(): two stack frames per level
                for match in plain:
                    if not match(context, now):
                        break
                else:
                    for segment in nested:
                        if not segment(context, now, memo):
                            break
                    else:
                        found = True
                        break
            memo[member] = found
            return found

        return member


def _keys(raw: Any, path: str) -> frozenset[str]:
    if type(raw) is not list or len(raw) > MAX_TARGET_KEYS:
        raise SnapshotError(f"must be a list of at most {MAX_TARGET_KEYS} keys", path=path)
    for i, key in enumerate(raw):
        if type(key) is not str or not key:
            raise SnapshotError("must be a non-empty string", path=f"{path}[{i}]")
    return frozenset(raw)
