"""Evaluation: never raises, answers from a compiled snapshot, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .clauses import Memo
from .compiler import CompiledSnapshot
from .result import ErrorCode, EvaluationResult, Reason

__all__ = ["check_context", "evaluate", "evaluate_all"]


def _error(flag_key: str, default: Any, code: str, message: str) -> EvaluationResult:
    return EvaluationResult(flag_key, default, None, None, Reason.ERROR, code, message)


def check_context(context: Any) -> tuple[str, str] | str | None:
    """The context's key (None when it has none: absent, null or empty), or an (error code,
    message) pair saying why the context cannot be evaluated at all.

    The key is optional: a step that needs it and lacks it answers TARGETING_KEY_MISSING itself.
    """
    if type(context) is not dict and not isinstance(context, Mapping):
        return (ErrorCode.INVALID_CONTEXT, "the context must be an object")
    key = context.get("key")
    if type(key) is str:
        return key if key else None
    if key is None:
        return None
    return (ErrorCode.INVALID_CONTEXT, "the context's key must be a string")


def _with_default(result: EvaluationResult, default: Any) -> EvaluationResult:
    """The result with the caller's default as its value where the flag served none."""
    if result.variation is None and default is not None and result.value is not default:
        return replace(result, value=default)
    return result


def evaluate(
    compiled: CompiledSnapshot,
    flag_key: str,
    context: Any,
    default: Any = None,
    *,
    now: float | None = None,
) -> EvaluationResult:
    """Evaluate one flag for one context; `now` is Unix time in milliseconds, for `$now`.

    Never raises: every failure is a result with reason ERROR, an error code and `default` as
    the value. A `default` of another type than the flag's answers TYPE_MISMATCH (None skips
    the check). A flag whose off variation or fallthrough is unset answers `default` too, with
    reason DISABLED or DEFAULT and no variation.
    """
    try:
        flag = compiled.flags.get(flag_key)
        if flag is None:
            broken = compiled.broken.get(flag_key)
            if broken is not None:
                return _error(flag_key, default, ErrorCode.PARSE_ERROR, str(broken))
            return _error(flag_key, default, ErrorCode.FLAG_NOT_FOUND, "no such flag")
        if default is not None and not flag.accepts(default):
            return _error(
                flag_key, default, ErrorCode.TYPE_MISMATCH, f"the flag's type is {flag.type}"
            )
        if type(context) is dict:  # the common case, checked inline (as check_context does)
            key = context.get("key")
            if type(key) is str and key:
                result = flag.run(context, key, now)
                return result if result.variation is not None else _with_default(result, default)
        checked = check_context(context)
        if type(checked) is tuple:
            return _error(flag_key, default, *checked)
        return _with_default(flag.run(context, checked, now), default)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - evaluation must never raise into the host
        return _error(flag_key, default, ErrorCode.GENERAL, f"{type(exc).__name__}: {exc}")


def evaluate_all(
    compiled: CompiledSnapshot,
    context: Any,
    *,
    now: float | None = None,
    client_side_only: bool = False,
) -> dict[str, EvaluationResult]:
    """Evaluate every flag (or every client-side flag) for one context. Never raises.

    Flags without a value for this context (a broken flag, an invalid context, an unset off
    variation or fallthrough) are in the answer too, with a value and variation of None. A
    clause that several flags use is tested once for the call (`sharing.py`), and so is each
    segment, however many flags use it.
    """
    key = check_context(context)
    plan = compiled.client_side_plan if client_side_only else compiled.plan
    out: dict[str, EvaluationResult] = {}
    if type(key) is tuple:
        for flag_key, _, _ in plan:
            out[flag_key] = _error(flag_key, None, *key)
    else:
        slots: list[list[bool | None]] = [[None] * n for n in compiled.slot_counts]
        segments: Memo = {}
        for flag_key, run, which in plan:
            try:
                out[flag_key] = run(context, key, now, slots[which], segments)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - one failing flag must not hide the others
                out[flag_key] = _error(
                    flag_key, None, ErrorCode.GENERAL, f"{type(exc).__name__}: {exc}"
                )
    if not client_side_only:
        for flag_key, broken in compiled.broken.items():
            out[flag_key] = _error(flag_key, None, ErrorCode.PARSE_ERROR, str(broken))
    return out
