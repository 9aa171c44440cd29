"""`create_edge_app(...)`: the edge process's one wiring point.

No database, no dashboard, no admin API: the SDK app (`/sdk/v1`, `/ofrep/v1`, streams
included) and the relay stream, both exactly the core's code, over an `UpstreamSource`; and
`/healthz`, `/readyz` and `/metrics` saying how far behind the upstream it is. Importing this
module imports neither SQLAlchemy, Alembic nor Jinja2 (a test checks).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from prometheus_client import Gauge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import __version__, accesslog
from ..config import Settings
from ..descriptors import open_file_limit, stream_limit
from ..metrics import Metrics
from ..realtime.hubs import Hubs
from ..realtime.keys import KeyCache
from ..realtime.relay import EdgeRegistry
from ..sdk.app import build_sdk_app, build_stream_app
from ..sdk.common import json_response
from ..sdk.dispatch import Dispatcher
from ..sdk.relay import RelayStream
from ..sdk.relay_usage import RelayUsage
from ..sdk.streams import StreamApp
from ..streamslots import StreamSlots
from ..usagecount import UsageCounter
from .source import UpstreamSource
from .upstream import Upstream
from .usage_forward import UsageForwarder
from .wire import UpstreamHTTP

__all__ = ["EdgeApplication", "create_edge_app", "edge_identity"]


def wall_clock_ms() -> int:
    """Unix ms, computed as the core's clock (`services.runtime`, not imported here)."""
    return time.time_ns() // 1_000_000


def edge_identity(data_dir: Path) -> str:
    """This edge's id, generated once and kept in the data directory (0600)."""
    path = data_dir / "edge-id"
    with contextlib.suppress(FileNotFoundError):
        found = path.read_text().strip()
        if found:
            return found
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    edge_id = "edge-" + secrets.token_hex(6)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(edge_id + "\n")
    return edge_id


class EdgeApplication(Dispatcher):
    """The edge's ASGI entry point (the core's dispatcher): SDK paths to the SDK app, the relay
    stream to its handler, the rest (health, readiness, metrics) to a small Starlette app that
    also runs the lifespan."""

    def __init__(
        self,
        ops: Starlette,
        sdk: Any,
        streams: StreamApp,
        relay: RelayStream,
        relay_usage: RelayUsage,
        hubs: Hubs,
        upstream: Upstream,
    ) -> None:
        super().__init__(ops, sdk, streams, relay, relay_usage)
        self.ops = ops
        self.hubs = hubs
        self.upstream = upstream
        self.version = __version__


def create_edge_app(
    settings: Settings,
    *,
    upstream_url: str,
    relay_key: str,
    name: str = "",
    clock: Callable[[], int] = wall_clock_ms,
) -> EdgeApplication:
    """The edge for these settings (`data_dir` holds its id, secret and disk snapshot)."""
    settings = settings.with_secret()  # signs the OFREP stream tokens, as at the core
    accesslog.install()  # keys in request targets are logged as `***`, as at the core
    data_dir = Path(settings.data_dir)
    edge_id = edge_identity(data_dir)
    metrics = Metrics()
    slots = StreamSlots(
        metrics, stream_limit(settings.max_streams, open_file_limit()), settings.max_streams_per_key
    )
    # Checks the URL and the environment's proxy for it now: a wrong one stops the start.
    client = UpstreamHTTP(upstream_url)
    source = UpstreamSource()
    # Counted as at the core (docs/usage.md) and forwarded upstream every interval.
    # Its `archived` keys come with each environment from upstream (edge/upstream.py).
    counter = UsageCounter(enabled=settings.usage_counting.strip().lower() == "true")
    hubs = Hubs(
        source,
        KeyCache(source),
        metrics,
        clock=clock,
        heartbeat_seconds=settings.sse_heartbeat_seconds,
        max_buffer=settings.stream_max_buffer_bytes,
        slots=slots,
        usage=counter,
    )
    upstream = Upstream(
        upstream_url,
        relay_key,
        source,
        hubs,
        data_dir=data_dir,
        edge_id=edge_id,
        name=name or edge_id,
        clock=clock,
        read_timeout=3 * settings.sse_heartbeat_seconds + 5,
    )
    forwarder = UsageForwarder(
        counter,
        relay_key,
        edge_id=edge_id,
        data_dir=data_dir,
        interval=settings.usage_flush_seconds,
    )
    _edge_metrics(metrics, upstream, hubs, source)
    _usage_metrics(metrics, forwarder)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        upstream.load_disk()
        await hubs.start()
        await upstream.start(client)
        await forwarder.start(client)
        try:
            yield
        finally:
            await forwarder.stop()  # what was counted since the last post, sent now
            await upstream.stop()
            await hubs.stop()

    def status() -> dict[str, Any]:
        since = upstream.seconds_since_event()
        envs = {
            f"{e.owner.org}/{e.owner.project}/{e.owner.environment}": e.version
            for e in source.copies()
        }
        return {
            "edge_id": edge_id,
            "upstream": {
                "url": upstream_url,
                "connected": upstream.connected,
                "seconds_since_event": None if since is None else round(since, 3),
            },
            "serving_from": "disk" if upstream.from_disk else "upstream",
            "versions": envs,
        }

    async def healthz(_: Request) -> Response:
        return json_response({"status": "ok", **status()})

    async def readyz(_: Request) -> Response:
        if source.revoked:
            return json_response(
                {"status": "unavailable", "reason": "relay_key_revoked", **status()}, 503
            )
        if not source.ready:
            return json_response(
                {"status": "unavailable", "reason": "no_snapshot_yet", **status()}, 503
            )
        body = {"status": "ok", **status()}
        if upstream.from_disk:
            body["saved_at"] = upstream.saved_at
        return json_response(body)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    ops = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
        ],
        lifespan=lifespan,
    )
    ops.state.hubs = hubs
    ops.state.upstream = upstream
    ops.state.source = source
    ops.state.usage_forwarder = forwarder
    sdk = build_sdk_app(
        hubs,
        clock,
        secret=settings.secret_key,
        max_body=settings.max_body_bytes,
        body_timeout=settings.body_timeout_seconds,
        base_url=settings.base_url,
        usage_posts_per_minute=settings.usage_posts_per_minute,
    )
    streams = build_stream_app(hubs, clock, secret=settings.secret_key)
    relay = RelayStream(hubs, EdgeRegistry(), clock)
    return EdgeApplication(ops, sdk, streams, relay, RelayUsage(hubs), hubs, upstream)


