"""A real HTTP server on loopback, running the real app in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

__all__ = ["LiveServer", "for_browsers", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def for_browsers(app: Any) -> Any:
    """`app` (the core's) with its admin app built now, for a browser test.

    The first dashboard or API request after a start builds the admin app: about a second of
    CPU, and several seconds on a machine the suite keeps busy, which a browser test's first
    page, timed at 5 seconds like its other steps, would spend waiting. Server start and the
    first request's wait are covered by `tests/http/test_lazy_admin.py`."""
    app.admin  # noqa: B018 - the property builds it
    return app


class LiveServer:
    """uvicorn serving `app` on 127.0.0.1 until `stop()`; `url` is its base URL."""

    def __init__(self, app: Any, *, port: int | None = None, **config: Any) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
            **config,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def serving(app: Any, **config: Any) -> Iterator[LiveServer]:
    server = LiveServer(app, **config).start()
    try:
        yield server
    finally:
        server.stop()
