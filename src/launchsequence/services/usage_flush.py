"""Writing usage: the flusher that turns the in-memory counts into hourly rows, and upkeep.

`UsageFlusher.run()` is a task on the event loop. Every `usage_flush_seconds`, and at every
hour's start (so that an interval never straddles two hourly rows), it drains the process's
`UsageCounter` on the event loop (no count can fall between the drain and the write) and
writes the interval in one transaction from a worker thread: an upsert that adds to the
hourly rows of the interval's hour, and the applications seen. A failed write (the database
away) puts the counts back, to go with the next interval. `stop()` flushes what is left, so a
clean shutdown loses nothing; a killed process loses what it counted since its last flush
(at most one interval). Each flush also reloads the keys of archived flags per environment,
whose FLAG_NOT_FOUND answers the counter then counts (an archived flag still asked for).

Once an hour the instance holding the `usage-upkeep` lease (a row in `leases`: one instance
of several at a time) folds hourly rows older than `usage_hourly_days` into daily rows and
deletes daily rows older than `usage_retention_days`, in one transaction with the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

from ..store import leases
from ..store import usage as store
from ..store.db import writer
from ..usagecount import Drained, UsageCounter
from .runtime import Runtime

__all__ = ["UPKEEP_LEASE", "UsageFlusher"]

log = logging.getLogger("launchsequence.usage")

UPKEEP_LEASE = "usage-upkeep"
UPKEEP_EVERY_MS = store.HOUR_MS

#: Called after each successful write with {environment id: evaluations written}.
Flushed = Callable[[dict[int, int]], None]


class UsageFlusher:
    def __init__(
        self,
        rt: Runtime,
        counter: UsageCounter,
        *,
        on_flushed: Flushed | None = None,
        holder: str | None = None,
    ) -> None:
        self.rt = rt
        self.counter = counter
        self.on_flushed = on_flushed
        self.holder = holder or uuid.uuid4().hex  # this instance, for the upkeep lease
        self._task: asyncio.Task[None] | None = None
        self._since = rt.now()  # the current interval's start
        self._last_upkeep = 0
        self.last_flush_ms = 0.0  # how long the last write took (for /metrics and the bench)

    # --- the task ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.counter.enabled:
            with contextlib.suppress(Exception):  # the next flush tries again
                self.counter.archived = await asyncio.to_thread(self.archived_keys)
            self._task = asyncio.create_task(self._run(), name="launchseq-usage-flush")

    async def stop(self) -> None:
        """Stop the task and flush what was counted since the last flush."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self.counter.enabled:
            await self.flush()

    async def _run(self) -> None:
        every = max(1, self.rt.settings.usage_flush_seconds) * 1000
        while True:
            now = self.rt.now()
            next_hour = store.HOUR_MS - now % store.HOUR_MS
            await asyncio.sleep(min(every, max(next_hour, 50)) / 1000)
            try:
                await self.flush()
                if self.rt.now() - self._last_upkeep >= UPKEEP_EVERY_MS:
                    await asyncio.to_thread(self.upkeep)
            except Exception:  # the flusher must survive anything; the counts were put back
                log.warning(
                    "usage could not be written; retrying with the next interval",
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )

    async def flush(self) -> None:
        """Drain the counter (here, on the event loop) and write the interval (in a thread)."""
        drained, bucket = self.drain()
        await asyncio.to_thread(self.write, drained, bucket)
        # Which archived flags' FLAG_NOT_FOUND answers count: as of this flush (assigned here,
        # on the event loop, where the counter is used).
        self.counter.archived = await asyncio.to_thread(self.archived_keys)

    # --- the work (any thread) -------------------------------------------------------------

    def archived_keys(self) -> dict[int, frozenset[str]]:
        with self.rt.db.connect() as conn:
            return store.archived_keys(conn)

    def drain(self) -> tuple[Drained, int]:
        """The counts since the last drain and the hour they belong to (the interval's start;
        intervals end at every hour's start, give or take the loop's delay)."""
        drained = self.counter.drain()
        bucket = self._since - self._since % store.HOUR_MS
        self._since = self.rt.now()
        return drained, bucket

    def write(self, drained: Drained, bucket: int) -> None:
        """One transaction for the interval; on failure the counts are put back and it raises."""
        if not drained.counts and not drained.apps:
            return
        apps = {key: (seen.last_seen, len(seen.instances)) for key, seen in drained.apps.items()}
        started = time.perf_counter()
        try:
            with writer(self.rt.db).begin() as conn:
                store.write_interval(conn, bucket, drained.counts, apps)
        except Exception:
            self.counter.restore(drained)
            raise
        self.last_flush_ms = (time.perf_counter() - started) * 1000
        if drained.overflow:
            log.warning(
                "usage: %d evaluations not counted (too many distinct flags and "
                "applications in one interval)",
                drained.overflow,
            )
        if self.on_flushed is not None:
            self.on_flushed(drained.per_environment())

    def upkeep(self) -> tuple[int, int] | None:
        """Compact and prune if this instance holds (or takes) the upkeep lease: (hourly rows
        folded, daily rows deleted), or None when another instance holds it."""
        settings = self.rt.settings
        now = self.rt.now()
        today = now - now % store.DAY_MS
        self._last_upkeep = now  # tried this hour, holder or not
        with writer(self.rt.db).begin() as conn:
            until = now + 2 * UPKEEP_EVERY_MS  # renewed hourly; taken over if it lapses
            if not leases.acquire(conn, UPKEEP_LEASE, self.holder, now=now, ttl_ms=until - now):
                return None
            folded = store.compact(conn, today - settings.usage_hourly_days * store.DAY_MS)
            pruned = store.prune(conn, today - settings.usage_retention_days * store.DAY_MS)
        return folded, pruned
