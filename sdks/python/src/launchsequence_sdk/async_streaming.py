"""The asyncio transport: one task downloads the snapshot and reads the stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

import httpx

from .backoff import Backoff
from .errors import KeyRefusedError, StreamError
from .protocol import Protocol

__all__ = ["StreamingTask"]

log = logging.getLogger("launchsequence_sdk")


class StreamingTask:
    """As `StreamingThread`, in the running event loop; `stop()` cancels the task.

    The task belongs to the loop that started it. When that loop cancels it (the loop is shut
    down, as `asyncio.run` does on return) the flags turn stale, and `running` answers False so
    that the client can start a new task, with a new HTTP client, in the next running loop."""

    def __init__(
        self, protocol: Protocol, backoff: Backoff, make_http: Callable[[], httpx.AsyncClient]
    ) -> None:
        self.protocol = protocol
        self.backoff = backoff
        self.make_http = make_http
        self.http = make_http()
        self.finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._socket: socket.socket | None = None

    @property
    def stopped(self) -> bool:
        """`stop()` was called: the client was closed."""
        return self._stopping

    @property
    def ended(self) -> bool:
        """A task was started and has ended (refused, stopped, or cancelled by its loop)."""
        return self._task is not None and self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="launchsequence-stream"
            )

    async def stop(self) -> None:
        self._stopping = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.aclose()

    def respawn(self) -> StreamingTask:
        """A new, unstarted task with a new HTTP client: after a fork (see
        `StreamingThread.respawn`) or once the loop of the previous one has ended."""
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()  # after a fork: this process's copy of the descriptor only
        return StreamingTask(self.protocol, self.backoff, self.make_http)

    async def _run(self) -> None:
        try:
            self.protocol.announce()
            while True:
                asked = None  # the delay the server asked for (Retry-After)
                try:
                    await self._connect_once()
                except KeyRefusedError as exc:
                    self.protocol.key_refused(exc)
                    return
                except (httpx.HTTPError, StreamError, OSError) as exc:
                    asked = getattr(exc, "retry_after", None)
                    self.protocol.failed(exc)
                except Exception as exc:  # never let the task die silently
                    log.exception("launchsequence: unexpected failure in the stream")
                    self.protocol.failed(exc)
                await asyncio.sleep(self.backoff.next_delay(asked))
        except asyncio.CancelledError:
            if not self._stopping:  # not aclose(): the loop is going away with the stream
                self.protocol.interrupted("the event loop running the stream stopped it")
            raise
        finally:
            self._socket = None
            self.finished.set()

    async def _connect_once(self) -> None:
        protocol = self.protocol
        if protocol.needs_snapshot:
            answer = await self.http.get(protocol.snapshot_url, headers=protocol.headers())
            protocol.snapshot(answer.status_code, answer.content, answer.headers.get("retry-after"))
        headers = protocol.stream_headers()
        async with self.http.stream("GET", protocol.stream_url, headers=headers) as r:
            protocol.check_status(r.status_code, r.headers.get("retry-after"))
            stream = r.extensions.get("network_stream")
            self._socket = stream.get_extra_info("socket") if stream is not None else None
            protocol.stream_opened()
            self.backoff.connected()
            async for line in r.aiter_lines():
                protocol.line(line)
        raise StreamError("the server closed the stream")
