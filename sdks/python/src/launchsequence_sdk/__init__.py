"""Launch Sequence's Python SDK: an environment's flags, streamed and evaluated locally.

`Client` (threads) and `AsyncClient` (asyncio) share one API; `TestData` serves flags built in
code for tests. The OpenFeature provider is `launchsequence_sdk.openfeature` (install the
`openfeature` extra). See `docs/sdk-python.md`.
"""

from launchsequence_engine import ErrorCode, EvaluationResult, Reason

from .async_client import AsyncClient
from .client import Client
from .errors import (
    ConfigurationError,
    KeyRefusedError,
    LaunchSequenceError,
    SnapshotLoadError,
    StreamError,
)
from .evaluation import CACHED, PROVIDER_NOT_READY, STALE, Context
from .store import ClientEvent
from .testdata import FlagBuilder, TestData
from .version import __version__ as __version__

__all__ = [
    "PROVIDER_NOT_READY",
    "STALE",
    "CACHED",
    "AsyncClient",
    "Client",
    "ClientEvent",
    "ConfigurationError",
    "Context",
    "ErrorCode",
    "EvaluationResult",
    "FlagBuilder",
    "KeyRefusedError",
    "LaunchSequenceError",
    "Reason",
    "SnapshotLoadError",
    "StreamError",
    "TestData",
]
