"""What the SDK says to the server and does with the answers, shared by both transports.

The thread (`streaming.py`) and the asyncio task (`async_streaming.py`) only move bytes; this
class decides the requests' headers, reads statuses and events into the store, loads the
persisted snapshot when the server cannot be reached, and logs each outage once.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from typing import Any

from .errors import KeyRefusedError, SnapshotLoadError, StreamError
from .persist import load_snapshot
from .sse import SseParser
from .store import ClientEvent, FlagStore

__all__ = ["Protocol", "parse_retry_after"]

#: The longest `Retry-After` honoured: a wrong header must not silence the SDK for days.
MAX_RETRY_AFTER = 3600.0

log = logging.getLogger("launchsequence_sdk")


class Protocol:
    def __init__(
        self, store: FlagStore, sdk_key: str, base_url: str, extra: dict[str, str] | None = None
    ) -> None:
        self.store = store
        self.sdk_key = sdk_key
        self.extra_headers = extra or {}  # the SDK and application (usage.sdk_headers)
        # Schema version 2 (prerequisites, metadata, unset defaults): without asking, the
        # server sends version 1, for SDKs whose engine reads only that.
        self.snapshot_url = f"{base_url}/sdk/v1/snapshot?schema=2"
        self.stream_url = f"{base_url}/sdk/v1/stream?schema=2"
        self.refused: KeyRefusedError | None = None
        self._parser = SseParser()
        self._resync = False  # the next stream must start with a `put`
        self._failing = False  # an outage is being logged
        self._file_tried = False
        self._unannounced: str | None = None  # why the flags went stale, not yet told

    # --- requests --------------------------------------------------------------------------

    @property
    def needs_snapshot(self) -> bool:
        """Download the snapshot first: nothing from this server has been served yet."""
        state = self.store.state
        return state is None or state.source != "server"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sdk_key}", "User-Agent": "launchsequence-sdk",
                **self.extra_headers}  # fmt: skip

    def stream_headers(self) -> dict[str, str]:
        headers = {**self.headers(), "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        state = self.store.state
        if state is not None and state.source == "server" and not self._resync:
            headers["Last-Event-ID"] = str(state.version)
        return headers

    # --- answers ---------------------------------------------------------------------------

    def check_status(self, status: int, retry_after: str | None = None) -> None:
        """Raise unless `status` is 200; a 429 or 503 carries its `Retry-After` header's
        delay, so that the transport waits at least that long (a full server asks)."""
        if status in (401, 403):
            raise KeyRefusedError(f"the server refused the SDK key ({status})")
        if status != 200:
            wait = parse_retry_after(retry_after) if status in (429, 503) else None
            raise StreamError(f"the server answered {status}", wait)

    def snapshot(self, status: int, body: bytes, retry_after: str | None = None) -> None:
        self.check_status(status, retry_after)
        self.store.heard()
        try:
            self.store.replace(json.loads(body), "server")
        except (ValueError, SnapshotLoadError) as exc:
            raise StreamError(f"unusable snapshot: {exc}") from exc

    def stream_opened(self) -> None:
        self._parser = SseParser()
        self._resync = False
        self.store.heard()
        self.store.mark_stale(False)  # live again: the server sends whatever was missed
        if self._failing:
            log.info("launchsequence: connected to the server again")
            self._failing = False
            self.store.emit(ClientEvent("ready", message="connected"))

    def line(self, line: str) -> None:
        """One line of the stream. Raises StreamError on an event it cannot apply, so that the
        transport reconnects and the server sends the whole snapshot again."""
        self.store.heard()  # heartbeats included: the connection is alive
        event = self._parser.feed(line)
        if event is None or event.event not in ("put", "patch", "delete"):
            return
        try:
            data: Any = json.loads(event.data)
            if event.event == "put":
                self.store.replace(data, "server")
            else:
                kind, key = data.get("kind"), data.get("key")
                version = data.get("version")
                doc = data.get(kind) if event.event == "patch" else None
                if kind in ("flag", "segment") and (
                    not isinstance(key, str) or (event.event == "patch" and doc is None)
                ):
                    raise ValueError("a patch without its key or document")
                self.store.patch(
                    str(kind), str(key), doc, version if type(version) is int else None
                )
        except (ValueError, AttributeError, TypeError, SnapshotLoadError) as exc:
            self._resync = True
            raise StreamError(f"could not apply a {event.event} event: {exc}") from exc

    # --- failures --------------------------------------------------------------------------

    def key_refused(self, exc: KeyRefusedError) -> None:
        self.refused = exc
        self.store.mark_stale(True)  # served from now on, never updated again
        log.error("launchsequence: %s; the SDK stops connecting and serves its last flags", exc)
        self.store.emit(ClientEvent("error", message=str(exc)))

    def failed(self, exc: BaseException) -> None:
        """A connection attempt or an open stream failed (retried after a delay)."""
        if not self._failing:
            self._failing = True
            log.warning("launchsequence: connection to the server failed (%s); retrying", exc)
        else:
            log.debug("launchsequence: still failing: %s", exc)
        # The server's flags turn stale once per outage; the event follows, so that its
        # listeners already see reason STALE.
        if self.store.mark_stale(True):
            self.store.emit(ClientEvent("stale", message=str(exc)))
        self._load_file()

    def interrupted(self, why: str, level: int = logging.WARNING) -> None:
        """The flags stop being kept current for another reason than a failed connection (the
        event loop streaming them ended): stale now, told once to the log and the listeners as
        an outage is; the next open stream announces "connected" again."""
        self._failing = True
        log.log(level, "launchsequence: %s; serving the last flags (reason STALE)", why)
        if self.store.mark_stale(True):
            self.store.emit(ClientEvent("stale", message=why))

    def forked(self, why: str) -> None:
        """In a child process, from the fork hook: stale at once, so that nothing in the child
        ever sees the parent's stream as its own. Logging is fork-safe (it renews its locks in
        the child first), the listeners may not be: the event waits for `announce()`, on the
        child's own stream thread or task."""
        self._failing = True
        self._parser = SseParser()
        if self.store.mark_stale(True):
            log.info("launchsequence: %s; serving the last flags (reason STALE)", why)
            self._unannounced = why

    def announce(self) -> None:
        """Tell the listeners what `forked()` could not (the transport calls this first thing,
        on its own thread or task)."""
        why, self._unannounced = self._unannounced, None
        if why is not None:
            self.store.emit(ClientEvent("stale", message=why))

    def _load_file(self) -> None:
        """Serve the persisted snapshot when the server has never answered this process."""
        path = self.store.persist_path
        if path is None or self._file_tried or self.store.state is not None:
            return
        self._file_tried = True
        document = load_snapshot(path)
        if document is None:
            return
        try:
            self.store.replace(document, "file")
            log.warning("launchsequence: serving the persisted snapshot from %s", path)
        except SnapshotLoadError as exc:
            log.warning("launchsequence: ignoring the persisted snapshot %s: %s", path, exc)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date), at most
    MAX_RETRY_AFTER; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)
