"""Admin API latency: `python bench/api.py [--database-url postgresql://...]`.

Starts the real application (SQLite in a temporary directory by default) on a loopback uvicorn
server in a background thread, signs up a user, and measures over HTTP, one request at a time:

- creating a flag (1,000 creates, which also builds the 1,000-flag project),
- toggling a flag's production configuration (PATCH `{"on": ...}` with If-Match),
- reading the flag list of the 1,000-flag project,
- a baseline in the same run (GET /healthz), so that figures compare across machines.

Prints count, median and p99 latency and the ratio of each median to the baseline's. Always
exits 0 when it ran (timings are reported, never enforced).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import httpx
import uvicorn

from launchsequence.app import create_app
from launchsequence.config import Settings


@dataclass
class Figure:
    label: str
    samples_ns: list[int]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ns) / 1e6

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.samples_ns)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] / 1e6


class Server:
    """uvicorn serving `app` on 127.0.0.1 in a daemon thread until `stop()`."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def timed(count: int, call: Callable[[int], httpx.Response], expect: int) -> list[int]:
    samples = []
    for i in range(count):
        start = perf_counter_ns()
        response = call(i)
        samples.append(perf_counter_ns() - start)
        if response.status_code != expect:
            raise RuntimeError(f"{response.request.url} answered {response.status_code}: "
                               f"{response.text[:200]}")  # fmt: skip
    return samples


def run(args: argparse.Namespace, data_dir: str) -> list[Figure]:
    settings = Settings(data_dir=data_dir, database_url=args.database_url, secret_key="bench")
    server = Server(create_app(settings)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            signup = client.post(
                "/api/v1/auth/signup",
                json={"email": f"bench-{secrets.token_hex(4)}@example.com",
                      "password": "correct horse", "name": f"Bench {secrets.token_hex(3)}"},
            )  # fmt: skip
            signup.raise_for_status()
            org = signup.json()["organizations"][0]["key"]
            client.headers["X-CSRF-Token"] = signup.json()["csrf_token"]
            base = f"/api/v1/orgs/{org}/projects/default/flags"

            # Warm up every route (imports, pools, caches) before timing anything.
            for _ in range(20):
                client.get("/healthz")
            client.get(base)

            baseline = timed(args.baseline, lambda i: client.get("/healthz"), 200)

            keys = [f"flag-{i:04d}" for i in range(args.flags)]
            creates = timed(
                args.flags,
                lambda i: client.post(base, json={"key": keys[i], "tags": [f"team-{i % 7}"]}),
                201,
            )

            versions = dict.fromkeys(keys, 1)
            on = dict.fromkeys(keys, False)

            def toggle(i: int) -> httpx.Response:
                key = keys[(i * 7) % len(keys)]
                response = client.patch(
                    f"{base}/{key}/environments/production",
                    json={"on": not on[key]},
                    headers={"If-Match": f'"{versions[key]}"'},
                )
                if response.status_code == 200:
                    versions[key] = response.json()["version"]
                    on[key] = response.json()["on"]
                return response

            toggles = timed(args.toggles, toggle, 200)

            def read_list(_: int) -> httpx.Response:
                response = client.get(base)
                if len(response.json()["flags"]) != args.flags:
                    raise RuntimeError("the flag list is not complete")
                return response

            reads = timed(args.reads, read_list, 200)
    finally:
        server.stop()
    return [
        Figure("GET /healthz (baseline)", baseline),
        Figure(f"create a flag (POST, project grows to {args.flags})", creates),
        Figure("toggle a flag (PATCH on, If-Match)", toggles),
        Figure(f"read the flag list ({args.flags} flags)", reads),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--flags", type=int, default=1000, help="flags to create (1000)")
    parser.add_argument("--toggles", type=int, default=300, help="toggles to time (300)")
    parser.add_argument("--reads", type=int, default=100, help="flag-list reads to time (100)")
    parser.add_argument("--baseline", type=int, default=300, help="baseline requests (300)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="launchseq-bench-") as data_dir:
            figures = run(args, data_dir)
    except Exception as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    database = "PostgreSQL" if args.database_url else "SQLite (WAL, temporary file)"
    print("Launch Sequence admin API benchmark")
    print(f"python   {platform.python_implementation()} {platform.python_version()}")
    print(f"machine  {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}")
    print(f"database {database}")
    print("One client, one request at a time, over loopback HTTP/1.1 keep-alive (httpx to")
    print("uvicorn in this process); latency is each request's wall time. 'x base' is the median")
    print("over the baseline's median.")
    print()
    print_table(figures, 46)
    print()
    print(f"total {time.monotonic() - started:.1f} s")
    return 0


def print_table(figures: list[Figure], width: int) -> None:
    """Count, median, p99 and the median over the first (the baseline's) median, a row each."""
    header = f"{'':<{width}} {'count':>6} {'median ms':>10} {'p99 ms':>9} {'x base':>8}"
    print(header)
    print("-" * len(header))
    base = figures[0].median_ms
    for f in figures:
        print(f"{f.label:<{width}} {len(f.samples_ns):>6} {f.median_ms:>10.2f} "
              f"{f.p99_ms:>9.2f} {f.median_ms / base:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
