"""A real webhook receiver on loopback: it records what it gets and answers as told.

Each path has a behaviour: answer 200 (the default), fail the first N requests with 500, or hang
(never answer until the receiver stops). Tests read `received(path)` and wait with `wait_for`.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

__all__ = ["Receiver", "Received"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    """`tls` (a server-side SSLContext) serves HTTPS, at https://localhost:<port>."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Lock()
        self._got: list[Received] = []
        self._fail: dict[str, int] = {}
        self._hang: set[str] = set()
        self._release = threading.Event()
        #: Requests held unanswered so far (by `hang`).
        self.hanging = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path
                if path in receiver._hang:
                    with receiver._lock:
                        receiver.hanging += 1
                    receiver._release.wait(60)
                    return
                with receiver._lock:
                    failing = receiver._fail.get(path, 0)
                    if failing:
                        receiver._fail[path] = failing - 1
                    receiver._got.append(
                        Received(path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                status = 500 if failing else 200
                answer = b"try later" if failing else b"thanks"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def fail(self, path: str, times: int) -> None:
        """Answer 500 to the next `times` requests to `path` (they are still recorded)."""
        with self._lock:
            self._fail[path] = times

    def hang(self, path: str, on: bool = True) -> None:
        """Never answer requests to `path` (not recorded) while on."""
        with self._lock:
            (self._hang.add if on else self._hang.discard)(path)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._got if path is None or r.path == path]

    def wait_for(
        self, check: Callable[[list[Received]], bool], path: str | None = None, timeout: float = 20
    ) -> list[Received]:
        """Wait (bounded) until `check(received(path))`; AssertionError with what came."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received(path)
            if check(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {[(r.path, r.body[:200]) for r in got]}")
            time.sleep(0.05)
