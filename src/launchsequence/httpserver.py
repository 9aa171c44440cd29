"""The HTTP protocol `launchseq serve` runs: uvicorn's (httptools), with a limit on the size of
a request's head (request line and headers) and on the time it may take to arrive, which
uvicorn does not have: without them, one request could make the server buffer megabytes of
headers, and a client sending a byte now and then (or nothing) could hold a connection open
for ever."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["BODY_TIMED", "head_limited_protocol"]

_TOO_SLOW = orjson.dumps(
    {
        "error": {
            "code": "request_timeout",
            "message": "the request line and headers arrived too slowly",
        }
    }
)
_BODY_TOO_SLOW = orjson.dumps(
    {"error": {"code": "request_timeout", "message": "the request body arrived too slowly"}}
)

#: Set in the scope's `extensions` of every request this protocol serves: the server itself
#: times request bodies, so the application's BodyLimit need not (it costs a timer per read).
BODY_TIMED = "launchsequence.body_timed"
_TOO_LARGE = orjson.dumps(
    {
        "error": {
            "code": "headers_too_large",
            "message": "the request line and headers are too large",
        }
    }
)


class _HeadLimitedProtocol(HttpToolsProtocol):
    """Answers 431 and closes the connection when a request's head passes `max_head_bytes`:
    counted from the parsed request line and headers, and, while a head is still incomplete,
    from the bytes received, so a head that never ends is cut off too. Each request on a
    kept-alive connection has its own count.

    A head must also be whole `head_timeout` seconds after the connection opened or the last
    answer on it was sent; otherwise the connection is closed (with 408 if some of it came).
    A body must be whole `body_timeout` seconds after its head, or 408 and the connection is
    closed (if the time is up while the server is not reading because the application has not
    consumed what came, the body gets another `body_timeout`). Once a request is in, it (a
    stream included) has no such limit.

    When a new connection makes more than `max_connections` open (0: no limit), idle ones
    (nothing of a request received yet: kept alive between requests, or opened and left
    silent) are closed to make room, so that connections held open doing nothing cannot take
    the descriptors a health check or a kill switch needs."""

    max_head_bytes = 65_536
    head_timeout = 30.0
    body_timeout = 30.0
    max_connections = 0
    #: This server's idle connections, the longest idle first (each server has its own
    #: subclass, made by `head_limited_protocol`, and so its own dict).
    _idle_connections: ClassVar[dict[_HeadLimitedProtocol, None]] = {}

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._received = 0  # bytes received since the current head began
        self._in_head = True
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_head_timer()
        self._idle_since_now()
        if self.max_connections and len(self.connections) > self.max_connections:
            self._shed_idle(len(self.connections) - self.max_connections)

    def _idle_since_now(self) -> None:
        """Nothing of a request has come on this connection yet: it may be shed, after the
        connections idle for longer."""
        self._idle_connections.pop(self, None)
        self._idle_connections[self] = None

    def _shed_idle(self, count: int) -> None:
        """Close up to `count` idle connections other than this new one, the longest idle
        first; as a keep-alive timeout would, without an answer (a client opens a new
        connection when it needs one)."""
        for other in list(itertools.islice(self._idle_connections, count + 1)):
            if count <= 0:
                return
            if other is not self:
                del self._idle_connections[other]
                other.transport.close()
                count -= 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._idle_connections.pop(self, None)
        self._cancel_head_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._in_head:
            self._arm_head_timer()  # the next request's head is on the clock
            if self._received == 0:
                self._idle_since_now()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self._in_head:
            return
        if self.flow.read_paused:  # waiting on the application, not on the client
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_timed_out)
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%b"
                % (len(_BODY_TOO_SLOW), _BODY_TOO_SLOW)
            )
        if cycle is not None:
            # As when the client goes: the application's read ends with http.disconnect and
            # whatever it sends now is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._in_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # an answer is being written; its end re-arms the timer
        if self._received:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%b" % (len(_TOO_SLOW), _TOO_SLOW)
            )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._idle_connections.pop(self, None)
        if self._refused:
            return
        if self._in_head:
            self._received += len(data)
        super().data_received(data)
        if self._refused or (self._in_head and self._received > self.max_head_bytes):
            self._refuse()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        # The parsed head's size, counted once here rather than in a callback per header.
        head_size = len(self.url)
        has_body = False
        for name, value in self.headers:
            head_size += len(name) + len(value) + 4
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                has_body = True
        if head_size > self.max_head_bytes:
            self._refused = True  # no request cycle: the app never sees it
            return
        extensions = self.scope.get("extensions") or {}
        self.scope["extensions"] = {**extensions, BODY_TIMED: {}}
        super().on_headers_complete()
        if has_body:
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_timed_out)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        if self._refused:
            return
        self._in_head = True
        self._received = 0
        super().on_message_complete()

    def _refuse(self) -> None:
        self._refused = True
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # no answer being written
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%b" % (len(_TOO_LARGE), _TOO_LARGE)
            )
        self.transport.close()


def head_limited_protocol(
    max_head_bytes: int,
    head_timeout: float = 30.0,
    body_timeout: float = 30.0,
    max_connections: int = 0,
) -> Any:
    """The protocol class to give uvicorn as `http=`."""
    limits = {
        "max_head_bytes": max_head_bytes,
        "head_timeout": head_timeout,
        "body_timeout": body_timeout,
        "max_connections": max_connections,
        "_idle_connections": {},
    }
    return type("HeadLimitedProtocol", (_HeadLimitedProtocol,), limits)
