"""Prometheus metrics, in a registry of the application's own (no process-wide state).

With several workers (`launchseq serve --workers N`) the master sets PROMETHEUS_MULTIPROC_DIR
(a private directory under the data directory, emptied at start) before any metric exists:
each worker then keeps its values in files there, and /metrics, whichever worker answers,
adds up every worker's counters and histograms (those of workers that died and were restarted
included, so a counter never goes back) and the gauges as their `multiprocess_mode` says.
The `process_*` metrics describe one process, so they are left out in that mode.
"""

from __future__ import annotations

import contextlib
import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = ["MULTIPROC_ENV", "Metrics", "multiprocess"]

#: The variable prometheus_client reads (at its import) to keep values in per-process files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess() -> bool:
    """Whether this process is one of several workers sharing their metrics."""
    return MULTIPROC_ENV in os.environ


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = multiprocess()
        r = self.registry
        if not self.multiprocess:
            # process_open_fds and process_max_fds among them: streams hold descriptors.
            ProcessCollector(registry=r)
        self.evaluations = Counter(
            "launchseq_evaluations",
            "Flag evaluations answered, by endpoint.",
            ["endpoint"],
            registry=r,
        )
        self.streams = Gauge(
            "launchseq_open_streams",
            "Open SSE streams, by kind (of every live worker together).",
            ["kind"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.stream_limit = Gauge(
            "launchseq_stream_limit",
            "Streams of all kinds served at once (each worker's limit, summed over the live "
            "workers); past a worker's own, that worker answers 503.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.events_sent = Counter(
            "launchseq_stream_events_sent", "SSE events written to subscribers.", registry=r
        )
        self.dropped = Counter(
            "launchseq_stream_dropped",
            "Streams closed by the server, by reason.",
            ["reason"],
            registry=r,
        )
        self.refused = Counter(
            "launchseq_stream_refused",
            "Stream connections refused at a limit.",
            ["limit"],
            registry=r,
        )
        self.propagation = Histogram(
            "launchseq_change_propagation_seconds",
            "From a committed change's notification to its last write to a subscriber.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.reloads = Counter(
            "launchseq_hub_reloads",
            "Hub reloads from the database, by cause.",
            ["cause"],
            registry=r,
        )
        self.usage_evaluations = Counter(
            "launchseq_flag_evaluations",
            "Flag evaluations counted for usage (answered here, or reported by SDKs that "
            "evaluate locally), by environment; added once per usage flush interval.",
            ["org", "project", "environment"],
            registry=r,
        )
        self.usage_flush_seconds = Histogram(
            "launchseq_usage_flush_seconds",
            "Time to write one interval's usage counts (one transaction).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )

        self.flag_errors = Gauge(
            "launchseq_snapshot_flag_errors",
            "Flags set aside from an environment this process serves: they cannot be built "
            "into its snapshot or compiled, and answer ERROR (PARSE_ERROR) until fixed.",
            ["org", "project", "environment"],
            registry=r,
            multiprocess_mode="livemax",
        )

    def forget_flag_errors(self, org: str, project: str, environment: str) -> None:
        """An environment is no longer served: drop its set-aside count (in multiprocess mode,
        where a series cannot be removed, it reads 0)."""
        if self.multiprocess:
            self.flag_errors.labels(org, project, environment).set(0)
            return
        with contextlib.suppress(KeyError):  # never set: it never set a flag aside
            self.flag_errors.remove(org, project, environment)

    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
