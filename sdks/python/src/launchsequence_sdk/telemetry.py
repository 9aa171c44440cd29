"""OpenTelemetry: every evaluation recorded as a `feature_flag.evaluation` event on the span
that is current when it happens (`pip install 'launchsequence-sdk[otel]'`).

The event follows OpenTelemetry's semantic conventions for feature flags (release candidate):
`feature_flag.key`, `feature_flag.provider.name` ("Launch Sequence"), `feature_flag.result.variant`
(the variation's name, or its index when it has none), `feature_flag.result.value` (the value
served: a string, number or boolean as such, anything else as JSON) when there is no variant (an
error) or the client was built with `telemetry_values=True` (values may be large or private: the
conventions make them opt-in when there is a variant), `feature_flag.result.reason` (the
reason in lower case: `static`, `targeting_match`, `stale`, ...), `feature_flag.context.id` (the
context's `key`), `feature_flag.version` (the snapshot's version) and, for an error, `error.type`
(the error code in lower case: `flag_not_found`, `provider_not_ready`, ...) and `error.message`.

`instrument()` wraps a client's evaluation methods in its own instance, so that a client
without telemetry runs the plain methods with no added cost; with it, an evaluation outside a
recording span costs one look-up of the current span. Recording never raises into the host:
a failure is logged once and the evaluation answers as usual.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Final

from launchsequence_engine import EvaluationResult

from .errors import ConfigurationError

__all__ = ["EVENT_NAME", "PROVIDER_NAME", "available", "event_attributes", "instrument"]

log = logging.getLogger("launchsequence_sdk")

#: OpenTelemetry's event name for one evaluation.
EVENT_NAME: Final = "feature_flag.evaluation"
#: The `feature_flag.provider.name` of every event.
PROVIDER_NAME: Final = "Launch Sequence"

_VALUE_METHODS = ("bool_value", "string_value", "number_value", "json_value")
_DETAILS_METHODS = ("bool_details", "string_details", "number_details", "json_details")

_Attributes = dict[str, str | bool | int | float]


def _current_span_getter() -> Callable[[], Any] | None:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_current_span


def available() -> bool:
    """Whether opentelemetry-api is installed."""
    return _current_span_getter() is not None


def _plain(value: Any) -> str | bool | int | float | None:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def event_attributes(
    result: EvaluationResult,
    context: Mapping[str, Any] | Any,
    version: int | None,
    values: bool = False,
) -> _Attributes:
    """The attributes of the `feature_flag.evaluation` event of `result`."""
    attributes: _Attributes = {
        "feature_flag.key": result.key,
        "feature_flag.provider.name": PROVIDER_NAME,
        "feature_flag.result.reason": str(result.reason).lower(),
    }
    if result.variant is not None:
        attributes["feature_flag.result.variant"] = result.variant
    if values or result.variant is None:
        value = _plain(result.value)
        if value is not None:
            attributes["feature_flag.result.value"] = value
    key = context.get("key") if isinstance(context, Mapping) else None
    if isinstance(key, str) and key:
        attributes["feature_flag.context.id"] = key
    if version is not None:
        attributes["feature_flag.version"] = str(version)
    if result.error_code is not None:
        attributes["error.type"] = str(result.error_code).lower()
        if result.error_message:
            attributes["error.message"] = result.error_message
    return attributes


class _Recorder:
    """Adds the event to the current span when it is recording; logs its first failure."""

    def __init__(self, current_span: Callable[[], Any], client: Any, values: bool) -> None:
        self.current_span = current_span
        self.values = values
        self.client = weakref.ref(client)  # the client holds the recorder: no cycle to collect
        self.failed = False

    def recording(self) -> Any:
        try:
            span = self.current_span()
            return span if span.is_recording() else None
        except Exception:  # noqa: BLE001 - never raise into the host
            self.failed_once()
            return None

    def record(self, span: Any, result: EvaluationResult, context: Any) -> None:
        try:
            client = self.client()
            version = None if client is None else client.version
            span.add_event(EVENT_NAME, event_attributes(result, context, version, self.values))
        except Exception:  # noqa: BLE001 - never raise into the host
            self.failed_once()

    def failed_once(self) -> None:
        if not self.failed:
            self.failed = True
            log.exception("launchsequence: could not record an evaluation in OpenTelemetry")


def instrument(client: Any, telemetry: bool | None, values: bool = False) -> None:
    """Record `client`'s evaluations when `telemetry` is True, or None (the default) and
    opentelemetry-api is installed; with the values served when `values` is True. Raises
    ConfigurationError (from a constructor) for True without opentelemetry-api, or options
    that are not booleans."""
    if telemetry is not None and not isinstance(telemetry, bool):
        raise ConfigurationError(f"telemetry must be True, False or None, not {telemetry!r}")
    if not isinstance(values, bool):
        raise ConfigurationError(f"telemetry_values must be True or False, not {values!r}")
    if telemetry is False:
        return
    current_span = _current_span_getter()
    if current_span is None:
        if telemetry:
            raise ConfigurationError(
                "telemetry=True needs opentelemetry-api: pip install 'launchsequence-sdk[otel]'"
            )
        return
    recorder = _Recorder(current_span, client, values)
    for value_name, details_name in zip(_VALUE_METHODS, _DETAILS_METHODS, strict=True):
        details = getattr(client, details_name)
        setattr(client, value_name, _traced_value(recorder, getattr(client, value_name), details))
        setattr(client, details_name, _traced_details(recorder, details))


def _traced_value(
    recorder: _Recorder,
    plain: Callable[[str, Any, Any], Any],
    details: Callable[[str, Any, Any], EvaluationResult],
) -> Callable[[str, Any, Any], Any]:
    # Outside a recording span the plain (fast) method answers; inside one the details are
    # needed for the event, and their value is what the plain method answers.
    current_span = recorder.current_span

    def value(key: str, context: Any, default: Any) -> Any:
        try:
            span = current_span()
            recording = span.is_recording()
        except Exception:  # noqa: BLE001 - never raise into the host
            recorder.failed_once()
            recording = False
        if not recording:
            return plain(key, context, default)
        result = details(key, context, default)
        recorder.record(span, result, context)
        return result.value

    value.__doc__ = plain.__doc__
    return value


def _traced_details(
    recorder: _Recorder, details: Callable[[str, Any, Any], EvaluationResult]
) -> Callable[[str, Any, Any], EvaluationResult]:
    def traced(key: str, context: Any, default: Any) -> EvaluationResult:
        result = details(key, context, default)
        span = recorder.recording()
        if span is not None:
            recorder.record(span, result, context)
        return result

    traced.__doc__ = details.__doc__
    return traced
