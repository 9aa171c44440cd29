"""The uvicorn server `launchseq serve` runs: the only process, or each of its workers."""

from __future__ import annotations

import gc
import socket
from typing import Any

import uvicorn

from .config import Settings
from .descriptors import connection_limit
from .httpserver import head_limited_protocol

__all__ = ["make_server"]


def make_server(
    settings: Settings, app: Any, open_files: int | None, hubs: Any = None
) -> uvicorn.Server:
    """A uvicorn server for `app` (the core's `create_app`, or the edge's with its `hubs`) with
    the HTTP protocol's limits; run it with `.run()` (it binds HOST:PORT) or
    `.run(sockets=[...])` (a worker's listening socket)."""
    hubs = hubs if hubs is not None else app.state.hubs

    class Server(uvicorn.Server):
        """Ends the SSE streams as soon as shutdown begins: uvicorn drains open connections
        before the lifespan shutdown, so streams would hold every restart for the whole
        graceful timeout and then be cancelled, with an error logged for each."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            # What startup made (modules, templates, compiled queries: some 160,000 objects)
            # lives as long as the process: out of the collector's sight, a full collection
            # walks only what pages and streams make since, so it no longer pauses a request
            # for tens of ms. Only here, in the process that serves: a process that builds
            # apps again and again (tests, tools) keeps collecting them.
            gc.collect()
            gc.freeze()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()  # no new connections first (uvicorn does it too): no new streams
            hubs.close_streams_soon()
            await super().shutdown(sockets)
            gc.unfreeze()

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log.lower() == "true",
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        timeout_graceful_shutdown=5,
        ws="none",  # no WebSocket endpoint: the websockets library (2 MB) is not loaded
        http=head_limited_protocol(
            settings.max_header_bytes,
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
            connection_limit(open_files),
        ),
    )
    return Server(config)
