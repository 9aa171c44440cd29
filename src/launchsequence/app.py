"""`create_app(settings)`: the one place where the parts are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__, accesslog
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
from .services.mail import Mailer
from .services.revocations import Revocations
from .services.runtime import Runtime, SteadyClock, elapsed_clock_ms, wall_clock_ms
from .services.schedule_runner import ScheduleRunner
from .services.usage_flush import UsageFlusher
from .services.webhook_notice import notify_disabled
from .services.webhook_sender import WebhookSender
from .store import migrate
from .store.db import create_db_engine
from .store.files import secure_data_dir
from .store.integrity import DamageWatch, ensure_intact
from .streamslots import StreamSlots
from .usagecount import UsageCounter

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .services import Passwords, Services

__all__ = ["Application", "create_app"]

log = logging.getLogger("launchsequence")


class CoreState(State):
    """The core's `app.state` (services, settings, hubs, metrics, ...), shared by the SDK side
    and the admin app. `services` is built on first use, once, from any thread."""

    def __init__(self, services: Callable[[], Services]) -> None:
        super().__init__()
        object.__setattr__(self, "_build_services", services)
        object.__setattr__(self, "_services", None)
        object.__setattr__(self, "_services_lock", threading.Lock())

    @property
    def services(self) -> Services:
        built: Services | None = self.__dict__["_services"]
        if built is None:
            with self.__dict__["_services_lock"]:
                built = self.__dict__["_services"]
                if built is None:
                    built = self.__dict__["_build_services"]()
                    object.__setattr__(self, "_services", built)
        assert built is not None
        return built


class LazyAdmin:
    """The admin app (`admin.build_admin`), built by the first request that reaches it, in a
    worker thread so that the event loop goes on serving SDKs and streams meanwhile (it takes
    about a second of CPU); requests arriving during the build await that one build, holding
    no thread. A build that fails fails the requests that awaited it (500, logged) and the
    next request tries again. `app` builds it at once (tests, the OpenAPI document)."""

    def __init__(self, build: Callable[[], FastAPI]) -> None:
        self._build = build
        self._app: FastAPI | None = None
        self._lock = threading.Lock()
        self._building: asyncio.Future[FastAPI] | None = None

    @property
    def built(self) -> bool:
        return self._app is not None

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._build()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:
            building = self._building
            if (
                building is None
                or building.done()
                or building.get_loop() is not (asyncio.get_running_loop())
            ):
                building = self._building = asyncio.ensure_future(
                    asyncio.to_thread(lambda: self.app)
                )
            app = await asyncio.shield(building)
        await app(scope, receive, send)


class CoreRest:
    """What is neither SDK nor relay: the lifespan and the operations endpoints (`ops`, a small
    Starlette app, ready from start) and everything else (`admin`, built on first use)."""

    def __init__(self, ops: Starlette, admin: LazyAdmin, state: CoreState) -> None:
        self.ops = ops
        self.admin = admin
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or scope.get("path") in _OPERATION_PATHS:
            await self.ops(scope, receive, send)
        else:
            await self.admin(scope, receive, send)


_OPERATION_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class Application(Dispatcher):
    """The core's ASGI entry point: /sdk and /ofrep go straight to the lean SDK app, the relay
    to its handlers, the rest to `CoreRest` (operations, lifespan, and the admin app, built on
    its first request). Every answer carries the security headers and the body limits."""

    def __init__(
        self,
        rest: CoreRest,
        sdk: Any,
        streams: StreamApp,
        relay: RelayStream,
        relay_usage: RelayUsage,
        *,
        settings: Settings,
    ) -> None:
        super().__init__(rest, sdk, streams, relay, relay_usage)  # its state is app.state
        limited: ASGIApp = BodyLimit(
            rest, limit=settings.max_body_bytes, timeout=settings.body_timeout_seconds
        )
        self.rest = SecurityHeaders(limited)
        self.lazy_admin = rest.admin
        self.version = __version__

    @property
    def admin(self) -> FastAPI:
        """The admin app, built now if no request has built it yet."""
        return self.lazy_admin.app


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
    mailer = Mailer(settings)
    revocations = Revocations()  # ends streams of revoked sessions and keys, in every worker
    rt.access_listeners.append(revocations.wake)

    def build_services() -> Services:
        from .services import Services

        return Services.build(
            rt, passwords, hubs.open_streams, mailer=mailer, revocations=revocations
        )

    state = CoreState(build_services)
    sender.on_disabled = notify_disabled(rt, mailer)

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
            on_access=revocations.wake,
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
            on_access=revocations.wake,
        )
        # First: a datagram costs microseconds, and the siblings reload while this one does.
        rt.listeners.insert(0, feed.notify)
        rt.key_listeners.insert(0, feed.notify_keys)
        rt.access_listeners.append(feed.notify_access)
    else:  # another process on the SQLite file (`launchseq import`) is heard of by the check
        feed = VersionCheck(engine, hubs, check_seconds=settings.version_check_seconds)

    scheduler = ScheduleRunner(rt, lambda: state.services.flags, settings.schedule_check_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
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
            await asyncio.to_thread(mailer.close)
            engine.dispose()

    async def healthz(request: Request) -> Response:
        # On the event loop, not the thread pool: a liveness probe must not queue behind
        # database work, or a busy but healthy process would be restarted.
        return JSONBytes({"status": "ok"})

    def readyz(request: Request) -> Response:
        if damage.damaged is not None:
            return JSONBytes({"status": "unavailable", "database": "damaged"}, status_code=503)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            # Probed every few seconds: the store logs an outage once, not once per probe.
            log.debug("readiness check failed: %s", type(exc).__name__)
            return JSONBytes({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONBytes({"status": "ok", "database": "ok"})

    def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    operations: dict[str, Callable[..., Any]] = {
        "/healthz": healthz,
        "/readyz": readyz,
        "/metrics": prometheus,
    }
    ops = Starlette(
        routes=[Route(path, endpoint) for path, endpoint in operations.items()],
        lifespan=lifespan,
    )
    ops.state = state
    state.settings = settings
    state.hubs = hubs
    state.edges = edges = EdgeRegistry()
    state.stream_slots = slots
    state.feed = feed
    state.webhook_sender = sender
    state.metrics = metrics
    state.usage_flusher = flusher

    def build_admin() -> FastAPI:
        from .admin import build_admin

        admin = build_admin(state, operations)
        _freeze_what_exists()
        return admin

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
    return Application(
        CoreRest(ops, LazyAdmin(build_admin), state),
        sdk,
        streams,
        RelayStream(hubs, edges, clock),
        RelayUsage(hubs),
        settings=settings,
    )


def _freeze_what_exists() -> None:
    """Once the admin app is built, in a process that froze what its start-up made (the server
    does, `serving.py`): freeze the admin app's objects too (modules, routes, templates), so
    that full collections keep walking only what pages and streams make since."""
    if gc.get_freeze_count():
        gc.collect()
        gc.freeze()


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
