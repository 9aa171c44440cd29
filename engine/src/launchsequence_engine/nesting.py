"""How segments nest, worked out without recursion, before any segment is compiled.

A segment's depth is 1 when its rules use no other segment, and one more than the deepest
segment it uses otherwise. A segment is unusable when it uses segments in a cycle, or when its
depth is over MAX_SEGMENT_DEPTH; `nesting_faults` finds every such segment with one pass over
the documents and an explicit stack, so that a chain of any length cannot overflow Python's.
Compiling and evaluating the other segments then recurses at most MAX_SEGMENT_DEPTH levels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, NamedTuple

from .errors import SnapshotError, shown

__all__ = ["MAX_SEGMENT_DEPTH", "nesting_faults"]

#: The deepest a segment may nest: `a` using `b` using `c` is 3 deep.
MAX_SEGMENT_DEPTH: Final = 32


class Reference(NamedTuple):
    """One `segment_match` value in a segment's rules, and where it is."""

    rule: Any  # the rule's id, as written
    path: str  # rules[i].clauses[j].values[k]
    segment: str


def references(raw: Any) -> Iterator[Reference]:
    """The segments a segment document uses, in document order.

    Parts that are not what the spec says are skipped: compiling reports them. This follows at
    least every reference that compiling the segment would follow.
    """
    rules = raw.get("rules", []) if isinstance(raw, Mapping) else None
    if type(rules) is not list:
        return
    for i, rule in enumerate(rules):
        clauses = rule.get("clauses", []) if isinstance(rule, Mapping) else None
        if type(clauses) is not list:
            continue
        for j, clause in enumerate(clauses):
            if not isinstance(clause, Mapping) or clause.get("op") != "segment_match":
                continue
            values = clause.get("values")
            if type(values) is not list:
                continue
            for k, key in enumerate(values):
                if type(key) is str:
                    yield Reference(rule.get("id"), f"rules[{i}].clauses[{j}].values[{k}]", key)


class _Open:
    """A segment being explored: its references still to look at, and what was found so far."""

    __slots__ = ("deepest", "fault", "key", "pending", "refs")

    def __init__(self, key: str, raw: Any) -> None:
        self.key = key
        self.refs = references(raw)
        self.deepest = 0  # the depth of the deepest segment it uses, so far
        self.fault: SnapshotError | None = None
        self.pending: Reference | None = None  # the reference being explored, one level down


def _located(problem: str, segment: str, ref: Reference) -> SnapshotError:
    rule = ref.rule if type(ref.rule) is str else None
    return SnapshotError(problem, path=ref.path, segment=segment, rule=rule)


def nesting_faults(raw_segments: Mapping[str, Any]) -> dict[str, SnapshotError]:
    """The segments that cycles or depth make unusable, each with the fault to report.

    The fault is located where it arises, whichever segment the search starts from: a cycle at
    the reference that closes it (seen from the first segment in document order that leads to
    it), a segment too deep at the segment whose depth first exceeds the limit, in its first
    reference to a segment MAX_SEGMENT_DEPTH deep. Segments that use an unusable segment get
    that segment's fault, as they would get any other fault of a segment they use.
    """
    depth: dict[str, int] = {}
    faults: dict[str, SnapshotError] = {}
    for root in raw_segments:
        if root in depth or root in faults:
            continue
        stack = [_Open(root, raw_segments[root])]
        opened = {root}
        while stack:
            top = stack[-1]
            if top.pending is not None:  # the segment one level down is done
                _settle(top, top.pending, depth, faults)
                top.pending = None
            descended = False
            for ref in top.refs if top.fault is None else ():
                child = ref.segment
                if child not in raw_segments:
                    continue  # compiling reports the missing segment
                if child in opened:
                    keys = [frame.key for frame in stack]
                    cycle = " -> ".join([*keys[keys.index(child) :], child])
                    problem = f"segments refer to each other in a cycle: {cycle}"
                    top.fault = _located(problem, top.key, ref)
                    break
                if child not in depth and child not in faults:
                    top.pending = ref
                    stack.append(_Open(child, raw_segments[child]))
                    opened.add(child)
                    descended = True
                    break
                _settle(top, ref, depth, faults)
                if top.fault is not None:
                    break
            if descended:
                continue
            stack.pop()
            opened.discard(top.key)
            if top.fault is not None:
                faults[top.key] = top.fault
            else:
                depth[top.key] = top.deepest + 1
    return faults


def _settle(
    top: _Open, ref: Reference, depth: dict[str, int], faults: dict[str, SnapshotError]
) -> None:
    """Take into account a segment `top` uses, whose nesting is known."""
    if top.fault is not None:
        return
    fault = faults.get(ref.segment)
    if fault is not None:
        top.fault = fault
        return
    used = depth[ref.segment]
    if used >= MAX_SEGMENT_DEPTH:
        problem = (
            f"uses segment {shown(ref.segment)}, {used} deep: segments may nest at most "
            f"{MAX_SEGMENT_DEPTH} deep"
        )
        top.fault = _located(problem, top.key, ref)
    else:
        top.deepest = max(top.deepest, used)
