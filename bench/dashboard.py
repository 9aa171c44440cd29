"""Server render time of the dashboard's flag list with 1,000 flags: `python bench/dashboard.py`.

A real server on loopback (uvicorn), a logged-in session, 1,000 flags in two environments
(a third of them on, with tags). Reports the median and p99 of the whole answer (request to
last byte) and the ratio to a baseline page (the organization's settings page: the same
middleware, session and template machinery, almost no data), and the CPU time the server's
thread spent on each answer (`time.thread_time` around the page handler): on a machine that
others load, wall times swing with their work while CPU time stays what the page costs.
Prints plain text; always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launchsequence.app import create_app
from launchsequence.config import Settings
from launchsequence.web import pages
from tests.support.api import signup
from tests.support.live import LiveServer

TARGET_MS = 100.0


def timings(client: httpx.Client, path: str, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
    return out


#: CPU ms of each page answered, by path, while `measure_cpu` is on.
CPU: dict[str, list[float]] = {}


def measure_cpu() -> None:
    """Time the CPU each page handler's thread spends (the handler runs in a worker thread:
    `pages._run`, looked up at each request)."""
    run = pages._run

    def timed(fn, request, *args):  # type: ignore[no-untyped-def]
        started = time.thread_time()
        try:
            return run(fn, request, *args)
        finally:
            spent = (time.thread_time() - started) * 1000
            CPU.setdefault(request.url.path, []).append(spent)

    pages._run = timed  # type: ignore[assignment]


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.99) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flags", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        app = create_app(Settings(data_dir=data, secret_key="bench"))
        server = LiveServer(app).start()
        try:
            user = signup(server.url, "bench@example.com")
            services = app.state.services
            actor = services.accounts.authenticate_session(user.http.cookies["launchseq_session"])
            for i in range(args.flags):
                services.flags.create_flag(
                    actor, user.org, "default",
                    {"key": f"flag-{i:04d}", "name": f"Flag number {i}", "tags": [f"team-{i % 7}"]},
                )  # fmt: skip
                if i % 3 == 0:
                    services.flags.write_config(
                        actor, user.org, "default", f"flag-{i:04d}", "production", {"on": True},
                        if_match=None, replace=False,
                    )  # fmt: skip
            flags_path = f"/o/{user.org}/p/default/flags"
            baseline_path = f"/o/{user.org}/settings"
            for path in (flags_path, baseline_path):
                timings(user.http, path, 5)  # warm up
            measure_cpu()
            flags = timings(user.http, flags_path, args.rounds)
            baseline = timings(user.http, baseline_path, args.rounds)
            size = len(user.http.get(flags_path).content)
        finally:
            server.stop()
    median = statistics.median(flags)
    base = statistics.median(baseline)
    print(f"flag list, {args.flags} flags x 2 environments ({size / 1024:.0f} KiB of HTML)")
    print(f"  median {median:7.1f} ms   p99 {p99(flags):7.1f} ms (target {TARGET_MS:.0f})")
    print(f"baseline page (settings), median {base:7.1f} ms   p99 {p99(baseline):7.1f} ms")
    print(f"ratio flag list / baseline: {median / base:.1f}x")
    cpu, cpu_base = CPU.get(flags_path, [0.0]), CPU.get(baseline_path, [0.0])
    print(
        f"server CPU per answer: flag list median {statistics.median(cpu):6.1f} ms "
        f"p99 {p99(cpu):6.1f} ms; baseline median {statistics.median(cpu_base):6.1f} ms"
    )
    print("OK" if p99(flags) < TARGET_MS else "OVER TARGET (p99)")


if __name__ == "__main__":
    main()
