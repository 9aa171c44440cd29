"""`AsyncClient`: the asyncio SDK. Streams in a task; evaluation methods stay synchronous."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from . import forking
from .async_streaming import StreamingTask
from .client import EMPTY_SNAPSHOT
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
from .telemetry import instrument
from .testdata import TestData
from .usage import UsageReporter, sdk_headers, start_reporting
from .version import __version__

__all__ = ["AsyncClient"]

log = logging.getLogger("launchsequence_sdk")


class AsyncClient(Evaluator):
    """`Client`'s API for asyncio applications: `await wait_until_ready()`, `await aclose()`,
    `async with`. Streaming starts in the running loop (at construction when one is running,
    else at the first `await`); evaluation never awaits anything."""

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
        self._settled = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._store.on_event(self._observe)
        self._protocol: Protocol | None = None
        self._stream: StreamingTask | None = None
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

        def make_http() -> httpx.AsyncClient:
            return httpx.AsyncClient(timeout=timeout, headers={"Accept-Encoding": "identity"})

        self._stream = StreamingTask(self._protocol, backoff, make_http)
        forking.track(self)
        with contextlib.suppress(RuntimeError):  # no running loop yet: start at the first await
            self._start()

    @classmethod
    def for_test_data(cls, test_data: TestData) -> AsyncClient:
        """An offline client serving `test_data`, updated (and firing `on_change`) with it.
        Raises ConfigurationError (it is a constructor) when `test_data` is not a `TestData`."""
        if not isinstance(test_data, TestData):
            raise ConfigurationError("for_test_data needs a TestData")
        client = cls(offline=True)
        test_data.attach(client._store)
        return client

    def _start(self) -> None:
        """Stream in the running loop (RuntimeError when none runs). A task that ended without
        `aclose()` or a refused key (its loop shut down, or the process forked) is replaced by
        a new one in this loop."""
        loop = asyncio.get_running_loop()
        stream, protocol = self._stream, self._protocol
        if stream is None or protocol is None:
            self._loop = loop
            return
        if stream.ended and not stream.stopped and protocol.refused is None:
            stream = self._stream = stream.respawn()
        if loop is not self._loop:
            # An asyncio.Event belongs to the loop that first waited on it.
            settled, self._settled = self._settled, asyncio.Event()
            if settled.is_set():
                self._settled.set()
            self._loop = loop
        stream.start()

    def _after_fork(self) -> None:
        """In a forked child: the parent's task and loop do not run here. Fresh locks, the flags
        stale, and a new task at the next `await` of the client in this process's loop (an
        asyncio server starts its loop after the fork: call `await client.start()` at startup)."""
        self._store.after_fork()
        stream, protocol = self._stream, self._protocol
        if stream is None or protocol is None or stream.stopped or protocol.refused is not None:
            return
        protocol.forked(f"the process forked (pid {os.getpid()}): streaming again at its start()")
        self._stream = stream.respawn()
        self._loop = None
        if self._reporter is not None:  # usage is reported from a thread: start it again here
            self._reporter = self._reporter.respawn()
            self._reporter.start()

    async def start(self) -> None:
        """Start streaming now (the other coroutines do it when needed)."""
        try:
            self._start()
        except Exception:  # never raise into the host
            log.exception("launchsequence: could not start streaming")

    def _observe(self, event: ClientEvent) -> None:
        if event.kind not in ("ready", "error"):
            return
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._settled.set()
        else:  # a change made from another thread (test data)
            loop.call_soon_threadsafe(self._settled.set)

    async def wait_until_ready(self, timeout: float | None = None) -> bool:
        """As `Client.wait_until_ready`, without blocking the loop."""
        try:
            self._start()
            if self._store.state is None:
                waiting = self._settled.wait()
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiting, timeout)
                finally:
                    waiting.close()  # never started when the timeout was refused
        except Exception:  # never raise into the host (cancellation passes)
            log.exception("launchsequence: wait_until_ready(%r) could not wait", timeout)
        return self.is_ready

    @property
    def is_ready(self) -> bool:
        refused = self._protocol is not None and self._protocol.refused is not None
        return self._store.state is not None and not refused

    async def aclose(self) -> None:
        """Stop streaming. The last flags are still served, as stale (`is_stale`, reason
        STALE): nothing keeps them current any more. Safe to call more than once."""
        try:
            if self._stream is not None:
                await self._stream.stop()
                self._store.mark_stale(True)
            reporter, self._reporter = self._reporter, None
            if reporter is not None:  # the counts since the last report, sent from a thread
                await asyncio.to_thread(reporter.close)
        except Exception:  # never raise into the host (cancellation passes)
            log.exception("launchsequence: closing the client failed")

    async def __aenter__(self) -> AsyncClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
