"""The synchronous transport: one daemon thread downloads the snapshot and reads the stream."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

import httpx

from .backoff import Backoff
from .errors import KeyRefusedError, StreamError
from .protocol import Protocol

__all__ = ["StreamingThread"]

log = logging.getLogger("launchsequence_sdk")


class StreamingThread:
    """Connects, reads, and on any failure waits a backoff delay and connects again, until
    `stop()` or a refused key. Everything it learns goes through `protocol` into the store.
    `make_http` makes its HTTP client: one per process, so that a forked child never shares
    the parent's connections (see `respawn`)."""

    def __init__(
        self, protocol: Protocol, backoff: Backoff, make_http: Callable[[], httpx.Client]
    ) -> None:
        self.protocol = protocol
        self.backoff = backoff
        self.make_http = make_http
        self.http = make_http()
        self.finished = threading.Event()  # set when the thread has given up for good
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="launchsequence-stream", daemon=True)

    @property
    def stopped(self) -> bool:
        """`stop()` was called: the client was closed."""
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        sock = self._socket
        if sock is not None:  # wakes a read blocked on the stream
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self.http.close()

    def respawn(self) -> StreamingThread:
        """In a forked child: the same protocol and backoff in a new thread with a new HTTP
        client (not started). The parent's connections are left to the parent: their sockets
        are shared with it, and closing them here would cut the parent's stream. Only this
        process's copy of the stream's descriptor is closed, so that the server sees the
        parent's stream end when the parent ends it."""
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()  # a close (never a shutdown) acts on this process's copy only
        return StreamingThread(self.protocol, self.backoff, self.make_http)

    def _run(self) -> None:
        try:
            self.protocol.announce()
            while not self._stop.is_set():
                asked = None  # the delay the server asked for (Retry-After)
                try:
                    self._connect_once()
                except KeyRefusedError as exc:
                    self.protocol.key_refused(exc)
                    return
                except (httpx.HTTPError, StreamError, OSError) as exc:
                    if self._stop.is_set():
                        return
                    asked = getattr(exc, "retry_after", None)
                    self.protocol.failed(exc)
                except Exception as exc:  # never let the thread die silently
                    if self._stop.is_set():
                        return
                    log.exception("launchsequence: unexpected failure in the stream")
                    self.protocol.failed(exc)
                if self._stop.wait(self.backoff.next_delay(asked)):
                    return
        finally:
            self.finished.set()

    def _connect_once(self) -> None:
        protocol = self.protocol
        if protocol.needs_snapshot:
            answer = self.http.get(protocol.snapshot_url, headers=protocol.headers())
            protocol.snapshot(answer.status_code, answer.content, answer.headers.get("retry-after"))
        with self.http.stream("GET", protocol.stream_url, headers=protocol.stream_headers()) as r:
            protocol.check_status(r.status_code, r.headers.get("retry-after"))
            stream = r.extensions.get("network_stream")
            self._socket = stream.get_extra_info("socket") if stream is not None else None
            try:
                protocol.stream_opened()
                self.backoff.connected()
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    protocol.line(line)
            finally:
                self._socket = None
        raise StreamError("the server closed the stream")
