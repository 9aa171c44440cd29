"""Stream fan-out: N subscribers on one server process, one toggle, time to each receipt.

    python bench/stream.py                 # N = 1,000 and 10,000
    python bench/stream.py --counts 2000   # other sizes

The server is a real `launchseq serve` process on SQLite. The subscribers live in a second
process (raw non-blocking sockets and epoll, so the clients add as little delay as possible):
each opens `GET /sdk/v1/stream`, reads its `put`, and then records the wall-clock time at which
the `patch` of the toggle arrives. The latency of a subscriber is that time minus the moment
the benchmark sent the toggle request, so it includes the HTTP request and the commit: an upper
bound of "commit to receipt". The server's own measurement (commit notification to the last
write, `launchseq_change_propagation_seconds`) is printed next to it. The baseline, measured in
the same run, is the round trip of one plain `GET /healthz`. Nothing here fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the subscriber process ----------------------------------------------------------------

SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)  # Linux; SCM_TIMESTAMP has the same value
#: Bytes asked of each read. Far more than an event; and under glibc's mmap threshold (128 KiB):
#: Python allocates the whole size for every read, and 1 MiB was an mmap, an mremap and a
#: munmap per read, most of this process's CPU, taken from the cores the server runs on.
READ_SIZE = 64 * 1024


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(data) >= 16:
            seconds, micros = struct.unpack("qq", data[:16])
            return seconds + micros / 1e6
    return time.time()


def run_clients(port: int, key: str, count: int, timeout: float, host: str = "127.0.0.1") -> None:
    """Open `count` streams to `host`, say READY, then print the receipt time of each one's
    patch.

    Receipt times are the kernel's (SO_TIMESTAMP): when the bytes reached this process's
    socket, not when this process got round to reading them.
    """
    request = (
        f"GET /sdk/v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    poller = select.epoll()
    socks: dict[int, socket.socket] = {}
    seen: dict[int, bytes] = {}
    for _ in range(count):
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        sock.sendall(request)
        sock.setblocking(False)
        socks[sock.fileno()] = sock
        seen[sock.fileno()] = b""
        poller.register(sock.fileno(), select.EPOLLIN)
    deadline = time.monotonic() + timeout
    waiting = set(socks)
    while waiting and time.monotonic() < deadline:  # phase 1: every stream has its put
        for fd, _ in poller.poll(1.0):
            data = socks[fd].recv(READ_SIZE)
            seen[fd] += data
            if fd in waiting and b"event: put" in seen[fd] and seen[fd].endswith(b"\r\n"):
                waiting.discard(fd)
    print(json.dumps({"ready": count - len(waiting)}), flush=True)
    received: dict[int, float] = {}
    for fd in socks:
        seen[fd] = b""
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:  # phase 2: the patch
        for fd, _ in poller.poll(1.0):
            data, ancillary, _, _ = socks[fd].recvmsg(READ_SIZE, socket.CMSG_SPACE(16))
            if fd not in received:
                seen[fd] += data
                if b"event: patch" in seen[fd]:
                    received[fd] = _kernel_time(ancillary)
    print(json.dumps({"times": list(received.values())}), flush=True)
    for sock in socks.values():
        sock.close()


# --- the driver ----------------------------------------------------------------------------


def start_server(
    port: int, data_dir: str, *, workers: int = 1, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`launchseq serve` on SQLite in `data_dir`, once it answers `/readyz`. One process by
    default: its RSS is the server's (the server's own default runs a worker per CPU). `env`
    adds settings; the caller's LAUNCHSEQ_* settings are not passed on."""
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAUNCHSEQ_")},
        "LAUNCHSEQ_DATA_DIR": data_dir,
        "LAUNCHSEQ_MAX_STREAMS_PER_KEY": "20000",
        "LAUNCHSEQ_LOG_LEVEL": "warning",
        **(env or {}),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "launchsequence", "serve", "--port", str(port),
         "--workers", str(workers)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a master's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def setup(base: str) -> tuple[httpx.Client, str, str]:
    client = httpx.Client(base_url=base, timeout=60)
    body = client.post(
        "/api/v1/auth/signup", json={"email": "bench@example.com", "password": "benchmark-pw"}
    ).json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    project = f"/api/v1/orgs/{body['organizations'][0]['key']}/projects/default"
    client.post(f"{project}/flags", json={"key": "fan-out"}).raise_for_status()
    rotated = client.post(
        f"{project}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
    )
    return client, project, rotated.json()["key"]


def server_propagation(base: str) -> str:
    text = httpx.get(f"{base}/metrics").text
    total = count = None
    for line in text.splitlines():
        if line.startswith("launchseq_change_propagation_seconds_sum"):
            total = float(line.split()[-1])
        if line.startswith("launchseq_change_propagation_seconds_count"):
            count = float(line.split()[-1])
    if not count or total is None:
        return "n/a"
    return f"{total / count * 1000:.1f} ms mean over {int(count)} change(s)"


def measure(count: int, timeout: float) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir)
        try:
            base = f"http://127.0.0.1:{port}"
            client, project, key = setup(base)
            rss_idle = rss_mb(server.pid)
            clients = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE),
                    "--client",
                    "--port",
                    str(port),
                    "--key",
                    key,
                    "--count",
                    str(count),
                    "--timeout",
                    str(timeout),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert clients.stdout is not None
            ready = json.loads(clients.stdout.readline())["ready"]
            time.sleep(1.0)  # let the server settle after the connection burst
            rss_streams = rss_mb(server.pid)
            baseline = []
            for _ in range(50):
                t = time.perf_counter()
                client.get("/healthz")
                baseline.append((time.perf_counter() - t) * 1000)
            sent = time.time()
            client.patch(f"{project}/flags/fan-out/environments/production", json={"on": True})
            answered = (time.time() - sent) * 1000
            times = json.loads(clients.stdout.readline())["times"]
            clients.wait(timeout=60)
            latencies = [(t - sent) * 1000 for t in times]
            rss_after = rss_mb(server.pid)
            base_ms = statistics.median(baseline)
            print(f"\nN = {count:,} subscribers ({ready:,} connected, {len(times):,} received)")
            if latencies:
                p50 = statistics.median(latencies)
                p99 = percentile(latencies, 0.99)
                print(
                    f"  toggle sent -> patch received: p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   "
                    f"max {max(latencies):7.1f} ms"
                )
                print(
                    f"  baseline GET /healthz round trip: median {base_ms:.2f} ms "
                    f"(p99 is {p99 / base_ms:.0f}x the baseline)"
                )
            print(f"  the toggle's own answer took {answered:.1f} ms")
            print(f"  server, commit to last write: {server_propagation(base)}")
            print(
                f"  server RSS: {rss_idle:.0f} MB idle, {rss_streams:.0f} MB with the streams "
                f"open, {rss_after:.0f} MB after the toggle"
            )
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_clients(args.port, args.key, args.count, args.timeout, args.host)
        return
    print("Launch Sequence stream fan-out benchmark")
    print(f"  Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print("  target: 10,000 subscribers on one process, p99 under 150 ms, RSS under 300 MB")
    for count in args.counts:
        measure(count, timeout=args.timeout)


if __name__ == "__main__":
    main()
