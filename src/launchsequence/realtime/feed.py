"""The change feed: how a process hears of changes other processes commit.

`VersionCheck`, on every database: every `check_seconds` one indexed query compares the
versions of the loaded environments with the database (and one the cached SDK keys), and
reloads what moved on. Alone, it is the feed of SQLite, where another process on the same file
(`launchseq import`, a second instance) can only be heard of this way.

`PostgresFeed` adds LISTEN/NOTIFY for changes within a fraction of a second. A notification is
only a wake-up (`{"e": env id, "v": version}`, or `{"k": env id}` when an environment's SDK
keys changed): the hub reloads from the database, so a lost notification is repaired by the
next one or by the version check, which also runs after the listening connection is
re-established. `{"s": [session digests], "u": [user ids]}` says sessions ended or memberships
changed: the streams opened with them check their access again (a lost one is repaired by
their own periodic recheck).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from ..store.db import CONNECT_TIMEOUT_SECONDS
from ..store.versions import environment_versions
from .hubs import Hubs
from .source import SourceUnavailable

__all__ = ["CHANNEL", "PostgresFeed", "VersionCheck"]

CHANNEL = "launchseq_changes"
log = logging.getLogger("launchsequence.feed")


class VersionCheck:
    """Repairs whatever this process did not hear of, every `check_seconds`."""

    def __init__(self, db: Engine, hubs: Hubs, *, check_seconds: float) -> None:
        self.db = db
        self.hubs = hubs
        self.check_seconds = check_seconds
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._check_forever(), name="launchseq-feed-check")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _check_forever(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                await self.check()
                failing = False
            except asyncio.CancelledError:
                raise
            except (OperationalError, SourceUnavailable):
                pass  # the database is unreachable: the store logs that once per outage
            except Exception as exc:  # noqa: BLE001 - try again next period
                if not failing:  # once until it succeeds again, not every period
                    log.warning("version check failed: %s", type(exc).__name__)
                failing = True

    async def check(self) -> None:
        """Reload every loaded hub whose environment moved on without us hearing of it (drop
        it if the environment is gone), and re-read every cached SDK key, closing the streams
        of keys that expired meanwhile (a rotation made elsewhere)."""
        loaded = self.hubs.loaded()
        if loaded:
            current = await asyncio.to_thread(self._versions, list(loaded))
            for env_id, version in loaded.items():
                stored = current.get(env_id)
                if stored is None:
                    await asyncio.to_thread(self.hubs.changed, {env_id: 0})
                elif stored > version:
                    await self.hubs.areload(env_id, cause="check")
        if await asyncio.to_thread(self.hubs.keys.revalidate):
            self.hubs.expire_streams()

    def _versions(self, env_ids: list[int]) -> dict[int, int]:
        with self.db.connect() as conn:
            return environment_versions(conn, env_ids)


#: Wakes the streams opened with these session digests or by these user ids (thread-safe).
AccessWake = Callable[[list[str], list[int]], Any]


class PostgresFeed(VersionCheck):
    """The version check, plus LISTEN/NOTIFY between processes sharing a PostgreSQL database."""

    def __init__(
        self,
        db: Engine,
        hubs: Hubs,
        *,
        check_seconds: float,
        on_access: AccessWake | None = None,
    ) -> None:
        super().__init__(db, hubs, check_seconds=check_seconds)
        self.on_access = on_access
        url = db.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        # Bounded like the engine's connections, unless the URL chose its own timeout.
        self._connect_args: dict[str, Any] = (
            {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        )
        self._pending: set[asyncio.Future[Any]] = set()
        self.connected = asyncio.Event()

    # --- sending (blocking: called from the writer's thread after its commit) --------------

    def notify(self, versions: dict[int, int]) -> None:
        self._send([{"e": env_id, "v": version} for env_id, version in versions.items()])

    def notify_keys(self, env_id: int) -> None:
        self._send([{"k": env_id}])

    def notify_access(self, sessions: list[str], users: list[int]) -> None:
        # A digest is 64 characters: a few hundred fit well within NOTIFY's 8000 bytes.
        for start in range(0, max(len(sessions), len(users)), 50):
            self._send([{"s": sessions[start : start + 50], "u": users[start : start + 50]}])

    def _send(self, payloads: list[dict[str, Any]]) -> None:
        try:
            with self.db.connect() as conn:
                for payload in payloads:
                    conn.execute(
                        text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": orjson.dumps(payload).decode()},
                    )
                conn.commit()
        except Exception as exc:  # noqa: BLE001 - the version check repairs a lost notification
            log.warning("could not send a change notification: %s", type(exc).__name__)

    # --- receiving -------------------------------------------------------------------------

    async def start(self) -> None:
        await super().start()
        self._tasks.append(
            asyncio.create_task(self._listen_forever(), name="launchseq-feed-listen")
        )

    async def _listen_forever(self) -> None:
        """Listen; when the connection is lost, reconnect with jittered backoff (0.5 s doubling
        up to 5 s) until the database answers again, then catch up with a version check.
        Said once per loss and once when listening again: an outage is logged as a warning by
        the store, and a lost connection that comes back at once is no reason for alarm."""
        import psycopg  # here: a server on SQLite never loads the driver (9 MB)

        delay = 0.5
        lost = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, **self._connect_args
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    delay = 0.5
                    if lost:
                        lost = False
                        log.info("change feed listening again; catching up")
                    await self.check()  # whatever happened while we were not listening
                    async for note in conn.notifies():
                        self._handle(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                self.connected.clear()
                if not lost:
                    lost = True
                    log.info("change feed listener lost (%s); reconnecting", type(exc).__name__)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _handle(self, payload: str) -> None:
        try:
            message: dict[str, Any] = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if "k" in message:
            self._spawn(asyncio.to_thread(self.hubs.keys_changed, int(message["k"])))
            return
        if "s" in message or "u" in message:
            sessions, users = message.get("s"), message.get("u")
            if (
                self.on_access is not None
                and isinstance(sessions, list)
                and isinstance(users, list)
            ):
                self.on_access(
                    [s for s in sessions if isinstance(s, str)],
                    [u for u in users if isinstance(u, int)],
                )
            return
        env_id, version = int(message.get("e", 0)), int(message.get("v", 0))
        hub = self.hubs.loaded()
        if env_id in hub and (version == 0 or version > hub[env_id]):
            if version == 0:
                self._spawn(asyncio.to_thread(self.hubs.changed, {env_id: 0}))
            else:
                self._spawn(self.hubs.areload(env_id, cause="notify"))
