"""The SSE response: registers a subscriber with its hub and holds the connection open.

Under uvicorn the hub writes events straight to the connection (see realtime/writer.py), so
this task only waits for the client to go away. Elsewhere it pumps a queue through `send`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from ..middleware import add_security_headers
from ..realtime import sse
from ..realtime.hub import Hub, HubState
from ..realtime.hubs import Hubs
from ..realtime.keys import SdkKey
from ..realtime.writer import QueuedWriter, TransportWriter, Writer
from ..streamslots import LimitReached, retry_after
from .common import SdkError, sdk_error_response

__all__ = ["STREAM_HEADERS", "EventStream", "StreamApp"]

STREAM_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    # Never cached, never buffered by a proxy (nginx honours X-Accel-Buffering), never compressed.
    "cache-control": "no-cache, no-transform",
    "x-accel-buffering": "no",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "access-control-allow-origin": "*",  # EventSource from pages on other origins
}
RETRY_MS = 2000
#: The answer's head, encoded once (a tuple: a server that wanted to add to it must copy it).
_HEAD = tuple((k.encode(), v.encode()) for k, v in STREAM_HEADERS.items())


class EventStream:
    """An SSE answer for one subscriber.

    `subscribe(writer, state)` builds the subscriber, adds it to its hub's set, and returns
    the first bytes to send (written in the same event-loop step as the registration, so that no
    event can fall between the two) and a function that removes it again.

    A stream lives for hours, and every full garbage collection walks each object it holds (at
    10,000 streams, ~250 ms a collection): it holds no list of its headers and lets go of
    `subscribe` (a closure and its cells) once it has subscribed, 51 objects a stream, was 58.
    """

    __slots__ = ("hub", "hubs", "key", "kind", "subscribe")

    def __init__(
        self,
        hubs: Hubs,
        hub: Hub,
        key: SdkKey,
        kind: str,
        subscribe: Callable[[Writer, HubState], tuple[bytes, Callable[[], None]]],
    ) -> None:
        self.hubs = hubs
        self.hub = hub
        self.key = key
        self.kind = kind
        self.subscribe = subscribe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slots = self.hubs.slots
        try:
            slots.admit(self.key.digest, self.kind)
        except LimitReached as exc:
            refusal = SdkError(503, "too_many_streams",
                               f"stream limit reached ({exc.which}); retry later",
                               {"Retry-After": retry_after()})  # fmt: skip
            await sdk_error_response(refusal)(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _HEAD})
            writer: Writer = TransportWriter.attach(send) or QueuedWriter()
            first, unsubscribe = self.subscribe(writer, self.hub.state)
            del self.subscribe  # used once: its closure need not live as long as the stream
            writer.write(sse.retry_hint(RETRY_MS) + first)
            try:
                if isinstance(writer, QueuedWriter):
                    await _pump_until_disconnect(writer, send, receive)
                else:
                    while (await receive())["type"] != "http.disconnect":
                        pass
            finally:
                unsubscribe()
                writer.close()
        finally:
            slots.release(self.key.digest, self.kind)


async def _pump_until_disconnect(writer: QueuedWriter, send: Send, receive: Receive) -> None:
    pump = asyncio.create_task(writer.pump(send))

    async def wait_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.create_task(wait_disconnect())
    try:
        await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            final = send({"type": "http.response.body", "body": b"", "more_body": False})
            await asyncio.wait_for(final, timeout=1)


StreamHandler = Callable[[HTTPConnection], Awaitable[EventStream]]


class StreamApp:
    """Raw ASGI for the stream endpoints: a stream lives for hours, so it keeps no middleware
    frames or request object, only its subscriber and the task waiting for the client to go."""

    def __init__(self, handlers: dict[str, StreamHandler]) -> None:
        self.handlers = handlers

    def matches(self, scope: Scope) -> bool:
        return scope["path"] in self.handlers and scope["method"] == "GET"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.handlers[scope["path"]]
        try:
            stream = await handler(HTTPConnection(scope))
        except SdkError as exc:
            refusal = sdk_error_response(exc)
            refusal.headers["access-control-allow-origin"] = "*"
            add_security_headers(refusal.raw_headers)  # no middleware is outside this app
            await refusal(scope, receive, send)
            return
        await stream(scope, receive, send)
