"""Launch Sequence's evaluation engine: compile a snapshot once, evaluate from memory.

Standard library only, no I/O, no clock (pass `now`), no logging, no global state. The rules it
implements are `spec/evaluation.md`; the vectors in `spec/vectors/` pin them down.
"""

from .bucketing import BUCKETS, bucket, bucket_value
from .clauses import NOW_ATTRIBUTE, OPERATORS
from .compiler import SCHEMA_VERSION, CompiledSnapshot, compile  # noqa: A004
from .errors import EngineError, SnapshotError
from .evaluator import check_context, evaluate, evaluate_all
from .flags import FLAG_TYPES, CompiledFlag
from .result import ErrorCode, EvaluationResult, Reason

__all__ = [
    "BUCKETS",
    "FLAG_TYPES",
    "NOW_ATTRIBUTE",
    "OPERATORS",
    "SCHEMA_VERSION",
    "CompiledFlag",
    "CompiledSnapshot",
    "EngineError",
    "ErrorCode",
    "EvaluationResult",
    "Reason",
    "SnapshotError",
    "bucket",
    "bucket_value",
    "check_context",
    "compile",
    "evaluate",
    "evaluate_all",
]

__version__ = "0.1.0"
