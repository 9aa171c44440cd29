"""The engine's exceptions: one hierarchy, raised only by `compile`, never by evaluation."""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["EngineError", "SnapshotError", "shown"]

# Short and bounded: a value in a message is cut at 80 characters and 3 levels of nesting, so
# that describing a deeply nested or huge value costs little and cannot overflow the stack.
_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = 6


def shown(value: Any) -> str:
    """A short repr of any value, for an error message. Never raises."""
    try:
        return _SHORT.repr(value)
    except (ValueError, RecursionError):  # an int with more digits than Python will print
        return f"a {type(value).__name__}"


class EngineError(Exception):
    """Base class of every exception the engine raises."""


class SnapshotError(EngineError):
    """A snapshot (or one flag or segment in it) breaks the rules of `spec/evaluation.md`.

    `flag` or `segment` names the object, `rule` the rule's id when the fault is inside a rule,
    and `path` the field, as a JSON-path-like string relative to that object
    (`rules[2].clauses[0].values`).
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str = "",
        flag: str | None = None,
        segment: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.flag = flag
        self.segment = segment
        self.rule = rule
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.flag is not None:
            where.append(f"flag {self.flag!r}")
        if self.segment is not None:
            where.append(f"segment {self.segment!r}")
        if self.rule is not None:
            where.append(f"rule {self.rule!r}")
        if self.path:
            where.append(self.path)
        prefix = ", ".join(where)
        return f"{prefix}: {self.problem}" if prefix else self.problem

    def within(
        self,
        *,
        flag: str | None = None,
        segment: str | None = None,
        rule: str | None = None,
        prefix: str = "",
    ) -> SnapshotError:
        """The same fault, located inside an enclosing flag, segment or field.

        A fault already located in a segment stays there (its segment, rule and path): a flag or
        segment that refers to that segment adds only the flag's name, never its own rule or path.
        """
        if self.segment is not None:
            flag = flag if flag is not None else self.flag
            return SnapshotError(
                self.problem, path=self.path, flag=flag, segment=self.segment, rule=self.rule
            )
        path = f"{prefix}.{self.path}" if prefix and self.path else (prefix or self.path)
        return SnapshotError(
            self.problem,
            path=path,
            flag=flag if flag is not None else self.flag,
            segment=segment if segment is not None else self.segment,
            rule=rule if rule is not None else self.rule,
        )

    def to_dict(self) -> dict[str, str]:
        """The fault as JSON: the shape the server uses in a 422 answer and the vectors use."""
        out = {"message": str(self), "path": self.path}
        if self.flag is not None:
            out["flag"] = self.flag
        if self.segment is not None:
            out["segment"] = self.segment
        if self.rule is not None:
            out["rule"] = self.rule
        return out
