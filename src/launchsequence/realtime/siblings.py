"""The change feed between the workers of one `launchseq serve --workers N` on SQLite.

PostgreSQL carries wake-ups between processes with LISTEN/NOTIFY (`feed.PostgresFeed`); a
SQLite file has nothing of the kind, and the version check alone would let a worker's
subscribers wait up to `version_check_seconds` for a change committed through another worker.
So each worker binds a Unix datagram socket, `<index>.sock`, in a private directory
(`WorkerSlot.sockets`, 0700, under the data directory, or under the temporary directory when
the data directory's path is too long for a socket's; made by the master before the workers
start and removed when it ends), and
after every commit sends the payloads the PostgreSQL feed would (`{"e": env id, "v": version}`,
`{"k": env id}`, `{"s": [session digests], "u": [user ids]}`) to every other socket there.

A wake-up is only a hint, as on PostgreSQL: the receiver reloads from the database. Sending
never blocks a write: a sibling that is restarting (no socket yet) or whose queue is full misses
the datagram, and the version check (every `check_seconds`), which keeps running here, repairs
it; a missed access wake-up is repaired by the stream's own periodic recheck.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from .feed import AccessWake, VersionCheck
from .hubs import Hubs

__all__ = ["SiblingFeed", "WorkerSlot", "dispatch"]

log = logging.getLogger("launchsequence.feed")

#: Largest datagram read; payloads are at most a few kilobytes (50 digests of 64 characters).
_MAX_DATAGRAM = 65_536


@dataclass(frozen=True)
class WorkerSlot:
    """One worker of `launchseq serve --workers N`: its index (0 to N-1, kept across restarts)
    and the private directory (0700) its master made for the workers' wake-up sockets."""

    index: int
    sockets: Path


def dispatch(
    hubs: Hubs,
    message: Any,
    spawn: Callable[[Awaitable[Any]], None],
    on_access: AccessWake | None,
) -> None:
    """Act on one wake-up payload (on the event loop): reload, re-read keys, or wake streams.
    Anything malformed is ignored."""
    if not isinstance(message, dict):
        return
    if "k" in message:
        spawn(asyncio.to_thread(hubs.keys_changed, int(message["k"])))
        return
    if "s" in message or "u" in message:
        sessions, users = message.get("s"), message.get("u")
        if on_access is not None and isinstance(sessions, list) and isinstance(users, list):
            on_access(
                [s for s in sessions if isinstance(s, str)],
                [u for u in users if isinstance(u, int)],
            )
        return
    env_id, version = int(message.get("e", 0)), int(message.get("v", 0))
    loaded = hubs.loaded()
    if env_id in loaded and (version == 0 or version > loaded[env_id]):
        if version == 0:
            spawn(asyncio.to_thread(hubs.changed, {env_id: 0}))
        else:
            spawn(hubs.areload(env_id, cause="notify"))


class SiblingFeed(VersionCheck):
    """The version check, plus datagrams between the workers sharing one SQLite file."""

    def __init__(
        self,
        db: Engine,
        hubs: Hubs,
        *,
        check_seconds: float,
        directory: Path,
        index: int,
        on_access: AccessWake | None = None,
    ) -> None:
        super().__init__(db, hubs, check_seconds=check_seconds)
        self.directory = directory
        self.path = directory / f"{index}.sock"
        self.on_access = on_access
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        self._receiver: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Future[Any]] = set()

    # --- sending (from any thread, after the commit; never blocks) ----------------------------

    def notify(self, versions: dict[int, int]) -> None:
        self._send([{"e": env_id, "v": version} for env_id, version in versions.items()])

    def notify_keys(self, env_id: int) -> None:
        self._send([{"k": env_id}])

    def notify_access(self, sessions: list[str], users: list[int]) -> None:
        for start in range(0, max(len(sessions), len(users)), 50):
            self._send([{"s": sessions[start : start + 50], "u": users[start : start + 50]}])

    def peers(self) -> list[Path]:
        """The sockets of the other workers now listening."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        own = self.path.name
        return [self.directory / n for n in names if n.endswith(".sock") and n != own]

    def _send(self, payloads: list[dict[str, Any]]) -> None:
        peers = self.peers()
        for payload in payloads:
            data = orjson.dumps(payload)
            for peer in peers:
                try:
                    self._sender.sendto(data, str(peer))
                except OSError as exc:  # restarting, or its queue is full: the check repairs it
                    log.debug("wake-up not delivered to %s: %s", peer.name, exc)

    # --- receiving ---------------------------------------------------------------------------

    async def start(self) -> None:
        await super().start()
        self._loop = asyncio.get_running_loop()
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.setblocking(False)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by this worker's previous life (it was killed)
        receiver.bind(str(self.path))
        self._receiver = receiver
        self._loop.add_reader(receiver.fileno(), self._readable)
        # Whatever was committed while this worker had no socket (it was starting).
        self._spawn(self.check())

    async def stop(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(receiver.fileno())
            receiver.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
        self._sender.close()
        for task in list(self._pending):
            task.cancel()
        await super().stop()

    def _readable(self) -> None:
        receiver = self._receiver
        while receiver is not None:
            try:
                data = receiver.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                message = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            dispatch(self.hubs, message, self._spawn, self.on_access)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("wake-up handling failed", exc_info=task.exception())
