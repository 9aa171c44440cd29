"""`launchseq serve --workers 2` against `--workers 1`, side by side in the same run.

    python bench/workers.py                          # needs wrk (Debian: apt-get install wrk)
    python bench/workers.py --rounds 5 --seconds 10 --subscribers 2000 10000

Two real servers on SQLite run at once, one with one worker and one with two (each on its own
data directory, the same flag as bench/eval_http.py). Throughput: wrk (one thread, the same
connections) drives `POST /sdk/v1/evaluate` on each in turn, the order alternating every
round; the figure is each server's median requests/s over the rounds, and their ratio.
wrk runs on the same machine and takes a core's share of its own, so on a 2-core machine the
ratio is bounded well below 2 by the load generator alone; the figures say what was measured.

Delivery: N subscribers (bench/stream.py's client process: raw sockets, kernel receive
timestamps) open `GET /sdk/v1/stream` on the two-worker server, spread by the kernel over the
workers (the split is read from /proc and printed); one toggle through the API; the latency of
each subscriber is the receipt of its `patch` less the moment the toggle was sent (p50, p99).
The same on the one-worker server is the baseline. Nothing here fails on time.

`--cpu-per-worker 0.4` holds each serving process to 0.4 of a CPU (its own cgroup, CFS
quota; root and the cgroup v1 `cpu` controller at /sys/fs/cgroup/cpu): what a machine with a
core per worker plus one for wrk would show, on a machine that has fewer. Two capped workers
and wrk then fit in two cores, so the ratio measures how the workers scale (the accept balance,
the shared SQLite file, the sibling wake-ups), not how wrk and the workers share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

from eval_http import BODY, free_port, run_wrk  # noqa: E402
from eval_http import setup as setup_flag  # noqa: E402
from stream import children  # noqa: E402


class Server:
    """A `launchseq serve --workers N` process on SQLite in its own data directory."""

    def __init__(self, workers: int, data_dir: str) -> None:
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LAUNCHSEQ_")},
            "LAUNCHSEQ_DATA_DIR": data_dir,
            "LAUNCHSEQ_MAX_STREAMS_PER_KEY": "20000",
            "LAUNCHSEQ_LOG_LEVEL": "warning",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "launchsequence", "serve", "--port", str(self.port),
             "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise SystemExit(f"the {workers}-worker server did not start")
            time.sleep(0.1)
        self.key = setup_flag(self.base)
        self.answered_ms = 0.0

    def pids(self) -> list[int]:
        """The processes serving: the workers (a master's children), or the process itself."""
        if self.workers == 1:
            return [self.process.pid]
        return children(self.process.pid)

    def connections_per_process(self) -> list[int]:
        """Established connections to the port held by each serving process."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == self.port and fields[3] == "01":
                    inodes.add(f"socket:[{fields[9]}]")
        counts = []
        for pid in self.pids():
            n = 0
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    n += os.readlink(f"/proc/{pid}/fd/{fd}") in inodes
                except OSError:
                    continue
            counts.append(n)
        return counts

    def toggle(self, on: bool) -> float:
        """Log in, then turn the benchmark's flag `on`; the wall-clock time it was sent."""
        client = httpx.Client(base_url=self.base, timeout=60)
        body = client.post(
            "/api/v1/auth/login", json={"email": "bench@example.com", "password": "benchmark-pw"}
        ).json()
        client.headers["X-CSRF-Token"] = body["csrf_token"]
        project = f"/api/v1/orgs/{body['organizations'][0]['key']}/projects/default"
        sent = time.time()
        client.patch(f"{project}/flags/checkout/environments/production", json={"on": on})
        self.answered_ms = (time.time() - sent) * 1000
        client.close()
        return sent

    def cap(self, cpus: float) -> list[Path]:
        """Hold each serving process to `cpus` of a CPU: a cgroup each, with a CFS quota."""
        groups = []
        for pid in self.pids():
            group = CGROUP_CPU / f"launchseq-bench-{pid}"
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text("100000")
            (group / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
            (group / "cgroup.procs").write_text(str(pid))
            groups.append(group)
        return groups

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")


def uncap(groups: list[Path]) -> None:
    """Remove the benchmark's cgroups (their processes have ended, or go back to the root)."""
    for group in groups:
        try:
            for pid in (group / "cgroup.procs").read_text().split():
                (CGROUP_CPU / "cgroup.procs").write_text(pid)
            group.rmdir()
        except OSError as exc:
            print(f"  could not remove {group}: {exc}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def throughput(servers: list[Server], rounds: int, seconds: int, connections: int) -> None:
    print(f"\nPOST /sdk/v1/evaluate, wrk -t1 -c{connections}, {seconds} s, {rounds} rounds")
    for server in servers:
        run_wrk(f"{server.base}/sdk/v1/evaluate", server.key, BODY, 2, connections)  # warm-up
    results: dict[int, list[float]] = {s.workers: [] for s in servers}
    for i in range(rounds):
        order = servers if i % 2 == 0 else servers[::-1]
        for server in order:
            figures = run_wrk(f"{server.base}/sdk/v1/evaluate", server.key, BODY, seconds,
                              connections)  # fmt: skip
            results[server.workers].append(figures["rps"])
            p99, errors = figures.get("99%", 0), figures["errors"]
            print(f"  round {i + 1}: {server.workers} worker(s) {figures['rps']:9,.0f} req/s   "
                  f"p99 {p99:6.2f} ms   non-2xx {errors:.0f}")  # fmt: skip
    medians = {n: statistics.median(v) for n, v in results.items()}
    for n, median in medians.items():
        print(f"  median, {n} worker(s): {median:9,.0f} req/s")
    one, two = medians[1], medians[2]
    print(f"  ratio 2 workers / 1 worker: {two / one:.2f}x (goal: 1.8x)")


def delivery(server: Server, count: int, timeout: float, on: bool) -> None:
    clients = subprocess.Popen(
        [sys.executable, str(HERE.parent / "stream.py"), "--client", "--port", str(server.port),
         "--key", server.key, "--count", str(count), "--timeout", str(timeout)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert clients.stdout is not None
    ready = json.loads(clients.stdout.readline())["ready"]
    time.sleep(1.0)  # let the servers settle after the connection burst
    split = server.connections_per_process()
    sent = server.toggle(on)
    times = json.loads(clients.stdout.readline())["times"]
    clients.wait(timeout=60)
    latencies = [(t - sent) * 1000 for t in times]
    label = f"{server.workers} worker(s)"
    print(f"  {label}: {ready:,} connected, per process {split}, {len(times):,} received; "
          f"the toggle's answer took {server.answered_ms:.1f} ms")  # fmt: skip
    if latencies:
        p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
        print(f"    toggle sent -> patch received: p50 {p50:7.1f} ms   "
              f"p99 {p99:7.1f} ms   max {max(latencies):7.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--subscribers", type=int, nargs="*", default=[2_000])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument(
        "--cpu-per-worker", type=float, default=0.0, help="cap each serving process (0: none)"
    )
    args = parser.parse_args()
    print("Launch Sequence workers benchmark")
    print(f"  Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")  # fmt: skip
    with tempfile.TemporaryDirectory() as one_dir, tempfile.TemporaryDirectory() as two_dir:
        servers = [Server(1, one_dir), Server(2, two_dir)]
        groups: list[Path] = []
        try:
            if args.cpu_per_worker > 0:
                for server in servers:
                    groups += server.cap(args.cpu_per_worker)
                print(f"  each serving process held to {args.cpu_per_worker} CPU (cgroup quota)")
            if shutil.which("wrk") is None:
                print("  wrk is not installed (Debian: apt-get install wrk); no throughput")
            else:
                throughput(servers, args.rounds, args.seconds, args.connections)
            on = True  # as setup_flag left it: the first toggle turns it off
            for count in args.subscribers:
                on = not on
                print(f"\nA toggle's delivery to {count:,} subscribers")
                for server in servers:
                    delivery(server, count, args.timeout, on)
        finally:
            for server in servers:
                server.stop()
            uncap(groups)


if __name__ == "__main__":
    main()
