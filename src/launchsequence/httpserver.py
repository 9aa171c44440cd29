"""The HTTP protocol `launchseq serve` runs: uvicorn's (httptools), with a limit on the size of
a request's head (request line and headers), which uvicorn does not have: without it, one
request could make the server buffer megabytes of headers."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["head_limited_protocol"]

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
    kept-alive connection has its own count."""

    max_head_bytes = 65_536

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._received = 0  # bytes received since the current head began
        self._head_size = 0  # bytes of the current head parsed so far
        self._in_head = True
        self._refused = False
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._received += len(data)
        super().data_received(data)
        if self._refused or (self._in_head and self._received > self.max_head_bytes):
            self._refuse()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > self.max_head_bytes:
            self._refused = True  # no request cycle: the app never sees it
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._in_head = True
        self._received = 0
        self._head_size = 0
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


def head_limited_protocol(max_head_bytes: int) -> Any:
    """The protocol class to give uvicorn as `http=`."""
    return type("HeadLimitedProtocol", (_HeadLimitedProtocol,), {"max_head_bytes": max_head_bytes})