def _usage_metrics(metrics: Metrics, forwarder: UsageForwarder) -> None:
    """What this edge forwarded upstream, and whether the upstream takes it."""
    r = metrics.registry
    forwarded = Gauge(
        "launchseq_edge_usage_forwarded",
        "Evaluations the upstream accepted from this edge since it started.",
        registry=r,
    )
    forwarded.set_function(lambda: float(forwarder.forwarded))
    held = Gauge(
        "launchseq_edge_usage_held",
        "Distinct (environment, flag, variation, application) counts waiting to be forwarded.",
        registry=r,
    )
    held.set_function(lambda: float(len(forwarder.counter.counts)))
    failing = Gauge(
        "launchseq_edge_usage_failed_posts",
        "Usage posts to the upstream that failed in a row (0 once one succeeds).",
        registry=r,
    )
    failing.set_function(lambda: float(forwarder.failures))


def _edge_metrics(metrics: Metrics, upstream: Upstream, hubs: Hubs, source: UpstreamSource) -> None:
    """How far behind the upstream this edge is, computed when /metrics is read."""
    r = metrics.registry
    connected = Gauge(
        "launchseq_edge_upstream_connected",
        "1 while the relay stream from upstream is open.",
        registry=r,
    )
    connected.set_function(lambda: 1.0 if upstream.connected else 0.0)
    since = Gauge(
        "launchseq_edge_upstream_seconds_since_event",
        "Seconds since anything (an event or a heartbeat) came from upstream; -1 before the first.",
        registry=r,
    )
    since.set_function(lambda: -1.0 if (s := upstream.seconds_since_event()) is None else s)
    disk = Gauge(
        "launchseq_edge_serving_from_disk",
        "1 while serving the snapshot saved on disk, not yet confirmed by upstream.",
        registry=r,
    )
    disk.set_function(lambda: 1.0 if upstream.from_disk else 0.0)

    class _Refresh:
        """Sets the per-environment gauges from the hubs just before each scrape."""

        def collect(self) -> list[Any]:
            loaded = hubs.loaded()
            served.clear()
            behind.clear()
            for env in source.copies():
                label = f"{env.owner.org}/{env.owner.project}/{env.owner.environment}"
                version = upstream.received.get(env.env_id, env.version)
                mine = loaded.get(env.env_id, env.version)  # not loaded: loads it on first use
                served.labels(label).set(mine)
                behind.labels(label).set(max(0, version - mine))
            return []

    # Registered before the gauges it sets, so that a scrape reads them after it ran.
    r.register(_Refresh())
    behind = Gauge(
        "launchseq_edge_versions_behind",
        "Per environment: versions received from upstream but not yet served.",
        ["environment"],
        registry=r,
    )
    served = Gauge(
        "launchseq_edge_environment_version",
        "Per environment: the version this edge serves.",
        ["environment"],
        registry=r,
    )
