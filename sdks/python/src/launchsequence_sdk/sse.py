"""A Server-Sent Events parser fed one line at a time (the WHATWG rules the SDK needs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SseEvent", "SseParser"]

_RETRY = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str
    data: str
    id: str | None


class SseParser:
    """Collects fields until a blank line; `feed` answers the event that line completed."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.retry_ms: int | None = None

    def feed(self, line: str) -> SseEvent | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None  # a comment: the server's heartbeat
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and _RETRY.fullmatch(value):
            # ASCII digits only, as the standard says: "²" passes str.isdigit() but int()
            # refuses it, and a line of thousands of digits is more than int() will read.
            self.retry_ms = int(value)
        return None
