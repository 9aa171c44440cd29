"""Server-Sent Events framing. Each event is encoded once and the same bytes go to everyone."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["HEARTBEAT", "chunk", "event", "retry_hint"]

#: A comment line: keeps idle connections open through proxies; clients ignore it.
HEARTBEAT = b": heartbeat\n\n"


def event(name: str, data: Any, event_id: int | str | None = None) -> bytes:
    """One SSE event; `data` is JSON-encoded on a single line (orjson never emits newlines)."""
    head = b"event: " + name.encode() + b"\n"
    if event_id is not None:
        head += b"id: " + str(event_id).encode() + b"\n"
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def retry_hint(milliseconds: int) -> bytes:
    return b"retry: " + str(milliseconds).encode() + b"\n\n"


def chunk(data: bytes) -> bytes:
    """`data` as one HTTP/1.1 chunk, for writes that bypass the server's own framing."""
    return b"%x\r\n%b\r\n" % (len(data), data)
