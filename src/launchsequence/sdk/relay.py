"""GET /relay/v1/stream: what edge nodes are fed by (see realtime/relay.py for the events).

Served by the core and by every edge (so that edges chain), through the same source protocol:
the relay key is checked against the source (the database at the core, the digest received
from upstream at an edge) on connect and again every second, so a revoked key ends its
streams within a second. Raw ASGI, like the SDK streams: a stream lives for hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable

import orjson
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from .. import __version__
from ..middleware import add_security_headers
from ..realtime import sse
from ..realtime.hubs import Hubs
from ..realtime.relay import Cursor, EdgeRegistry, EdgeSession, env_event, keys_fingerprint
from ..realtime.source import RelayKeyRecord, SourceUnavailable
from ..secrets import digest
from .common import SdkError, sdk_error_response
from .streams import STREAM_HEADERS

__all__ = ["RELAY_PATH", "RelayStream"]

RELAY_PATH = "/relay/v1/stream"
_KEY_CHECK_SECONDS = 0.5  # a revoked key ends its streams within a second
_RELIST_SECONDS = 5.0
_EDGE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_UNAUTHORIZED = SdkError(
    401, "unauthorized", "missing, unknown or revoked relay key", {"WWW-Authenticate": "Bearer"}
)

log = logging.getLogger("launchsequence.relay")


class RelayStream:
    """The relay stream endpoint (raw ASGI)."""

    def __init__(self, hubs: Hubs, registry: EdgeRegistry, clock: Callable[[], int]) -> None:
        self.hubs = hubs
        self.source = hubs.source
        self.registry = registry
        self.clock = clock

    def matches(self, scope: Scope) -> bool:
        return bool(scope["type"] == "http" and scope["path"] == RELAY_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = HTTPConnection(scope)
        try:
            if scope["method"] != "GET":
                raise SdkError(405, "method_not_allowed", "method not allowed")
            hashed, record = await self._authenticate(conn)
        except SdkError as exc:
            refusal = sdk_error_response(exc)
            add_security_headers(refusal.raw_headers)  # no middleware is outside this app
            await refusal(scope, receive, send)
            return
        edge_id = conn.headers.get("x-launchsequence-edge-id", "")
        name = conn.headers.get("x-launchsequence-edge-name", "")
        session = EdgeSession(
            edge_id if _EDGE_ID.fullmatch(edge_id) else "unnamed",
            name if _EDGE_ID.fullmatch(name) else (edge_id if _EDGE_ID.fullmatch(edge_id) else ""),
            conn.client.host if conn.client else "",
            record.project_id,
            record.name,
            self.clock(),
        )
        cursor = Cursor.parse(conn.headers.get("last-event-id"))
        await _Session(self, session, hashed, record, cursor).run(receive, send)

    async def _authenticate(self, conn: HTTPConnection) -> tuple[str, RelayKeyRecord]:
        scheme, _, secret = conn.headers.get("authorization", "").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret or len(secret) > 200:
            raise _UNAUTHORIZED
        hashed = digest(secret)
        try:
            record = await asyncio.to_thread(self.source.relay_key, hashed)
        except SourceUnavailable:
            raise SdkError(
                503,
                "unavailable",
                "the flag source is unreachable; retry shortly",
                {"Retry-After": "5"},
            ) from None
        if record is None or record.revoked:
            raise _UNAUTHORIZED
        return hashed, record


class _Session:
    def __init__(
        self,
        stream: RelayStream,
        session: EdgeSession,
        hashed: str,
        record: RelayKeyRecord,
        cursor: Cursor,
    ) -> None:
        self.stream = stream
        self.hubs = stream.hubs
        self.source = stream.source
        self.session = session
        self.hashed = hashed
        self.record = record
        self.cursor = cursor
        self.sent = Cursor()
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self.covered: set[int] = set()

    def _watch(self, env_id: int, what: str) -> None:
        if env_id in self.covered:
            self.queue.put_nowait((env_id, what))

    async def run(self, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def wait_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        headers = [(k.encode(), v.encode()) for k, v in STREAM_HEADERS.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        watcher = asyncio.create_task(wait_disconnect())
        self.hubs.watchers.add(self._watch)
        self.stream.registry.add(self.session)
        try:
            await self._serve(send, gone)
        except (OSError, RuntimeError, SourceUnavailable):
            pass  # the client went away, or the source did: the edge reconnects
        finally:
            self.hubs.watchers.discard(self._watch)
            self.stream.registry.remove(self.session)
            watcher.cancel()
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})
        self.session.last_sent = time.monotonic()

    async def _serve(self, send: Send, gone: asyncio.Event) -> None:
        hello = {
            "project_id": self.record.project_id,
            "org_id": self.record.org_id,
            "relay_key": self.hashed,
            "upstream_version": __version__,
        }
        await self._write(send, sse.retry_hint(2000) + sse.event("hello", hello))
        env_ids = await asyncio.to_thread(self.source.environments, self.record.project_id)
        self.covered = set(env_ids)
        for env_id in env_ids:
            await self._send_env(send, env_id, resume=True)
        await self._write(send, sse.event("synced", {"env_ids": sorted(self.covered)}))
        loop = asyncio.get_running_loop()
        last_check = last_list = last_beat = loop.time()
        heartbeat = self.hubs.heartbeat_seconds
        while not gone.is_set():
            with contextlib.suppress(TimeoutError):
                env_id, what = await asyncio.wait_for(self.queue.get(), _KEY_CHECK_SECONDS)
                await self._handle(send, env_id, what)
                continue
            now = loop.time()
            if now - last_check >= _KEY_CHECK_SECONDS:
                last_check = now
                if not await self._still_valid():
                    await self._write(send, sse.event("revoked", {}))
                    return
            if now - last_list >= _RELIST_SECONDS:
                last_list = now
                await self._relist(send)
            if now - last_beat >= heartbeat:
                last_beat = now
                await self._write(send, sse.HEARTBEAT)

    async def _still_valid(self) -> bool:
        try:
            record = await asyncio.to_thread(self.source.relay_key, self.hashed)
        except SourceUnavailable:
            return True  # cannot tell now: the next check will
        return record is not None and not record.revoked

    async def _relist(self, send: Send) -> None:
        try:
            env_ids = set(await asyncio.to_thread(self.source.environments, self.record.project_id))
        except SourceUnavailable:
            return
        for env_id in sorted(env_ids - self.covered):
            self.covered.add(env_id)
            await self._send_env(send, env_id, resume=False)
        for env_id in sorted(self.covered - env_ids):
            await self._handle(send, env_id, "gone")

    async def _handle(self, send: Send, env_id: int, what: str) -> None:
        if what == "gone":
            self.covered.discard(env_id)
            self.sent.entries.pop(env_id, None)
            self.session.sent.pop(env_id, None)
            await self._write(send, sse.event("gone", {"env_id": env_id}, str(self.sent)))
        elif what == "keys":
            keys = await asyncio.to_thread(self.source.environment_keys, env_id)
            version = self.sent.entries.get(env_id, (0, ""))[0]
            self.sent.entries[env_id] = (version, keys_fingerprint(keys))
            payload = {"env_id": env_id, "keys": keys}
            await self._write(send, sse.event("keys", payload, str(self.sent)))
        else:
            hub = await self.hubs.aget(env_id)
            if hub is not None and hub.state.version > self.sent.entries.get(env_id, (0, ""))[0]:
                await self._send_env(send, env_id, resume=False)

    async def _send_env(self, send: Send, env_id: int, *, resume: bool) -> None:
        """Send the environment whole (or only its keys, or nothing, where the edge's cursor
        shows it has them)."""
        hub = await self.hubs.aget(env_id)
        owner = await asyncio.to_thread(self.source.owner, env_id)
        if hub is None or owner is None:
            self.covered.discard(env_id)
            return
        keys = await asyncio.to_thread(self.source.environment_keys, env_id)
        state = hub.state
        fingerprint = keys_fingerprint(keys)
        self.sent.entries[env_id] = (state.version, fingerprint)
        self.session.sent[env_id] = state.version
        had = self.cursor.entries.get(env_id) if resume else None
        if had == (state.version, fingerprint):
            return
        if had is not None and had[0] == state.version:
            payload = orjson.dumps({"env_id": env_id, "keys": keys})
            await self._write(
                send, b"event: keys\nid: %s\ndata: %b\n\n" % (str(self.sent).encode(), payload)
            )
            return
        archived = await asyncio.to_thread(self.source.archived_flags, env_id)
        data = env_event(owner, env_id, state.body, state.version, keys, archived)
        await self._write(
            send, b"event: env\nid: %s\ndata: %b\n\n" % (str(self.sent).encode(), data)
        )
