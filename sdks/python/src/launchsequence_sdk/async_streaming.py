"""The asyncio transport: one task downloads the snapshot and reads the stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from .backoff import Backoff
from .errors import KeyRefusedError, StreamError
from .protocol import Protocol

__all__ = ["StreamingTask"]

log = logging.getLogger("launchsequence_sdk")


class StreamingTask:
    """As `StreamingThread`, in the running event loop; `stop()` cancels the task."""

    def __init__(self, protocol: Protocol, backoff: Backoff, http: httpx.AsyncClient) -> None:
        self.protocol = protocol
        self.backoff = backoff
        self.http = http
        self.finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="launchsequence-stream"
            )

    async def stop(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.aclose()

    async def _run(self) -> None:
        try:
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
        finally:
            self.finished.set()

    async def _connect_once(self) -> None:
        protocol = self.protocol
        if protocol.needs_snapshot:
            answer = await self.http.get(protocol.snapshot_url, headers=protocol.headers())
            protocol.snapshot(answer.status_code, answer.content, answer.headers.get("retry-after"))
        headers = protocol.stream_headers()
        async with self.http.stream("GET", protocol.stream_url, headers=headers) as r:
            protocol.check_status(r.status_code, r.headers.get("retry-after"))
            protocol.stream_opened()
            self.backoff.connected()
            async for line in r.aiter_lines():
                protocol.line(line)
        raise StreamError("the server closed the stream")
