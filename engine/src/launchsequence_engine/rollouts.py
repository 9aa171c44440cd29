"""A percentage rollout compiled: what `codegen.py` inlines into each flag's function."""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha1
from typing import Any

from .bucketing import BUCKETS, bucket_value
from .result import EvaluationResult

__all__ = ["RolloutPlan"]


class RolloutPlan:
    """A rollout's bucketing input and its (running sum, result) bounds, non-zero weights only.

    `seeded` is the SHA-1 state of `flag key "." salt "."`, computed once: a copy of it updated
    with the bucket value's UTF-8 bytes hashes exactly what section 5 of the spec says (UTF-8
    encodes code point by code point). It is None when the prefix cannot be encoded (a lone
    surrogate in the key or salt); the generated code then calls the plan itself, which fails
    for every context with a value to hash, so that the evaluation answers GENERAL.
    """

    __slots__ = ("bounds", "bucket_by", "first", "prefix", "seeded")

    def __init__(
        self, prefix: str, bucket_by: str, bounds: tuple[tuple[int, EvaluationResult], ...]
    ) -> None:
        self.prefix = prefix
        self.bucket_by = bucket_by
        self.bounds = bounds
        self.first = bounds[0][1]  # served when there is no bucket value, as if its bucket were 0
        try:
            self.seeded: Any = sha1(prefix.encode(), usedforsecurity=False)
        except UnicodeEncodeError:
            self.seeded = None

    def __call__(self, context: Mapping[str, Any], key: str) -> EvaluationResult:
        """The rollout as the spec words it (the slow path, for an unencodable prefix)."""
        if self.bucket_by == "key":
            value: str | None = key
        else:
            value = bucket_value(context.get(self.bucket_by))
            if value is None:
                return self.first
        digest = sha1(f"{self.prefix}{value}".encode(), usedforsecurity=False).digest()
        point = int.from_bytes(digest[:4], "big") % BUCKETS
        for bound, result in self.bounds:
            if point < bound:
                return result
        return self.first  # unreachable: the last bound is BUCKETS
