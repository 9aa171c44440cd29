"""A percentage rollout compiled: what `codegen.py` inlines into each flag's function."""

from __future__ import annotations

from hashlib import sha1
from typing import Any

from .bucketing import utf8
from .result import EvaluationResult

__all__ = ["RolloutPlan"]


class RolloutPlan:
    """A rollout's bucketing input and its (running sum, result) bounds, non-zero weights only.

    `seeded` is the SHA-1 state of `flag key "." salt "."`, computed once: a copy of it updated
    with the bucket value's bytes hashes exactly what section 5 of the spec says (UTF-8 encodes
    code point by code point, and the "." between the parts keeps surrogates from pairing
    across them).
    """

    __slots__ = ("bounds", "bucket_by", "first", "missing_key", "prefix", "seeded")

    def __init__(
        self,
        prefix: str,
        bucket_by: str,
        bounds: tuple[tuple[int, EvaluationResult], ...],
        missing_key: EvaluationResult,
    ) -> None:
        self.prefix = prefix
        self.bucket_by = bucket_by
        self.bounds = bounds
        #: Served when the rollout buckets by the context key and the context has none.
        self.missing_key = missing_key
        self.first = bounds[0][1]  # served when there is no bucket value, as if its bucket were 0
        self.seeded: Any = sha1(utf8(prefix), usedforsecurity=False)
