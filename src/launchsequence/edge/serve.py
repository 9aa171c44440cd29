"""`launchseq edge`: run the edge process under uvicorn, as `launchseq serve` runs the core
(the same server: `serving.make_server`)."""

from __future__ import annotations

import contextlib

from ..config import Settings
from ..descriptors import raise_open_file_limit
from ..serving import make_server
from .app import create_edge_app

__all__ = ["run_edge"]


def run_edge(settings: Settings, *, upstream: str, key: str, name: str = "") -> int:
    open_files = raise_open_file_limit()  # before the app: it sizes the stream limit
    app = create_edge_app(settings, upstream_url=upstream, relay_key=key, name=name)
    url = f"http://{settings.host}:{settings.port}"
    print(f"Launch Sequence edge {app.version} listening on {url}, upstream {upstream}", flush=True)
    server = make_server(settings, app, open_files, hubs=app.hubs)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 3
