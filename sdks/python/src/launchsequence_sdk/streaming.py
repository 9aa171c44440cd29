"""The synchronous transport: one daemon thread downloads the snapshot and reads the stream."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

import httpx

from .backoff import Backoff
from .errors import KeyRefusedError, StreamError
from .protocol import Protocol

__all__ = ["StreamingThread"]

log = logging.getLogger("launchsequence_sdk")


class StreamingThread:
    """Connects, reads, and on any failure waits a backoff delay and connects again, until
    `stop()` or a refused key. Everything it learns goes through `protocol` into the store."""

    def __init__(self, protocol: Protocol, backoff: Backoff, http: httpx.Client) -> None:
        self.protocol = protocol
        self.backoff = backoff
        self.http = http
        self.finished = threading.Event()  # set when the thread has given up for good
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="launchsequence-stream", daemon=True)

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

    def _run(self) -> None:
        try:
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
