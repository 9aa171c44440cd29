"""The Python SDK's evaluation cost over the engine's, and a client's memory: `python
bench/sdk_python.py`. Offline client with the snapshot, so no server is needed.

Prints plain text; always exits 0 (figures are reported against targets, never enforced).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import platform
import statistics
import sys
import tracemalloc
from pathlib import Path
from time import perf_counter_ns, thread_time_ns
from typing import Any

import launchsequence_engine as engine
from launchsequence_sdk import Client
from launchsequence_sdk.usage import UsageSummary

sys.path.insert(0, str(Path(__file__).resolve().parent))
engine_bench: Any = importlib.import_module("engine")  # bench/engine.py: its flag and users

TARGET_RATIO = 1.5  # SDK median / engine median
TARGET_USAGE = 1.10  # bool_value with usage summaries / without


def batch_engine(n: int, compiled: Any, key: str, context: dict[str, Any]) -> None:
    evaluate = engine.evaluate
    for _ in range(n):
        evaluate(compiled, key, context)


def batch_sdk(n: int, client: Client, key: str, context: dict[str, Any]) -> None:
    value = client.bool_value
    for _ in range(n):
        value(key, context, False)


def interleaved(
    compiled: Any,
    client: Client,
    context: dict[str, Any],
    batch_size: int,
    batches: int,
    repeats: int,
) -> tuple[float, float]:
    """Median ns per call of the engine and of the SDK, their batches alternating so that a
    busy machine slows both alike."""
    batch_engine(batch_size, compiled, "realistic", context)  # warm-up
    batch_sdk(batch_size, client, "realistic", context)
    direct: list[float] = []
    via_sdk: list[float] = []
    gc.disable()
    try:
        for _ in range(repeats):
            totals = [0, 0]
            for _ in range(batches):
                start = perf_counter_ns()
                batch_engine(batch_size, compiled, "realistic", context)
                middle = perf_counter_ns()
                batch_sdk(batch_size, client, "realistic", context)
                totals[0] += middle - start
                totals[1] += perf_counter_ns() - middle
            direct.append(totals[0] / (batches * batch_size))
            via_sdk.append(totals[1] / (batches * batch_size))
    finally:
        gc.enable()
    return statistics.median(direct), statistics.median(via_sdk)


def telemetry_costs(document: Any, context: dict[str, Any], repeats: int) -> dict[str, float]:
    """Median ns per `bool_value` call: telemetry off, on outside any span (the current span
    looked up, nothing recorded), and inside a recording span of the real opentelemetry-sdk (the
    details evaluated and the event added). The three alternate, batch by batch."""
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("bench")
    clients = {
        "off (telemetry=False)": Client(offline=True, snapshot=document, telemetry=False),
        "on, no span": Client(offline=True, snapshot=document, telemetry=True),
        "on, recording span": Client(offline=True, snapshot=document, telemetry=True),
    }
    samples: dict[str, list[float]] = {name: [] for name in clients}
    batch = 200  # a recording span keeps its last 128 events: the batch adds to one span each
    gc.disable()
    try:
        for _ in range(repeats * 20):
            for name, client in clients.items():
                if name == "on, recording span":
                    with tracer.start_as_current_span("request"):
                        start = perf_counter_ns()
                        batch_sdk(batch, client, "realistic", context)
                        samples[name].append((perf_counter_ns() - start) / batch)
                else:
                    start = perf_counter_ns()
                    batch_sdk(batch, client, "realistic", context)
                    samples[name].append((perf_counter_ns() - start) / batch)
    finally:
        gc.enable()
    return {name: statistics.median(values) for name, values in samples.items()}


def usage_cost(
    document: Any, context: dict[str, Any], batch_size: int, batches: int, repeats: int
) -> dict[str, float]:
    """ns per bool_value without and with a usage summary (as a connected client keeps),
    batches alternating between two offline clients of the same snapshot (the order flips
    every batch). CPU time of this thread, which other processes' load disturbs less than
    the wall clock. Median and p99 over the batches, and the ratio of the medians."""
    plain = Client(offline=True, snapshot=document)
    counted = Client(offline=True, snapshot=document)
    counted._count_with(UsageSummary())  # what `send_usage=True` does on a connected client
    batch_sdk(batch_size, plain, "realistic", context)
    batch_sdk(batch_size, counted, "realistic", context)
    samples: dict[bool, list[float]] = {False: [], True: []}
    gc.disable()
    try:
        for i in range(repeats):
            for b in range(batches):
                for on in (False, True) if (i + b) % 2 == 0 else (True, False):
                    start = thread_time_ns()
                    batch_sdk(batch_size, counted if on else plain, "realistic", context)
                    samples[on].append((thread_time_ns() - start) / batch_size)
    finally:
        gc.enable()
    expected = (repeats * batches + 1) * batch_size
    assert sum(e["count"] for e in counted._usage.drain()[1]) == expected  # type: ignore[union-attr]
    without, with_usage = samples[False], samples[True]
    return {
        "without": statistics.median(without),
        "without_p99": statistics.quantiles(without, n=100)[98],
        "with": statistics.median(with_usage),
        "with_p99": statistics.quantiles(with_usage, n=100)[98],
    }


def memory_of_client(flags: int) -> tuple[int, int, int]:
    """Bytes held by the snapshot document, by the client (compiled flags and state), and the
    median time (ns) to apply one flag's patch (copy, compile that flag, diff, swap)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    document = engine_bench.snapshot(
        {f"flag-{i:04d}": engine_bench.realistic_flag(f"flag-{i:04d}") for i in range(flags)}
    )
    with_document = tracemalloc.get_traced_memory()[0]
    client = Client(offline=True, snapshot=document)
    gc.collect()
    with_client = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    store = client._store
    times = []
    for i in range(5):
        doc = {**document["flags"]["flag-0000"], "on": i % 2 == 0}
        start = perf_counter_ns()
        store.patch("flag", "flag-0000", doc, 2 + i)
        times.append(perf_counter_ns() - start)
    return with_document - before, with_client - with_document, int(statistics.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="repeats per figure (default 7)")
    parser.add_argument("--flags", type=int, default=1000, help="flags for the memory figure")
    options = parser.parse_args(argv)
    size = {"batch_size": 1000, "batches": 40, "repeats": max(1, options.repeats)}

    document = engine_bench.snapshot({"realistic": engine_bench.realistic_flag("realistic")})
    compiled = engine.compile(document, strict=False)
    # The SDK's own cost; OpenTelemetry's is measured on its own below.
    client = Client(offline=True, snapshot=document, telemetry=False)

    print("Launch Sequence Python SDK benchmark")
    print(f"python   {platform.python_implementation()} {platform.python_version()}")
    print()
    print("Flag: bench/engine.py's (b): 100 targets, 5 rules, 50/50 rollout. 'engine' calls")
    print("launchsequence_engine.evaluate(compiled, key, context); 'sdk' calls")
    print("Client.bool_value(key, context, False) on an offline client holding the same snapshot")
    print("(it also checks the value's type; the clock is read only for a `$now` clause).")
    print(f"median per call over {size['repeats']} repeats of {size['batches']} x "
          f"{size['batch_size']} calls, engine and sdk batches alternating, GC off.")  # fmt: skip
    print()
    header = f"{'user':<14} {'engine':>10} {'sdk':>10} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for name, context in engine_bench.USERS.items():
        direct, via_sdk = interleaved(compiled, client, context, **size)
        ratio = via_sdk / direct
        met = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(f"{name:<14} {engine_bench.fmt_ns(direct):>10} "
              f"{engine_bench.fmt_ns(via_sdk):>10} {ratio:>6.2f}x  "
              f"<= {TARGET_RATIO}x: {met}")  # fmt: skip

    print()
    print("OpenTelemetry (launchsequence-sdk[otel]): Client.bool_value, first user, batches of")
    print("200 calls alternating between the three clients, median per call:")
    costs = telemetry_costs(document, next(iter(engine_bench.USERS.values())), size["repeats"])
    baseline = costs["off (telemetry=False)"]
    for name, ns in costs.items():
        print(f"  {name:<24} {engine_bench.fmt_ns(ns):>10} {ns / baseline:>6.2f}x")
    print()
    print("usage summaries: bool_value without and with counting (per flag, variation, version);")
    print("CPU time per call, per batch: median and p99 over the batches, ratio of the medians")
    header = (f"{'user':<14} {'without':>10} {'p99':>10} {'with':>10} {'p99':>10} {'ratio':>7}"
              "  target")  # fmt: skip
    print(header)
    print("-" * len(header))
    for name, context in engine_bench.USERS.items():
        cost = usage_cost(document, context, **size)
        ratio = cost["with"] / cost["without"]
        met = "met" if ratio <= TARGET_USAGE else "MISSED"
        figures = [cost[k] for k in ("without", "without_p99", "with", "with_p99")]
        print(f"{name:<14} " + " ".join(f"{engine_bench.fmt_ns(f):>10}" for f in figures)
              + f" {ratio:>6.2f}x  <= {TARGET_USAGE}x: {met}")  # fmt: skip

    doc_bytes, client_bytes, patch_ns = memory_of_client(options.flags)
    print()
    mib = 2**20
    print(f"memory, {options.flags} such flags (tracemalloc): snapshot document "
          f"{doc_bytes / mib:.1f} MiB; client (compiled flags, state) "
          f"{client_bytes / mib:.1f} MiB; "
          f"total {(doc_bytes + client_bytes) / mib:.1f} MiB")  # fmt: skip
    print(f"one patch applied to that client (copy, compile the flag, diff, swap): "
          f"{patch_ns / 1e6:.1f} ms median")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
