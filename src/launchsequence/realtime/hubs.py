"""The hubs of this process: created on first use, reloaded after every committed change.

Reloads run off the event loop (in the writer's thread for a local write, so that its answer
already reflects the change; in a worker thread for a change another process made). Fan-out to
subscribers runs on the event loop. A periodic task sends heartbeats and closes streams whose
key expired; the change feed (`feed.py`) repairs missed changes by comparing versions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..metrics import Metrics
from ..streamslots import StreamSlots
from ..usagecount import UsageCounter
from . import sse
from .hub import Change, Hub, HubState, diff
from .keys import KeyCache, SdkKey
from .source import SnapshotSource, SourceUnavailable

__all__ = ["Hubs"]

log = logging.getLogger("launchsequence.realtime")


class Hubs:
    def __init__(
        self,
        source: SnapshotSource,
        keys: KeyCache,
        metrics: Metrics,
        *,
        clock: Callable[[], int],
        heartbeat_seconds: float,
        max_buffer: int,
        slots: StreamSlots,
        usage: UsageCounter | None = None,
    ) -> None:
        self.source = source  # the database at the core, the upstream at an edge
        self.keys = keys
        self.metrics = metrics
        self.clock = clock
        self.heartbeat_seconds = heartbeat_seconds
        self.max_buffer = max_buffer
        self.slots = slots  # the process's stream budget, shared with the dashboard's streams
        #: Evaluation counts of this process (`usagecount.py`), written on the event loop.
        self.usage = usage if usage is not None else UsageCounter(enabled=False)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._hubs: dict[int, Hub] = {}
        self._loading = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._reloading: dict[int, bool] = {}  # env id -> another reload was asked meanwhile
        self._names: dict[int, tuple[str, str, str]] = {}  # env id -> (org, project, env) keys
        #: Told on the event loop `(env id, what)` when an environment's snapshot ("snapshot")
        #: or SDK keys ("keys") changed, or it is gone ("gone"): the relay streams to edges.
        self.watchers: set[Callable[[int, str], None]] = set()

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._tick(), name="launchseq-hubs-tick")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._close_streams()

    def close_streams_soon(self) -> None:
        """Close every open stream on the event loop (safe from any thread or a signal
        handler). Called when the server starts shutting down: open streams would otherwise
        hold its graceful drain for the whole timeout; their clients reconnect elsewhere."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._close_streams)

    def _close_streams(self) -> None:
        for hub in list(self._hubs.values()):
            for sub in hub.subscribers():
                sub.writer.close()

    # --- hubs ----------------------------------------------------------------------------

    def get(self, env_id: int) -> Hub | None:
        """The hub of an environment, loading it on first use (blocking); None if it is gone.

        A hub returned by its first load is never older than a change announced (`changed`)
        while it loaded."""
        hub = self._hubs.get(env_id)
        if hub is not None:
            return hub
        with self._loading:
            hub = self._hubs.get(env_id)
            if hub is not None:
                return hub
            hub = self._load(env_id)
            if hub is None:
                return None
            self._hubs[env_id] = hub
        # A change committed during the load found no hub to reload (`changed` skips
        # environments not loaded); one committed from here on finds it. Reading the version
        # again now catches the first kind.
        self._catch_up(env_id)
        return self._hubs.get(env_id)

    def _catch_up(self, env_id: int) -> None:
        """Reload a new hub if its environment moved on while it loaded (drop it if gone).
        On failure the periodic version check repairs it instead."""
        try:
            stored = self.source.versions([env_id]).get(env_id, 0)
        except SourceUnavailable:
            return  # the source just went away: it logs that once per outage
        except Exception as exc:  # noqa: BLE001 - the hub itself is fine
            log.warning("could not re-read a new hub's version: %s", type(exc).__name__)
            return
        self.changed({env_id: stored}, cause="load")

    def loaded_hub(self, env_id: int) -> Hub | None:
        """The environment's hub if this process has it loaded (no source read), else None."""
        return self._hubs.get(env_id)

    async def aget(self, env_id: int) -> Hub | None:
        hub = self._hubs.get(env_id)
        if hub is not None:
            return hub
        return await asyncio.to_thread(self.get, env_id)

    def loaded(self) -> dict[int, int]:
        """Loaded environments and the version each serves."""
        return {env_id: hub.state.version for env_id, hub in self._hubs.items()}

    def _load(self, env_id: int) -> Hub | None:
        owner = self.source.owner(env_id)
        document = self.source.snapshot(env_id) if owner else None
        if owner is None or document is None:
            return None
        self.metrics.reloads.labels("load").inc()
        hub = Hub(env_id, owner.org_id, owner.project_id, HubState.build(document))
        hub.usage = self.usage
        self._names[env_id] = (owner.org, owner.project, owner.environment)
        self._report_set_aside(env_id, None, hub.state)
        return hub

    def _report_set_aside(self, env_id: int, old: HubState | None, new: HubState) -> None:
        """Count the flags `new` sets aside on /metrics, and log each one set aside or back in
        service since `old`, naming it with its organization, project and environment."""
        org, project, env = self._names.get(env_id, ("?", "?", "?"))
        now = new.set_aside()
        before = old.set_aside() if old is not None else {}
        if now or before:
            self.metrics.flag_errors.labels(org, project, env).set(len(now))
        for key, why in now.items():
            if before.get(key) != why:
                log.error(
                    "flag set aside: org=%s project=%s environment=%s flag=%s: %s (it answers "
                    "ERROR; the environment's other flags are served)",
                    org, project, env, key, why,
                )  # fmt: skip
        for key in before.keys() - now.keys():
            log.warning(
                "flag back in service: org=%s project=%s environment=%s flag=%s",
                org, project, env, key,
            )  # fmt: skip

    # --- changes -------------------------------------------------------------------------

    def changed(self, versions: dict[int, int], *, cause: str = "local") -> None:
        """Committed changes (blocking: call from a worker thread). Version 0: deleted."""
        started = time.monotonic()
        for env_id, version in versions.items():
            hub = self._hubs.get(env_id)
            if hub is None:
                continue
            if version == 0:
                self._drop(env_id)
            elif version > hub.state.version:
                self.reload(env_id, cause=cause, started=started)

    def reload(self, env_id: int, *, cause: str, started: float | None = None) -> None:
        """Re-read the environment and publish what changed (blocking)."""
        hub = self._hubs.get(env_id)
        if hub is None:
            return
        started = time.monotonic() if started is None else started
        document = self.source.snapshot(env_id)
        if document is None:
            self._drop(env_id)
            return
        self.metrics.reloads.labels(cause).inc()
        with hub.lock:
            if document["version"] <= hub.state.version:
                return
            old = hub.state
            change = diff(old, HubState.build(document), started)
            hub.state = change.state  # evaluations see it from here on
            self._in_loop(self._publish, hub, change)
        self._report_set_aside(env_id, old, change.state)

    def _publish(self, hub: Hub, change: Change) -> None:
        self._watch(hub.env_id, "snapshot")
        sent = hub.publish(change, self.max_buffer, self._dropped)
        self.metrics.events_sent.inc(sent)
        self.metrics.propagation.observe(time.monotonic() - change.started)

    def _drop(self, env_id: int) -> None:
        hub = self._hubs.pop(env_id, None)
        names = self._names.pop(env_id, None)
        if names is not None:
            self.metrics.forget_flag_errors(*names)
        if hub is not None:
            self._in_loop(lambda: [s.writer.close() for s in hub.subscribers()])
            self._in_loop(self._watch, env_id, "gone")

    def _watch(self, env_id: int, what: str) -> None:
        for watcher in list(self.watchers):
            try:
                watcher(env_id, what)
            except Exception:  # one watcher's failure must not stop the fan-out
                log.exception("a change watcher failed")

    def drop_all(self) -> None:
        """Forget every hub and close every stream (blocking): the source no longer serves
        anything (an edge whose relay key was revoked)."""
        for env_id in list(self._hubs):
            self._drop(env_id)

    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    async def areload(self, env_id: int, *, cause: str) -> None:
        """Reload from the event loop, coalescing requests that arrive while one runs."""
        if env_id in self._reloading:
            self._reloading[env_id] = True
            return
        self._reloading[env_id] = False
        try:
            while True:
                await asyncio.to_thread(self.reload, env_id, cause=cause)
                if not self._reloading.get(env_id):
                    break
                self._reloading[env_id] = False
        finally:
            self._reloading.pop(env_id, None)

    def names(self, env_id: int) -> tuple[str, str, str] | None:
        """(organization, project, environment) keys of a loaded environment."""
        return self._names.get(env_id)

    def open_streams(self, env_id: int) -> dict[tuple[str, str, str], int]:
        """Streams open on this process in an environment, per (application, SDK, version)."""
        hub = self._hubs.get(env_id)
        counts: dict[tuple[str, str, str], int] = {}
        for sub in hub.subscribers() if hub is not None else ():
            c = sub.caller
            key = (c.application, c.sdk, c.sdk_version)
            counts[key] = counts.get(key, 0) + 1
        return counts

    # --- subscriptions -------------------------------------------------------------------

    def _dropped(self, reason: str) -> None:
        self.metrics.dropped.labels(reason).inc()

    async def _tick(self) -> None:
        """Every second: close streams whose key expired; heartbeats when they are due."""
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(min(1.0, self.heartbeat_seconds))
            try:
                self.expire_streams()
                if time.monotonic() - last_beat >= self.heartbeat_seconds - 0.05:
                    last_beat = time.monotonic()
                    for hub in list(self._hubs.values()):
                        hub.broadcast(sse.HEARTBEAT, self.max_buffer, self._dropped)
            except Exception:  # the ticker must survive anything
                log.exception("stream upkeep failed")

    def keys_changed(self, env_id: int) -> None:
        """An environment's SDK keys changed (blocking): re-read them, close expired streams."""
        self.keys.invalidate(env_id)
        self._in_loop(self.expire_streams)
        self._in_loop(self._watch, env_id, "keys")

    def expire_streams(self) -> None:
        """Close at once the streams whose key has expired (after a rotation with no grace)."""
        now = self.clock()
        for hub in list(self._hubs.values()):
            for sub in hub.subscribers():
                key: SdkKey = sub.credential
                if not key.valid(now):
                    sub.writer.close()
                    self._dropped("key_expired")
