"""Usage summaries: how often each flag served each variation, sent to the server.

`UsageSummary` counts evaluations per (flag key, variation, flag version) in the caller's
thread without a lock: each distinct engine result (results are shared objects of the
compiled flag, one per variation and reason) has an `itertools.count` keyed by `id(result)`
(results compare by value, so they are keyed by identity; the result is kept in `_meta`
beside its counter, so that its id cannot be reused while it keys one), and `next()` on it is
one atomic step under the GIL. A count is never reset: `drain()` reads each counter and
reports what it gained since the last drain, so an evaluation racing a drain is reported in
this interval or the next, never lost. Entries idle for three intervals in a row are dropped
(an evaluation whose thread stopped for that long between finding the counter and counting
is the only one that can go uncounted).

`UsageReporter` posts the summary to `POST /sdk/v1/usage` every 30 to 60 s (jittered, so a
fleet started together does not post together) and once more at close. It runs in its own
daemon thread, never blocks an evaluation and never raises into the host: a failed post keeps
the counts for the next one (at most `MAX_PENDING` entries are kept).
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from launchsequence_engine import EvaluationResult

__all__ = ["MAX_ENTRIES", "UsageReporter", "UsageSummary", "sdk_headers", "start_reporting"]

log = logging.getLogger("launchsequence_sdk")

SDK_NAME = "python"
MAX_ENTRIES = 2000  # per report, as the server accepts
MAX_PENDING = 10_000  # entries kept while the server cannot be reached
MIN_INTERVAL, MAX_INTERVAL = 30.0, 60.0
#: A counter idle for this many reports in a row is dropped (the results of an old snapshot
#: must not be kept for ever); an evaluation can only go uncounted if its thread stopped for
#: that long between finding the counter and counting.
IDLE_DRAINS = 3


def sdk_headers(version: str, application: str) -> dict[str, str]:
    """The headers naming this SDK and the host application, sent on every request."""
    headers = {"X-LaunchSequence-SDK": f"{SDK_NAME}/{version}"}
    if application:
        headers["X-LaunchSequence-Application"] = application
    return headers


class UsageSummary:
    """Evaluation counts of one client; see the module's docstring for the threading rules."""

    __slots__ = ("_meta", "_seen", "counters", "started")

    #: Past this many counters, results are counted by (flag, variation, version) instead of
    #: by identity: a flood of results built per call (errors) must not grow memory.
    MAX_BY_IDENTITY = 5000

    def __init__(self) -> None:
        #: id(result), or (flag, variation, version) -> its counter: what evaluations touch
        self.counters: dict[Any, itertools.count[int]] = {}
        #: the same keys -> (flag, variation, version, the result kept alive so that its id
        #: is not reused while counted)
        self._meta: dict[Any, tuple[str, int | None, int, Any]] = {}
        #: the same keys -> (evaluations already reported, times drain() read the counter,
        #: drains in a row that found it idle)
        self._seen: dict[Any, tuple[int, int, int]] = {}
        self.started = time.time()

    def first(self, result: EvaluationResult, version: int) -> None:
        """Count `result`, the first of its kind (the fast path found no counter for it)."""
        if result.error_code is not None or len(self.counters) >= self.MAX_BY_IDENTITY:
            self.count_key(result.key, result.variation, version)
            return
        rid = id(result)
        if rid not in self.counters:
            self._meta[rid] = (result.key, result.variation, version, result)
        # setdefault: two threads racing here share one counter
        next(self.counters.setdefault(rid, itertools.count()))

    def count(self, result: EvaluationResult, version: int) -> None:
        counter = self.counters.get(id(result))
        if counter is None:
            self.first(result, version)
        else:
            next(counter)

    def count_key(self, flag: str, variation: int | None, version: int) -> None:
        key = (flag, variation, version)
        counter = self.counters.get(key)
        if counter is None:
            self._meta[key] = (flag, variation, version, None)
            counter = self.counters.setdefault(key, itertools.count())
        next(counter)

    def drain(self) -> tuple[float, list[dict[str, Any]]]:
        """(start of the interval, entries gained since the last drain), merged by (flag,
        variation, version); the interval restarts."""
        started, self.started = self.started, time.time()
        merged: dict[tuple[str, int | None, int], int] = {}
        for key, counter in list(self.counters.items()):
            meta = self._meta.get(key)
            if meta is None:  # being added again by another thread right now: next time
                continue
            # next() counts itself: the counter's total is its value less the reads made.
            reported, reads, idle = self._seen.get(key, (0, 0, 0))
            total = next(counter) - reads
            gained = total - reported
            idle = idle + 1 if gained <= 0 else 0
            self._seen[key] = (total, reads + 1, idle)
            if idle >= IDLE_DRAINS:
                self._forget(key)
            if gained <= 0:
                continue
            flag, variation, version, _ = meta
            merged_key = (flag, variation, version)
            merged[merged_key] = merged.get(merged_key, 0) + gained
        entries = [{"flag": k, "variation": v, "version": ver, "count": n}
                   for (k, v, ver), n in merged.items()]  # fmt: skip
        return started, entries

    def _forget(self, key: Any) -> None:
        # The counter last: a thread adding this key again meanwhile then finds no stale
        # metadata to lose, and writes its own after this. `kept` holds the result (the
        # metadata's last item) alive until its counter is gone: while `id(result)` keys a
        # counter, no other object can be given that id.
        kept = self._meta.pop(key, None)
        self._seen.pop(key, None)
        self.counters.pop(key, None)
        del kept


