"""The SDK's exceptions: one hierarchy. Evaluation never raises any of them.

Only constructors (a bad option) raise into the host. The others describe why the stream failed;
they are logged and retried inside the SDK, never passed to the application.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "KeyRefusedError",
    "LaunchSequenceError",
    "SnapshotLoadError",
    "StreamError",
]


class LaunchSequenceError(Exception):
    """Base class of every exception the SDK defines."""


class ConfigurationError(LaunchSequenceError, ValueError):
    """An option given to a client is invalid (raised by the constructor only)."""


class StreamError(LaunchSequenceError):
    """The connection to the server failed or answered unexpectedly; the SDK retries, not
    sooner than `retry_after` seconds when the server said when (429 or 503 `Retry-After`)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyRefusedError(StreamError):
    """The server refused the SDK key (401 or 403): permanent, the SDK stops connecting."""


class SnapshotLoadError(LaunchSequenceError):
    """A snapshot (from the server or the persisted file) could not be read or compiled."""
