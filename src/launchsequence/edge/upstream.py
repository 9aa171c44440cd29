"""The edge's client of its upstream's relay stream (a core, or another edge).

Connects to `{upstream}/relay/v1/stream` with the relay key, applies each event to the
`UpstreamSource` and tells the hubs, exactly as the change feed does at the core. When the
stream breaks it reconnects with backoff (0.5 s doubling to 30 s, with jitter) and resumes
with `Last-Event-ID`; meanwhile the hubs keep serving what they have. A 401 or 403, or a
`revoked` event, means the relay key was revoked: everything held is forgotten (memory and
disk) and nothing is served until a valid key is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .. import __version__
from ..realtime.hubs import Hubs
from . import disk
from .source import EnvironmentCopy, UpstreamSource
from .wire import UpstreamError, UpstreamHTTP

__all__ = ["RELAY_PATH", "Upstream"]

log = logging.getLogger("launchsequence.edge")
RELAY_PATH = "/relay/v1/stream"
_SAVE_EVERY = 0.2  # seconds: changes arriving together are written to disk once


class Upstream:
    def __init__(
        self,
        url: str,
        key: str,
        source: UpstreamSource,
        hubs: Hubs,
        *,
        data_dir: Path,
        edge_id: str,
        name: str,
        clock: Callable[[], int],
        read_timeout: float,
    ) -> None:
        self.url = url.rstrip("/") + RELAY_PATH  # for logs
        self.key = key
        self.source = source
        self.hubs = hubs
        self.data_dir = data_dir
        self.edge_id = edge_id
        self.name = name
        self.clock = clock
        self.read_timeout = read_timeout
        self.cursor = ""
        self.connected = False
        self.from_disk = False  # serving what the disk held, not yet confirmed by upstream
        self.saved_at: int | None = None  # Unix ms the disk copy was written (when from disk)
        self.last_event: float | None = None  # monotonic time of the last bytes from upstream
        self.connected_since: int | None = None
        self.received: dict[int, int] = {}  # env id -> version last received
        self.failures = 0
        self._dirty = False
        self._tasks: list[asyncio.Task[None]] = []
        self._client: UpstreamHTTP | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def load_disk(self) -> bool:
        """Serve the copy on disk, if any, until upstream answers (blocking)."""
        copy = disk.load(self.data_dir)
        if copy is None or not copy.envs:
            return False
        self.source.hello(copy.project)
        for env in copy.envs:
            self.source.put(env)
            self.received[env.env_id] = env.version
        self.hubs.usage.archived = self.source.archived()
        self.cursor = copy.cursor
        self.from_disk = True
        self.saved_at = copy.saved_at
        log.warning(
            "serving %d environment(s) from the snapshot saved on disk until the upstream answers",
            len(copy.envs),
        )
        return True

    async def start(self, client: UpstreamHTTP) -> None:
        """Connect (and keep reconnecting) through `client` (the edge's one `wire.UpstreamHTTP`,
        shared with the usage posts)."""
        self._client = client
        self._tasks = [
            asyncio.create_task(self._run(), name="launchseq-edge-upstream"),
            asyncio.create_task(self._save_forever(), name="launchseq-edge-save"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._dirty:
            with contextlib.suppress(OSError):
                self._save()

    def seconds_since_event(self) -> float | None:
        return None if self.last_event is None else time.monotonic() - self.last_event

    # --- the stream -----------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.5
        client = self._client
        assert client is not None, "start() gives the client"
        while True:
            try:
                await self._stream(client)
                delay = 0.5  # a stream that ended cleanly: reconnect soon
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                self.failures += 1
                if self.failures == 1 or self.failures % 20 == 0:
                    log.warning(
                        "upstream %s unreachable (%s); serving what is held, reconnecting",
                        self.url,
                        exc if isinstance(exc, UpstreamError) else type(exc).__name__,
                    )
            finally:
                if self.connected:
                    log.info("upstream stream closed; reconnecting")
                self.connected = False
                self.connected_since = None
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 30.0)

    async def _stream(self, client: UpstreamHTTP) -> None:
        headers = {
            "authorization": f"Bearer {self.key}",
            "accept": "text/event-stream",
            "x-launchsequence-edge-id": self.edge_id,
            "x-launchsequence-edge-name": self.name,
            "user-agent": f"launchseq-edge/{__version__}",
        }
        if self.cursor:
            headers["last-event-id"] = self.cursor
        async with client.stream(
            RELAY_PATH, headers, connect_timeout=5.0, read_timeout=self.read_timeout
        ) as response:
            if response.status in (401, 403):
                await self._revoked(f"the upstream refused the relay key ({response.status})")
                return
            if response.status != 200:
                raise UpstreamError(f"the upstream answered {response.status}")
            self.connected = True
            self.connected_since = self.clock()
            if self.failures:
                log.warning("upstream %s reachable again", self.url)
            self.failures = 0
            self.last_event = time.monotonic()
            name, event_id = "message", None
            data: list[bytes] = []
            async for line in response.lines():
                self.last_event = time.monotonic()
                if not line:
                    if data:
                        await self._apply(name, event_id, b"\n".join(data))
                    name, event_id, data = "message", None, []
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if field == "event":
                        name = value
                    elif field == "id":
                        event_id = value
                    elif field == "data":
                        data.append(value.encode())
                if self.source.revoked:
                    return

    async def _apply(self, name: str, event_id: str | None, raw: bytes) -> None:
        data: dict[str, Any] = orjson.loads(raw)
        if name == "hello":
            self.source.hello(data)
        elif name == "env":
            env = EnvironmentCopy.from_json(data)
            keys_changed = self.source.put(env)
            # Which unknown keys the usage counter counts: the archived flags', as at the core
            # (set before the hubs serve the new snapshot).
            self.hubs.usage.archived = self.source.archived()
            self.received[env.env_id] = env.version
            await asyncio.to_thread(self.hubs.changed, {env.env_id: env.version}, cause="upstream")
            if keys_changed:  # not on every flag change: it walks every open stream
                await asyncio.to_thread(self.hubs.keys_changed, env.env_id)
        elif name == "keys":
            env_id = int(data["env_id"])
            if self.source.set_keys(env_id, list(data["keys"])):
                await asyncio.to_thread(self.hubs.keys_changed, env_id)
        elif name == "gone":
            env_id = int(data["env_id"])
            self.source.drop(env_id)
            self.received.pop(env_id, None)
            await asyncio.to_thread(self.hubs.changed, {env_id: 0}, cause="upstream")
        elif name == "synced":
            for env_id in self.source.keep_only({int(e) for e in data["env_ids"]}):
                self.received.pop(env_id, None)
                await asyncio.to_thread(self.hubs.changed, {env_id: 0}, cause="upstream")
            if self.from_disk:
                log.warning("upstream answered: no longer serving from the disk snapshot")
            self.from_disk = False
            self.source.ready = True
        elif name == "revoked":
            await self._revoked("the relay key was revoked upstream")
            return
        else:
            return
        if event_id is not None:
            self.cursor = event_id
        self._dirty = True

    async def _revoked(self, why: str) -> None:
        if not self.source.revoked:
            log.error("%s: this edge stops serving", why)
        self.source.revoke()
        self.hubs.usage.archived = {}
        self.received.clear()
        self.cursor = ""
        self.from_disk = False
        self._dirty = False
        await asyncio.to_thread(self.hubs.drop_all)
        await asyncio.to_thread(disk.remove, self.data_dir)

    # --- the copy on disk -----------------------------------------------------------------

    async def _save_forever(self) -> None:
        while True:
            await asyncio.sleep(_SAVE_EVERY)
            if not self._dirty or self.source.revoked:
                continue
            self._dirty = False
            try:
                await asyncio.to_thread(self._save)
            except OSError as exc:
                self._dirty = True
                log.warning("cannot save the snapshot to disk: %s", exc)

    def _save(self) -> None:
        project = self.source.project
        if project is None or self.source.revoked:
            return
        disk.save(self.data_dir, project, self.cursor, self.clock(), self.source.copies())
