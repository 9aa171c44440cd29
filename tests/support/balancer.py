"""A small TCP load balancer for tests: round-robin over backends, skipping those that refuse.

It runs an asyncio loop in a background thread and listens on a free 127.0.0.1 port. Each
accepted connection goes to the next backend in turn; when that backend refuses the connection
(its process died), the next one is tried, so once an instance is gone every new connection lands
on a live one. When either side of a pair closes, both are closed: a client whose backend died
sees its connection end, as it would behind a real proxy, and reconnects.

What it saw is kept for assertions: every forwarded connection as a `Link` (the client's own
port identifies which client it was), and per backend the connections forwarded, refused and
open now.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Balancer", "Link"]

CHUNK = 65536


@dataclass(frozen=True)
class Link:
    """One client connection forwarded to backend number `backend`."""

    client_port: int  # the client's local port: a client can tell its own connections
    backend: int
    opened: float  # time.monotonic()


class Balancer:
    """Round-robin TCP forwarding to `backends` ("host:port" or (host, port)) until `stop()`."""

    def __init__(
        self, backends: Sequence[str | tuple[str, int]], *, connect_timeout: float = 2.0
    ) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.backends = [_address(b) for b in backends]
        self.connect_timeout = connect_timeout
        self.port = 0
        self._lock = threading.Lock()
        self._links: list[Link] = []
        self._forwarded = [0] * len(self.backends)
        self._refused = [0] * len(self.backends)
        self._open = [0] * len(self.backends)
        self._next = 0
        self._steer: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-balancer", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- what it saw -------------------------------------------------------------------------

    def links(self) -> list[Link]:
        with self._lock:
            return list(self._links)

    def backend_of(self, client_port: int) -> int | None:
        """The backend the latest connection from `client_port` went to, if any."""
        with self._lock:
            for link in reversed(self._links):
                if link.client_port == client_port:
                    return link.backend
        return None

    def forwarded(self) -> list[int]:
        """Per backend: connections forwarded to it so far."""
        with self._lock:
            return list(self._forwarded)

    def refused(self) -> list[int]:
        """Per backend: connection attempts that failed (and went to the next backend)."""
        with self._lock:
            return list(self._refused)

    def open_connections(self) -> list[int]:
        """Per backend: forwarded connections still open."""
        with self._lock:
            return list(self._open)

    # --- control ---------------------------------------------------------------------------

    def steer(self, backend: int | None) -> None:
        """Send new connections to `backend` first (the others only if it refuses), or back to
        round robin with None: a test places its clients on the instances it means to."""
        if backend is not None and not 0 <= backend < len(self.backends):
            raise ValueError(f"no backend {backend}")
        with self._lock:
            self._steer = backend

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Balancer:
        self._thread.start()
        if not self._ready.wait(10) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the balancer did not start: {self._failure!r}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening and close every connection; the thread is gone when this returns."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop finished meanwhile
                loop.call_soon_threadsafe(stopping.set)
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("the balancer thread did not stop")

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(), or lost after a clean stop
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        pairs: set[asyncio.Task[None]] = set()

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            pairs.add(task)
            try:
                await self._forward(reader, writer)
            except asyncio.CancelledError:
                pass  # stop() closes the pairs still open: nothing to report
            finally:
                pairs.discard(task)

        server = await asyncio.start_server(accepted, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(pairs):
                task.cancel()
            if pairs:
                await asyncio.wait(pairs, timeout=5)
            await server.wait_closed()

    # --- forwarding --------------------------------------------------------------------------

    async def _connect(
        self,
    ) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend in turn that accepts a connection, or None if none does."""
        count = len(self.backends)
        with self._lock:
            first = self._steer
            if first is None:
                first = self._next
                self._next = (self._next + 1) % count
        for step in range(count):
            index = (first + step) % count
            host, port = self.backends[index]
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), self.connect_timeout
                )
            except (OSError, TimeoutError):
                with self._lock:
                    self._refused[index] += 1
                continue
            return index, reader, writer
        return None

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            target = await self._connect()
            if target is None:
                return  # nobody is up: the client sees its connection closed
            index, up_reader, up_writer = target
            with self._lock:
                self._links.append(Link(int(peer[1]), index, time.monotonic()))
                self._forwarded[index] += 1
                self._open[index] += 1
            try:
                directions = {
                    asyncio.ensure_future(_pipe(reader, up_writer)),
                    asyncio.ensure_future(_pipe(up_reader, writer)),
                }
                try:
                    # HTTP clients never half-close: when one side ends, the pair is over.
                    await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for direction in directions:
                        direction.cancel()
                    await asyncio.wait(directions, timeout=5)
            finally:
                with self._lock:
                    self._open[index] -= 1
                _close(up_writer)
        finally:
            _close(writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()


def _address(backend: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(backend, tuple):
        return backend
    host, _, port = backend.rpartition(":")
    return host, int(port)
