"""Segments: reusable sets of contexts, by included keys, excluded keys and rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .clauses import Matcher
from .errors import SnapshotError
from .flags import MAX_RULES, MAX_TARGET_KEYS, compile_rule_match

__all__ = ["SegmentTable"]


class SegmentTable:
    """Compiles a snapshot's segments on demand, so that segments may refer to each other.

    `matcher(key)` raises SnapshotError for a segment the snapshot does not define, for a
    segment that fails to compile, and for segments that refer to each other in a cycle.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw
        self._compiled: dict[str, Matcher] = {}
        self._failed: dict[str, SnapshotError] = {}
        self._open: list[str] = []

    def matcher(self, key: str) -> Matcher:
        done = self._compiled.get(key)
        if done is not None:
            return done
        if key in self._failed:
            raise self._failed[key]
        if key not in self._raw:
            raise SnapshotError(f"refers to segment {key!r:.80}, which does not exist")
        if key in self._open:
            cycle = " -> ".join([*self._open[self._open.index(key) :], key])
            raise SnapshotError(f"segments refer to each other in a cycle: {cycle}")
        self._open.append(key)
        try:
            matcher = self._compile(key, self._raw[key])
        except SnapshotError as exc:
            error = exc if exc.segment is not None else exc.within(segment=key)
            self._failed[key] = error
            raise error from None
        finally:
            self._open.pop()
        self._compiled[key] = matcher
        return matcher

    def _compile(self, key: str, raw: Any) -> Matcher:
        if not isinstance(raw, Mapping):
            raise SnapshotError("must be an object")
        if raw.get("key", key) != key:
            raise SnapshotError(f"does not match the segment's key {key!r}", path="key")
        included = _keys(raw.get("included", []), "included")
        excluded = _keys(raw.get("excluded", []), "excluded")
        rules_raw = raw.get("rules", [])
        if type(rules_raw) is not list or len(rules_raw) > MAX_RULES:
            raise SnapshotError(f"must be a list of at most {MAX_RULES} rules", path="rules")
        rules: list[Matcher] = []
        seen: set[str] = set()
        for i, rule in enumerate(rules_raw):
            if not isinstance(rule, Mapping):
                raise SnapshotError("must be an object", path=f"rules[{i}]")
            rule_id = rule.get("id")
            if type(rule_id) is not str or not rule_id or rule_id in seen:
                raise SnapshotError("must be a unique non-empty string", path=f"rules[{i}].id")
            seen.add(rule_id)
            try:
                rules.append(compile_rule_match(rule.get("clauses", []), self.matcher))
            except SnapshotError as exc:
                raise exc.within(segment=key, rule=rule_id, prefix=f"rules[{i}]") from None
        matchers = tuple(rules)

        # Included keys win over excluded ones, and both over rules.
        def member(context: Mapping[str, Any], now: float | None) -> bool:
            context_key = context.get("key")
            if context_key in included:
                return True
            if context_key in excluded:
                return False
            for match in matchers:
                if match(context, now):
                    return True
            return False

        return member


def _keys(raw: Any, path: str) -> frozenset[str]:
    if type(raw) is not list or len(raw) > MAX_TARGET_KEYS:
        raise SnapshotError(f"must be a list of at most {MAX_TARGET_KEYS} keys", path=path)
    for i, key in enumerate(raw):
        if type(key) is not str or not key:
            raise SnapshotError("must be a non-empty string", path=f"{path}[{i}]")
    return frozenset(raw)
