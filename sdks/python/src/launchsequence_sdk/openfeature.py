"""An OpenFeature provider backed by a `Client`: `pip install launchsequence-sdk[openfeature]`.

```python
from openfeature import api
from launchsequence_sdk import Client
from launchsequence_sdk.openfeature import LaunchSequenceProvider

api.set_provider(LaunchSequenceProvider(Client(SERVER_KEY, base_url=URL)))
```

Reasons and error codes are OpenFeature's already and pass through unchanged (STALE included:
see `docs/sdk-python.md`). A resolution never raises: anything unexpected answers the default
with error code GENERAL. The provider
emits PROVIDER_READY when the client has flags, PROVIDER_CONFIGURATION_CHANGED with the changed
flag keys, PROVIDER_STALE when the connection is lost, and PROVIDER_ERROR when the key is
refused (the client keeps serving its last flags, so the error is not fatal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from launchsequence_engine import EvaluationResult
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from .async_client import AsyncClient
from .client import Client
from .store import ClientEvent

__all__ = ["LaunchSequenceProvider", "to_context"]

_Object = Sequence[FlagValueType] | Mapping[str, FlagValueType]
T = TypeVar("T")


def to_context(evaluation_context: EvaluationContext | None) -> dict[str, Any]:
    """OpenFeature's context as a Launch Sequence context: `targeting_key` is `key`."""
    if evaluation_context is None:
        return {}
    context: dict[str, Any] = dict(evaluation_context.attributes)
    if evaluation_context.targeting_key is not None:
        context["key"] = evaluation_context.targeting_key
    return context


def _resolution(result: EvaluationResult) -> FlagResolutionDetails[Any]:
    metadata: dict[str, bool | int | float | str] = dict(result.metadata or {})
    if result.prerequisite is not None:
        metadata["prerequisite"] = result.prerequisite
    if result.rule_id is not None:
        metadata["rule_id"] = result.rule_id
        metadata["rule_index"] = result.rule_index or 0
    return FlagResolutionDetails(
        value=result.value,
        error_code=ErrorCode(result.error_code) if result.error_code is not None else None,
        error_message=result.error_message,
        reason=result.reason,
        variant=result.variant,
        flag_metadata=metadata,
    )


class LaunchSequenceProvider(AbstractProvider):
    """Resolves flags from a `Client` (or `AsyncClient`) already constructed by the caller.

    `initialize` waits up to `ready_timeout` seconds for the client's flags (with an
    AsyncClient it cannot wait: the client's own ready event is relayed when it comes);
    `shutdown` closes a sync client when `close_client` is true.
    """

    def __init__(
        self, client: Client | AsyncClient, ready_timeout: float = 5.0, close_client: bool = True
    ) -> None:
        super().__init__()
        self.client = client
        self.ready_timeout = ready_timeout
        self.close_client = close_client
        self._initialized = False
        self._remove = client.on_event(self._relay)

    def get_metadata(self) -> Metadata:
        return Metadata(name="launchsequence")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        client = self.client
        ready = client.is_ready
        if isinstance(client, Client) and not ready:
            ready = client.wait_until_ready(self.ready_timeout)
        self._initialized = True
        if not ready:
            raise ProviderNotReadyError("Launch Sequence has no flags yet")

    def shutdown(self) -> None:
        """Stop relaying the client's events; close it (a sync client) when `close_client`."""
        self._remove()
        if self.close_client and isinstance(self.client, Client):
            self.client.close()  # never raises

    def _relay(self, event: ClientEvent) -> None:
        if event.kind == "ready":
            if self._initialized:  # before, the registry sends READY when initialize returns
                self.emit_provider_ready(ProviderEventDetails(message=event.message or None))
        elif event.kind == "changed":
            self.emit_provider_configuration_changed(
                ProviderEventDetails(flags_changed=list(event.flags))
            )
        elif event.kind == "stale":
            self.emit_provider_stale(ProviderEventDetails(message=event.message))
        elif event.kind == "error":
            self.emit_provider_error(
                ProviderEventDetails(message=event.message, error_code=ErrorCode.GENERAL)
            )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        def resolve() -> FlagResolutionDetails[bool]:
            context = to_context(evaluation_context)
            return _resolution(self.client.bool_details(flag_key, context, default_value))

        return _guarded(default_value, resolve)

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        def resolve() -> FlagResolutionDetails[str]:
            context = to_context(evaluation_context)
            return _resolution(self.client.string_details(flag_key, context, default_value))

        return _guarded(default_value, resolve)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        def resolve() -> FlagResolutionDetails[int]:
            context = to_context(evaluation_context)
            result = self.client.number_details(flag_key, context, default_value)
            value = result.value
            if result.error_code is None and not (type(value) is int or float(value).is_integer()):
                return _mismatch(default_value, "the flag's value is not an integer")
            if result.error_code is None:
                result = _with_value(result, int(value))
            return _resolution(result)

        return _guarded(default_value, resolve)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        def resolve() -> FlagResolutionDetails[float]:
            context = to_context(evaluation_context)
            result = self.client.number_details(flag_key, context, default_value)
            if result.error_code is None:
                result = _with_value(result, float(result.value))
            return _resolution(result)

        return _guarded(default_value, resolve)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: _Object,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[_Object]:
        def resolve() -> FlagResolutionDetails[_Object]:
            context = to_context(evaluation_context)
            result = self.client.json_details(flag_key, context, default_value)
            if result.error_code is None and not isinstance(result.value, dict | list):
                return _mismatch(default_value, "the flag's value is not an object or a list")
            return _resolution(result)

        return _guarded(default_value, resolve)


def _guarded(
    default: T, resolve: Callable[[], FlagResolutionDetails[T]]
) -> FlagResolutionDetails[T]:
    """`resolve()`, or the default with GENERAL when it raises (an evaluation context whose
    attributes cannot be read, say): a provider never raises into the application."""
    try:
        return resolve()
    except Exception as exc:  # noqa: BLE001 - never raise into the host
        return FlagResolutionDetails(
            value=default,
            error_code=ErrorCode.GENERAL,
            error_message=f"{type(exc).__name__}: {exc}",
            reason=Reason.ERROR,
        )


def _with_value(result: EvaluationResult, value: Any) -> EvaluationResult:
    return replace(result, value=value)


def _mismatch(default: Any, message: str) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(
        value=default,
        error_code=ErrorCode.TYPE_MISMATCH,
        error_message=message,
        reason=Reason.ERROR,
    )
