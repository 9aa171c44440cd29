"""Server render time of the dashboard's flag list with 1,000 flags: `python bench/dashboard.py`.

A real server on loopback (uvicorn), a logged-in session, 1,000 flags in two environments
(a third of them on, with tags). Reports the median and p99 of the whole answer (request to
last byte) and the ratio to a baseline page (the log-in page: the same middleware, session
and template machinery, almost no data). Prints plain text; always exits 0.
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
    print("OK" if median < TARGET_MS else "OVER TARGET")


if __name__ == "__main__":
    main()
