"""`create_app(settings)`: the one place where the parts are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text
from starlette.responses import PlainTextResponse, Response

from . import __version__, accesslog, web
from .api import (
    accounts,
    change_requests,
    code_refs,
    flags,
    lifecycle,
    orgs,
    project_members,
    projects,
    promotion,
    relay_keys,
    schedules,
    sso,
    transfer,
    usage,
    webhooks,
)
from .api.errors import ERROR_RESPONSES, install_error_handlers
from .api.responses import JSONBytes
from .config import Settings
from .descriptors import open_file_limit, stream_limit
from .metrics import Metrics
from .middleware import BodyLimit, SecurityHeaders
from .realtime.database import DatabaseSource
from .realtime.feed import PostgresFeed, VersionCheck
from .realtime.hubs import Hubs
from .realtime.keys import KeyCache
from .realtime.relay import EdgeRegistry
from .realtime.siblings import SiblingFeed, WorkerSlot
from .sdk.app import build_sdk_app, build_stream_app
from .sdk.dispatch import Dispatcher
from .sdk.relay import RelayStream
from .sdk.relay_usage import RelayUsage
from .sdk.streams import StreamApp
from .services import Passwords, Runtime, Services, WebhookSender
from .services.runtime import SteadyClock, elapsed_clock_ms, wall_clock_ms
from .services.schedule_runner import ScheduleRunner
from .services.usage_flush import UsageFlusher
from .services.webhook_notice import notify_disabled
from .store import migrate
from .store.db import create_db_engine
from .store.files import secure_data_dir
from .store.integrity import DamageWatch, ensure_intact
from .streamslots import StreamSlots
from .usagecount import UsageCounter
from .web import api_docs

__all__ = ["Application", "create_app"]

log = logging.getLogger("launchsequence")


class Application(Dispatcher):
    """The core's ASGI entry point: /sdk and /ofrep go straight to the lean SDK app, the rest
    to the admin app (FastAPI), which also runs the lifespan (hubs, change feed)."""

    def __init__(
        self,
        admin: FastAPI,
        sdk: Any,
        streams: StreamApp,
        relay: RelayStream,
        relay_usage: RelayUsage,
    ) -> None:
        super().__init__(admin, sdk, streams, relay, relay_usage)
        self.admin = admin
        self.version = admin.version


def create_app(
    settings: Settings,
    *,
    db: Engine | None = None,
    clock: Callable[[], int] = wall_clock_ms,
    elapsed: Callable[[], int] | None = None,
    passwords: Passwords | None = None,
    apply_migrations: bool = True,
    worker: WorkerSlot | None = None,
) -> Application:
    """The ASGI application for these settings.

    Opens the database (SQLite file by default), applies pending migrations unless told not
    to, and builds the services. `clock` (Unix ms), `elapsed` (ms of a clock that does not
    jump) and `passwords` are there for tests; a test clock without `elapsed` times sessions
    itself. `worker` is this process's place among the workers of `launchseq serve --workers
    N` (None: the only process); on SQLite, workers wake each other after every commit
    (`realtime/siblings.py`).
    """
    settings = settings.with_secret()
    secure_data_dir(Path(settings.data_dir))
    accesslog.install()
    engine = db if db is not None else create_db_engine(settings.resolved_database_url)
    ensure_intact(engine)  # a damaged SQLite file is refused before anything reads or writes it
    damage = DamageWatch(engine)
    if apply_migrations:
        migrate.upgrade(engine)
    if elapsed is None and clock is wall_clock_ms:
        elapsed = elapsed_clock_ms
    session_clock = (
        clock
        if elapsed is None
        else SteadyClock(clock, elapsed, settings.session_clock_skew_seconds * 1000)
    )
    rt = Runtime(db=engine, settings=settings, clock=clock, session_clock=session_clock)
    metrics = Metrics()
    counter = UsageCounter(enabled=settings.usage_counting.strip().lower() == "true")
    # A disabled webhook is logged and shown on its page; its creator is emailed too
    # (`on_disabled`, set once the mailer exists) when mail is configured.
    sender = WebhookSender(rt, on_disabled=None)
    slots = StreamSlots(
        metrics,
        stream_limit(settings.max_streams, open_file_limit()),
        settings.max_streams_per_key,
    )
    source = DatabaseSource(engine)
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
    services = Services.build(rt, passwords, hubs.open_streams)
    sender.on_disabled = notify_disabled(rt, services.mailer)

    def flushed(totals: dict[int, int]) -> None:
        for env_id, n in totals.items():
            names = hubs.names(env_id)
            if names is not None:
                metrics.usage_evaluations.labels(*names).inc(n)
        metrics.usage_flush_seconds.observe(flusher.last_flush_ms / 1000)

    flusher = UsageFlusher(rt, counter, on_flushed=flushed)
    rt.listeners.append(hubs.changed)
    rt.key_listeners.append(hubs.keys_changed)
    feed: VersionCheck | None = None
    if engine.dialect.name == "postgresql":
        feed = PostgresFeed(
            engine,
            hubs,
            check_seconds=settings.version_check_seconds,
            on_access=services.revocations.wake,
        )
        rt.listeners.append(feed.notify)
        rt.key_listeners.append(feed.notify_keys)
        rt.access_listeners.append(feed.notify_access)
    elif worker is not None:  # sibling workers on one SQLite file: wake-ups within a moment
        feed = SiblingFeed(
            engine,
            hubs,
            check_seconds=settings.version_check_seconds,
            directory=worker.sockets,
            index=worker.index,
            on_access=services.revocations.wake,
        )
        # First: a datagram costs microseconds, and the siblings reload while this one does.
        rt.listeners.insert(0, feed.notify)
        rt.key_listeners.insert(0, feed.notify_keys)
        rt.access_listeners.append(feed.notify_access)
    else:  # another process on the SQLite file (`launchseq import`) is heard of by the check
        feed = VersionCheck(engine, hubs, check_seconds=settings.version_check_seconds)

    scheduler = ScheduleRunner(rt, services.flags, settings.schedule_check_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hubs.start()
        await flusher.start()
        if feed is not None:
            await feed.start()
        checker = asyncio.create_task(_check_integrity(damage, settings.integrity_check_seconds))
        await scheduler.start()
        await sender.start()
        try:
            yield
        finally:
            await scheduler.stop()
            checker.cancel()
            await sender.stop()
            if feed is not None:
                await feed.stop()
            await hubs.stop()
            try:  # what was counted since the last flush: a clean shutdown loses none of it
                await flusher.stop()
            except Exception:  # noqa: BLE001 - the database is away: those counts are lost
                log.warning("usage counted since the last flush could not be written")
            # Queued email is still sent (each message bounded by smtp_timeout_seconds).
            await asyncio.to_thread(services.mailer.close)
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="Launch Sequence",
        version=__version__,
        summary="Feature flags: targeting, rollouts and real-time delivery.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the server-rendered reference below: Swagger UI breaks the CSP
        redoc_url=None,
        default_response_class=JSONBytes,
        responses=ERROR_RESPONSES,
    )
    app.state.services = services
    app.state.settings = settings
    app.state.hubs = hubs
    app.state.edges = edges = EdgeRegistry()
    app.state.stream_slots = slots
    app.state.feed = feed
    app.state.webhook_sender = sender
    app.state.metrics = metrics
    app.state.usage_flusher = flusher
    install_error_handlers(app)
    for module in (
        accounts,
        orgs,
        projects,
        project_members,
        relay_keys,
        flags,
        transfer,
        usage,
        webhooks,
        sso,
        schedules,
        code_refs,
        lifecycle,
        promotion,
        change_requests,
    ):
        app.include_router(module.router)
    web.install(app)
    api_docs.install(app, "/api/v1/docs")

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> Any:
        # On the event loop, not the thread pool: a liveness probe must not queue behind
        # database work, or a busy but healthy process would be restarted.
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="The database answers and is intact")
    def readyz() -> Any:
        if damage.damaged is not None:
            return JSONBytes({"status": "unavailable", "database": "damaged"}, status_code=503)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            # Probed every few seconds: the store logs an outage once, not once per probe.
            log.debug("readiness check failed: %s", type(exc).__name__)
            return JSONBytes({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return {"status": "ok", "database": "ok"}

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,  # documented as text/plain, as it is served
    )
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, timeout=settings.body_timeout_seconds
    )
    app.add_middleware(SecurityHeaders)
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
    return Application(app, sdk, streams, RelayStream(hubs, edges, clock), RelayUsage(hubs))


async def _check_integrity(damage: DamageWatch, every_seconds: int) -> None:
    """Run SQLite's quick_check every `every_seconds` (0: never) in a worker thread, so that
    damage no query has met yet still shows on /readyz and stops writes."""
    if every_seconds <= 0:
        return
    while damage.damaged is None:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(damage.check)
        except Exception:  # an unreachable file is the store's to report, once
            log.debug("integrity check could not run", exc_info=True)
