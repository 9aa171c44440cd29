"""Clauses shared between flags, so that `evaluate_all` tests each of them once per context.

Flags of one environment often repeat a clause ("country in [DE, FR]", a segment). When a
snapshot is compiled, its clauses are counted by what they test (attribute, operator, values,
negate); each one that appears more than once gets a slot. `evaluate_all` passes every flag the
same list of slots for the call: the first flag that tests a shared clause stores the answer,
the others read it. A clause that appears once is tested inline, as `evaluate` does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Mapping
from types import CodeType
from typing import Any

__all__ = ["ClauseTable", "clause_signature"]


def clause_signature(raw: Any) -> Hashable | None:
    """What a clause tests, as a hashable key; None for a clause that cannot be shared.

    Values are keyed with their type, so that `in [1]` and `in [true]` (equal in Python, not
    in JSON) stay apart. `segment_match` does not read its attribute, so it is left out.
    """
    if not isinstance(raw, Mapping):
        return None
    op = raw.get("op")
    values = raw.get("values")
    if type(op) is not str or type(values) is not list:
        return None
    attribute = None if op == "segment_match" else raw.get("attribute")
    signature = (op, attribute, raw.get("negate", False), tuple(values), tuple(map(type, values)))
    try:
        hash(signature)
    except TypeError:  # an object or a list among the values: never valid anyway
        return None
    return signature


class ClauseTable:
    """What one compilation's flags share: clauses (their use counts, then a slot for each
    shared one), and the code generated for flags of the same shape (by its source).

    Built while one snapshot compiles and never changed afterwards: `size` is then the length
    of the list of slots `evaluate_all` makes for each call.
    """

    __slots__ = ("_counts", "_slots", "code")

    def __init__(self) -> None:
        self._counts: dict[Hashable, int] = {}
        self._slots: dict[Hashable, int] = {}
        self.code: dict[str, CodeType] = {}

    def count(self, raw_flags: Mapping[str, Any]) -> None:
        """Count the clauses of every rule of these (not yet validated) flag documents."""
        for raw in raw_flags.values():
            # A flag that cannot even be read here fails again when compiled, which sets it
            # aside and says why: its clauses are simply not shared.
            with contextlib.suppress(Exception):
                self._count_flag(raw)

    def _count_flag(self, raw: Any) -> None:
        counts = self._counts
        rules = raw.get("rules") if isinstance(raw, Mapping) else None
        if type(rules) is not list:
            return
        for rule in rules:
            clauses = rule.get("clauses") if isinstance(rule, Mapping) else None
            if type(clauses) is not list:
                continue
            for clause in clauses:
                signature = clause_signature(clause)
                if signature is not None:
                    counts[signature] = counts.get(signature, 0) + 1

    def slot(self, signature: Hashable | None) -> int | None:
        """The slot of a clause used more than once in the snapshot; None for any other."""
        if signature is None or self._counts.get(signature, 0) < 2:
            return None
        slot = self._slots.get(signature)
        if slot is None:
            slot = self._slots[signature] = len(self._slots)
        return slot

    @property
    def size(self) -> int:
        return len(self._slots)

    def finish(self) -> None:
        """Drop what only compilation needs (counts, code by source); `size` stays."""
        self._counts = {}
        self.code = {}