class UsageReporter:
    """Posts a summary's counts from a daemon thread; `close()` posts the last ones."""

    def __init__(
        self,
        summary: UsageSummary,
        url: str,
        headers: dict[str, str],
        application: str,
        sdk_version: str,
        make_http: Callable[[], httpx.Client],
        interval: tuple[float, float] = (MIN_INTERVAL, MAX_INTERVAL),
    ) -> None:
        self.summary = summary
        self.url = url
        self.headers = headers
        self.application = application
        self.sdk_version = sdk_version
        self.instance = uuid.uuid4().hex
        self._make_http = make_http
        self._interval = interval
        self._pending: list[dict[str, Any]] = []  # counts a failed post could not deliver
        self._lock = threading.Lock()  # one report at a time (the timer's or close()'s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="launchsequence-usage",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def respawn(self) -> UsageReporter:
        """A reporter for a forked child: a new instance id, the same summary."""
        return UsageReporter(self.summary, self.url, self.headers, self.application,
                             self.sdk_version, self._make_http, self._interval)  # fmt: skip

    def _run(self) -> None:
        low, high = self._interval
        while not self._stop.wait(random.uniform(low, high)):
            self.report()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the timer and post what is left (bounded by `timeout` seconds)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.report(timeout)

    def report(self, timeout: float = 5.0) -> bool:
        """Post the counts gained since the last report; True when delivered (or none)."""
        try:
            with self._lock:
                started, entries = self.summary.drain()
                entries = self._pending + entries
                self._pending = []
                if not entries:
                    return True
                ok = True
                with self._make_http() as http:
                    for i in range(0, len(entries), MAX_ENTRIES):
                        part = entries[i : i + MAX_ENTRIES]
                        if not ok or not self._post(http, part, started, timeout):
                            ok = False
                            self._pending.extend(part)
                del self._pending[MAX_PENDING:]
                return ok
        except Exception:  # never raise into the host
            log.debug("launchsequence: usage report failed", exc_info=True)
            return False

    def _post(self, http: httpx.Client, entries: list[dict[str, Any]], started: float,
              timeout: float) -> bool:  # fmt: skip
        body = {"application": self.application, "instance": self.instance, "sdk": SDK_NAME,
                "sdk_version": self.sdk_version, "start": int(started * 1000),
                "end": int(time.time() * 1000), "counts": entries}  # fmt: skip
        try:
            r = http.post(self.url, json=body, headers=self.headers, timeout=timeout)
        except httpx.HTTPError as exc:
            log.debug("launchsequence: usage report not sent: %s", exc)
            return False
        if r.status_code == 202:
            return True
        if r.status_code in (400, 403, 413):  # the server will never take these: drop them
            log.warning("launchsequence: usage report refused (HTTP %d)", r.status_code)
            return True
        return False  # 429, 5xx: kept for the next report


def start_reporting(
    sdk_key: str, base_url: str, application: str, sdk_version: str
) -> tuple[UsageSummary, UsageReporter]:
    """A summary for a client to count into, and its reporter, started."""
    summary = UsageSummary()
    headers = {"Authorization": f"Bearer {sdk_key}", **sdk_headers(sdk_version, application)}

    def make_http() -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(5.0))

    reporter = UsageReporter(summary, f"{base_url}/sdk/v1/usage", headers, application,
                             sdk_version, make_http)  # fmt: skip
    reporter.start()
    return summary, reporter
