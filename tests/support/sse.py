"""Reading Server-Sent Events in tests: the wire format, and the snapshot a server-stream
subscriber rebuilds from `put`, `patch` and `delete` events, as the SDKs do."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

__all__ = ["HEARTBEAT", "apply_server_event", "read_events", "server_state"]

#: What `read_events` yields for a comment line (the server's heartbeat).
HEARTBEAT = None


def read_events(
    lines: Iterable[str], stop: threading.Event
) -> Iterator[tuple[str, str | None, Any] | None]:
    """The events of a stream's lines as (name, id, data parsed as JSON), and HEARTBEAT for
    each comment; ends when the lines do or `stop` is set (checked at every line)."""
    name, event_id, data = "message", None, list[str]()
    for line in lines:
        if stop.is_set():
            return
        if line == "":
            if data:
                yield name, event_id, orjson.loads("\n".join(data))
            name, event_id, data = "message", None, []
        elif line.startswith(":"):
            yield HEARTBEAT
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)


def apply_server_event(
    document: dict[str, Any] | None, name: str, data: Any
) -> dict[str, Any] | None:
    """The snapshot after one server-stream event: a `put` replaces it (with a copy of its
    data), a `patch` or `delete` changes it in place; anything else, or a patch before any
    put, leaves it as it was."""
    if name == "put":
        return copy.deepcopy(data)  # type: ignore[no-any-return]
    if document is None or name not in ("patch", "delete"):
        return document
    document["version"] = data["version"]
    kind = data["kind"]
    if kind != "none":
        bucket = document["flags" if kind == "flag" else "segments"]
        if name == "patch":
            bucket[data["key"]] = data[kind]
        else:
            bucket.pop(data["key"], None)
    return document


def server_state(events: Iterable[tuple[str, Any]]) -> dict[str, Any] | None:
    """The snapshot rebuilt from (name, data) events: the last `put`, then what follows it."""
    document: dict[str, Any] | None = None
    for name, data in events:
        document = apply_server_event(document, name, data)
    return document
