"""Prometheus metrics, in a registry of the application's own (no process-wide state)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # process_open_fds and process_max_fds among them: streams hold descriptors.
        ProcessCollector(registry=r)
        self.evaluations = Counter(
            "launchseq_evaluations",
            "Flag evaluations answered, by endpoint.",
            ["endpoint"],
            registry=r,
        )
        self.streams = Gauge(
            "launchseq_open_streams", "Open SSE streams, by kind.", ["kind"], registry=r
        )
        self.stream_limit = Gauge(
            "launchseq_stream_limit",
            "Streams of all kinds this process serves at once; past it, 503.",
            registry=r,
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
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
