"""`launchseq edge`: run the edge process under uvicorn, as `launchseq serve` runs the core."""

from __future__ import annotations

import contextlib
import logging
import socket

import uvicorn

from ..config import Settings
from ..descriptors import connection_limit, raise_open_file_limit
from ..httpserver import head_limited_protocol
from .app import create_edge_app

__all__ = ["run_edge"]


def run_edge(settings: Settings, *, upstream: str, key: str, name: str = "") -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per upstream connection
    open_files = raise_open_file_limit()  # before the app: it sizes the stream limit
    app = create_edge_app(settings, upstream_url=upstream, relay_key=key, name=name)
    hubs = app.hubs

    class Server(uvicorn.Server):
        """Ends the SSE streams as soon as shutdown begins (see commands._serve)."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            hubs.close_streams_soon()
            await super().shutdown(sockets)

    url = f"http://{settings.host}:{settings.port}"
    print(f"Launch Sequence edge {app.version} listening on {url}, upstream {upstream}", flush=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log.lower() == "true",
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        timeout_graceful_shutdown=5,
        http=head_limited_protocol(
            settings.max_header_bytes,
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
            connection_limit(open_files),
        ),
    )
    server = Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 3
