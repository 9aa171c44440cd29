"""Writing a streaming response body straight to the connection's transport.

Fan-out to thousands of subscribers is the hot path: waking one task per subscriber per event
costs more than the event itself. Under uvicorn's httptools protocol we reach the transport
behind the ASGI `send` callable and write pre-framed chunks to it from the hub, so an event costs
one `transport.write` per subscriber. Where that is not possible (another server or protocol),
`TransportWriter.attach` returns None and the caller streams through `send` instead.
See docs/decisions/0002-stream-fan-out.md.
"""

from __future__ import annotations

from typing import Any

from .sse import chunk

Writer = Any  # TransportWriter or QueuedWriter: write(), buffered(), close(), closed

__all__ = ["QueuedWriter", "TransportWriter", "Writer"]


class TransportWriter:
    """Writes body chunks of a started, chunked HTTP/1.1 response directly to its transport."""

    __slots__ = ("_cycle", "_transport")

    def __init__(self, cycle: Any, transport: Any) -> None:
        self._cycle = cycle
        self._transport = transport

    @classmethod
    def attach(cls, send: Any) -> TransportWriter | None:
        """A writer for the response `send` belongs to, once its headers went out; or None."""
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if (
            transport is None
            or getattr(cycle, "response_started", False) is not True
            or getattr(cycle, "chunked_encoding", None) is not True
            or not hasattr(transport, "get_write_buffer_size")
        ):
            return None
        return cls(cycle, transport)

    @property
    def closed(self) -> bool:
        return bool(self._cycle.disconnected or self._transport.is_closing())

    def buffered(self) -> int:
        """Bytes written but not yet taken by the client: how far behind it is."""
        return int(self._transport.get_write_buffer_size())

    def write(self, data: bytes) -> None:
        if not self.closed:
            self._transport.write(chunk(data))

    def write_chunk(self, framed: bytes) -> None:
        """Write bytes already framed as one HTTP chunk (see `frame`): fan-out frames an event
        once for everyone."""
        if not self._transport.is_closing():
            self._transport.write(framed)

    @staticmethod
    def frame(data: bytes) -> bytes:
        return chunk(data)

    def close(self) -> None:
        """Drop the connection (the client reconnects and gets a fresh `put`).

        Abort, not close: `transport.close()` waits until the buffer is flushed, so a client
        that stopped reading would keep its connection, its buffer and its stream slot (and
        be counted as dropped again at every event) for as long as it stays stalled."""
        self._transport.abort()


class QueuedWriter:
    """The portable fallback: chunks queue up (bounded by the caller's buffer check) and the
    subscriber's own task sends them through ASGI `send`."""

    __slots__ = ("_closed", "_event", "_pending", "_size", "_task")

    def __init__(self) -> None:
        import asyncio

        self._task: asyncio.Task[None] | None = None
        self._pending: list[bytes] = []
        self._size = 0
        self._closed = False
        self._event = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed

    def buffered(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        if not self._closed:
            self._pending.append(data)
            self._size += len(data)
            self._event.set()

    write_chunk = write

    @staticmethod
    def frame(data: bytes) -> bytes:
        return data

    def close(self) -> None:
        self._closed = True
        self._event.set()
        if self._task is not None:
            self._task.cancel()  # it may be stuck sending to a client that stopped reading

    async def pump(self, send: Any) -> None:
        """Send queued chunks until closed or the client goes away."""
        import asyncio

        self._task = asyncio.current_task()
        while not self._closed:
            await self._event.wait()
            self._event.clear()
            if self._pending:
                data, self._pending, self._size = b"".join(self._pending), [], 0
                try:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                except OSError:
                    self._closed = True
