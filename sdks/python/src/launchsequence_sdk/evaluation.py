"""Evaluation from the held snapshot, shared by `Client` and `AsyncClient`: no I/O, no lock.

Before the first snapshot every method answers the caller's default; the `*_details` methods
say why with reason "ERROR" and error code "PROVIDER_NOT_READY" (OpenFeature's code, which the
engine never gives: only the SDK can be not ready). While the flags served are not known to be
current (the persisted file; the server's while the stream is down, after the key was refused
or the client closed, or once the server has been silent for the read timeout) the `*_details`
methods answer reason "STALE" (OpenFeature's; "CACHED" for the file) in place of the engine's,
keeping everything else.

No method here raises into the host, whatever the arguments: an answer is always given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

import launchsequence_engine as engine
from launchsequence_engine import ErrorCode, EvaluationResult, Reason

from .store import ClientEvent, FlagStore, State
from .usage import UsageSummary

__all__ = ["CACHED", "PROVIDER_NOT_READY", "STALE", "Context", "Evaluator"]

log = logging.getLogger("launchsequence_sdk")

#: The error code of every answer given before the client has any flags.
PROVIDER_NOT_READY: Final = "PROVIDER_NOT_READY"

#: The reason of every answer (not an error) from flags that may be out of date.
STALE: Final = "STALE"
#: OpenFeature's reason for a value from a cache: the persisted file, until the server answers.
CACHED: Final = "CACHED"

Context = Mapping[str, Any]

_evaluate = engine.evaluate
_time = time.time
_id = id  # module globals: found before the builtins on the evaluation path
_next = next


def _not_ready(key: str, default: Any) -> EvaluationResult:
    message = "the client has no flags yet"
    return EvaluationResult(key, default, None, None, Reason.ERROR, PROVIDER_NOT_READY, message)


def _stale(r: EvaluationResult, reason: str) -> EvaluationResult:
    return replace(r, reason=reason)


def _all(state: State, context: Context, client_side_only: bool) -> dict[str, EvaluationResult]:
    """`engine.evaluate_all`, except that a context that raises (a mapping whose methods fail)
    answers every flag an error, as an invalid context does, instead of raising."""
    try:
        return engine.evaluate_all(
            state.compiled, context, now=_time() * 1000.0, client_side_only=client_side_only
        )
    except Exception as exc:  # noqa: BLE001 - never raise into the host
        compiled = state.compiled
        plan = compiled.client_side_plan if client_side_only else compiled.plan
        message = f"{type(exc).__name__}: {exc}"
        keys = [k for k, _, _ in plan] + ([] if client_side_only else list(compiled.broken))
        return {
            k: EvaluationResult(k, None, None, None, Reason.ERROR, ErrorCode.GENERAL, message)
            for k in keys
        }


def _is_bool(value: Any) -> bool:
    return value.__class__ is bool


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return value.__class__ is not bool and isinstance(value, int | float)


def _is_any(value: Any) -> bool:
    return True


class Evaluator:
    """The evaluation methods. Subclasses set `_store`, and `_usage` to count evaluations."""

    _store: FlagStore
    _usage: UsageSummary | None = None
    #: `_usage.counters.get`, bound once: the value methods' fast path counts through it
    _usage_get: Callable[[int], Any] | None = None

    def _count_with(self, usage: UsageSummary) -> None:
        """Count evaluations into `usage` from now on."""
        self._usage = usage
        self._usage_get = usage.counters.get

    def _count(self, state: State, result: EvaluationResult) -> None:
        """Count a result of the slow paths (the value methods count their fast path inline)."""
        usage = self._usage
        if usage is not None and result.error_code != ErrorCode.FLAG_NOT_FOUND:
            flag = state.compiled.flags.get(result.key)
            usage.count(result, flag.version if flag is not None else 0)

    # --- values ----------------------------------------------------------------------------

    # The value methods take the engine's own fast path inline (`CompiledFlag.run` with a
    # context that is a dict with a non-empty string key, exactly what `engine.evaluate` checks
    # first) and leave every other case to `engine.evaluate`: the SDK then costs about what a
    # direct engine call does. They check the value's type instead of passing the default (an
    # error's value is None, so the default is answered all the same). The clock is read only
    # when a clause of the snapshot reads `$now`.

    def bool_value(self, key: str, context: Context, default: bool) -> bool:
        """The flag's value for this context, or `default` on any error."""
        state = self._store.state
        if state is None:
            return default
        now = _time() * 1000.0 if state.uses_now else None
        try:
            flag = state.compiled.flags.get(key)
            if flag is not None and context.__class__ is dict:
                context_key = context.get("key")
                if context_key.__class__ is str and context_key:
                    result = flag.run(context, context_key, now)
                    get = self._usage_get
                    if get is not None:
                        counter = get(_id(result))
                        if counter is None:
                            self._usage.first(result, flag.version)  # type: ignore[union-attr]
                        else:
                            _next(counter)
                    value = result.value
                    return value if value.__class__ is bool else default
        except Exception:  # noqa: BLE001 - as the engine: never raise into the host
            return default
        result = _evaluate(state.compiled, key, context, now=now)
        self._count(state, result)
        value = result.value
        return value if value.__class__ is bool else default

    def string_value(self, key: str, context: Context, default: str) -> str:
        return self._value(key, context, default, _is_str)  # type: ignore[no-any-return]

    def number_value(self, key: str, context: Context, default: float) -> float:
        return self._value(key, context, default, _is_number)  # type: ignore[no-any-return]

    def json_value(self, key: str, context: Context, default: Any) -> Any:
        return self._value(key, context, default, _is_any)

    def _value(self, key: str, context: Context, default: Any, check: Callable[[Any], bool]) -> Any:
        state = self._store.state
        if state is None:
            return default
        now = _time() * 1000.0 if state.uses_now else None
        try:
            flag = state.compiled.flags.get(key)
            if flag is not None and context.__class__ is dict:
                context_key = context.get("key")
                if context_key.__class__ is str and context_key:
                    result = flag.run(context, context_key, now)
                    if self._usage is not None:
                        self._usage.count(result, flag.version)
                    value = result.value
                    return value if check(value) else default
        except Exception:  # noqa: BLE001 - as the engine: never raise into the host
            return default
        result = _evaluate(state.compiled, key, context, now=now)
        self._count(state, result)
        value = result.value
        return value if value is not None and check(value) else default

    # --- details ---------------------------------------------------------------------------

    def bool_details(self, key: str, context: Context, default: bool) -> EvaluationResult:
        """Value, variation, variant, reason, error code (and the matched rule) of one flag."""
        return self._details(key, context, default, _is_bool)

    def string_details(self, key: str, context: Context, default: str) -> EvaluationResult:
        return self._details(key, context, default, _is_str)

    def number_details(self, key: str, context: Context, default: float) -> EvaluationResult:
        return self._details(key, context, default, _is_number)

    def json_details(self, key: str, context: Context, default: Any) -> EvaluationResult:
        return self._details(key, context, default, _is_any)

    def _details(
        self, key: str, context: Context, default: Any, check: Callable[[Any], bool]
    ) -> EvaluationResult:
        state = self._store.state
        if state is None:
            return _not_ready(key, default)
        result = _evaluate(state.compiled, key, context, default, now=_time() * 1000.0)
        self._count(state, result)
        if result.error_code is None:
            if not check(result.value):
                message = f"the flag's value is not what {key!r} was asked as"
                return EvaluationResult(
                    key, default, None, None, Reason.ERROR, ErrorCode.TYPE_MISMATCH, message
                )
            if self._store.is_stale(state):  # the file's flags are a cache; the server's went stale
                return _stale(result, CACHED if state.source == "file" else STALE)
        return result

    # --- every flag --------------------------------------------------------------------------

    def all_values(self, context: Context) -> dict[str, Any]:
        """Every flag's value for this context; flags that answer an error are left out."""
        state = self._store.state
        if state is None:
            return {}
        results = _all(state, context, False)
        for r in results.values():
            self._count(state, r)
        return {k: r.value for k, r in results.items() if r.error_code is None}

    def bootstrap(self, context: Context, client_side_only: bool = True) -> dict[str, Any]:
        """The values the JavaScript SDK can start from: the shape `POST /sdk/v1/client/evaluate`
        answers, `{"version": v, "flags": {key: {value, variation, variant, reason}}}` (with
        `error_code` on an error). Only client-side flags unless `client_side_only` is False.
        Reasons are the engine's even when stale: this is the page's starting point, and the
        JavaScript SDK takes a changed reason for a changed flag."""
        state = self._store.state
        if state is None:
            return {"version": 0, "flags": {}}
        # Anything but False keeps server-only flags out of the page.
        results = _all(state, context, client_side_only is not False)
        flags: dict[str, Any] = {}
        for key, r in results.items():
            entry = {"value": r.value, "variation": r.variation, "variant": r.variant,
                     "reason": r.reason}  # fmt: skip
            if r.error_code is not None:
                entry["error_code"] = r.error_code
            flags[key] = entry
        return {"version": state.version, "flags": flags}

    # --- state and listeners ---------------------------------------------------------------

    @property
    def version(self) -> int | None:
        """The version of the snapshot served, None before the first one."""
        state = self._store.state
        return None if state is None else state.version

    @property
    def source(self) -> str | None:
        """Where the served flags come from: "server", "file", "offline", "test"; or None."""
        state = self._store.state
        return None if state is None else state.source

    @property
    def is_stale(self) -> bool:
        """Whether the flags served may be out of date (the `*_details` answer CACHED for the
        persisted file until the server answers, STALE for the server's while they are not
        being kept current: the stream down, the key refused, the client closed, or nothing
        heard from the server for `read_timeout`)."""
        state = self._store.state
        return state is not None and self._store.is_stale(state)

    def on_change(
        self, callback: Callable[[str], None], key: str | None = None
    ) -> Callable[[], None]:
        """Call `callback(flag_key)` after a change to flag `key` (any flag if None); answers a
        function that removes it. Callbacks run on the SDK's thread (or task); an exception in
        one is logged and swallowed. A callback that is not callable, or a key that is not a
        string, is logged and ignored."""
        if not callable(callback) or not (key is None or isinstance(key, str)):
            log.error("launchsequence: on_change needs a callable and a flag key; ignored")
            return _nothing
        return self._store.on_change(callback, key)

    def on_event(self, callback: Callable[[ClientEvent], None]) -> Callable[[], None]:
        """Call `callback(event)` on "ready", "changed", "stale" and "error"; answers a remover."""
        if not callable(callback):
            log.error("launchsequence: on_event needs a callable; ignored")
            return _nothing
        return self._store.on_event(callback)


def _nothing() -> None:
    """The remover of a listener that was never added."""
