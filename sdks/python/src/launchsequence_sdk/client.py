"""`Client`: the synchronous SDK. Streams in a daemon thread, evaluates in the caller's."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from . import forking
from .errors import ConfigurationError
from .evaluation import Evaluator
from .options import (
    DEFAULT_BASE_URL,
    check_application,
    check_options,
    make_backoff,
    make_timeout,
)
from .protocol import Protocol
from .store import ClientEvent, FlagStore
from .streaming import StreamingThread
from .telemetry import instrument
from .testdata import TestData
from .usage import UsageReporter, sdk_headers, start_reporting
from .version import __version__

__all__ = ["Client"]

log = logging.getLogger("launchsequence_sdk")

EMPTY_SNAPSHOT: Mapping[str, Any] = {"schema_version": 1, "version": 0, "flags": {}, "segments": {}}


class Client(Evaluator):
    """Flags of one environment, downloaded with its server key, kept current over the stream
    and evaluated locally. Never raises into the application after construction and never
    waits on the network to evaluate: see `docs/sdk-python.md` for every option.
    """

    _reporter: UsageReporter | None = None

    def __init__(
        self,
        sdk_key: str = "",
        *,
        base_url: str = DEFAULT_BASE_URL,
        persist_path: str | Path | None = None,
        offline: bool = False,
        snapshot: Mapping[str, Any] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 35.0,
        initial_reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        telemetry: bool | None = None,
        telemetry_values: bool = False,
        application: str = "",
        send_usage: bool = True,
    ) -> None:
        url, path = check_options(sdk_key, base_url, offline, snapshot, persist_path)
        instrument(
            self, telemetry, telemetry_values
        )  # OpenTelemetry events, when it is installed (telemetry.py)
        self._store = FlagStore(path)
        self._settled = threading.Event()
        self._store.on_event(self._observe)
        self._protocol: Protocol | None = None
        self._stream: StreamingThread | None = None
        if offline:
            self._store.replace(snapshot if snapshot is not None else EMPTY_SNAPSHOT, "offline")
            return
        timeout = make_timeout(connect_timeout, read_timeout)
        backoff = make_backoff(initial_reconnect_delay, max_reconnect_delay)
        self._store.silence_limit = read_timeout
        application = check_application(application)
        self._protocol = Protocol(self._store, sdk_key, url, sdk_headers(__version__, application))
        self._reporter: UsageReporter | None = None
        if send_usage:
            usage, self._reporter = start_reporting(sdk_key, url, application, __version__)
            self._count_with(usage)

        def make_http() -> httpx.Client:
            return httpx.Client(timeout=timeout, headers={"Accept-Encoding": "identity"})

        self._stream = StreamingThread(self._protocol, backoff, make_http)
        forking.track(self)
        self._stream.start()

    @classmethod
    def for_test_data(cls, test_data: TestData) -> Client:
        """An offline client serving `test_data`, updated (and firing `on_change`) with it.
        Raises ConfigurationError (it is a constructor) when `test_data` is not a `TestData`."""
        if not isinstance(test_data, TestData):
            raise ConfigurationError("for_test_data needs a TestData")
        client = cls(offline=True)
        test_data.attach(client._store)
        return client

    def _after_fork(self) -> None:
        """In a forked child (gunicorn --preload, ...): the parent's stream thread does not
        exist here. Fresh locks, the flags stale until this process's own stream is open, and
        that stream started now (`forking.py`)."""
        self._store.after_fork()
        settled, self._settled = self._settled, threading.Event()
        if settled.is_set():
            self._settled.set()
        stream, protocol = self._stream, self._protocol
        if stream is None or protocol is None or stream.stopped or protocol.refused is not None:
            return  # offline, closed, or refused: nothing was streaming, nothing to restart
        protocol.forked(f"the process forked (pid {os.getpid()}): streaming again in it")
        self._stream = stream.respawn()
        self._stream.start()
        if self._reporter is not None:  # the parent's thread does not exist here either
            self._reporter = self._reporter.respawn()
            self._reporter.start()

    def _observe(self, event: ClientEvent) -> None:
        if event.kind in ("ready", "error"):
            self._settled.set()

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Wait until the client has flags to serve (from the server, or the persisted file when
        the server cannot be reached); False on timeout or when the server refused the key.
        A timeout that is not a number (or None, to wait as long as it takes) is logged and
        answered at once."""
        try:
            if self._store.state is None:
                self._settled.wait(timeout)
        except Exception:  # never raise into the host
            log.exception("launchsequence: wait_until_ready(%r) could not wait", timeout)
        return self.is_ready

    @property
    def is_ready(self) -> bool:
        refused = self._protocol is not None and self._protocol.refused is not None
        return self._store.state is not None and not refused

    def close(self) -> None:
        """Stop streaming. The last flags are still served, as stale (`is_stale`, reason
        STALE): nothing keeps them current any more. Safe to call more than once."""
        try:
            if self._stream is not None:
                self._stream.stop()
                self._store.mark_stale(True)
            reporter, self._reporter = self._reporter, None
            if reporter is not None:
                reporter.close()  # the counts since the last report, sent now
        except Exception:  # never raise into the host, at shutdown least of all
            log.exception("launchsequence: closing the client failed")

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
