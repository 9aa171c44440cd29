"""CPU time per toggle: what one change's fan-out to N subscribers costs, in CPU, not in time.

    python bench/fanout_cpu.py                                # 10,000 subscribers, 1 worker
    python bench/fanout_cpu.py --workers 2 --rounds 1 --toggles 9
    python bench/fanout_cpu.py --subscribers 0                # the toggle alone, no fan-out
    python bench/fanout_cpu.py --perf /tmp/fanout.data        # perf record the server meanwhile

Wall-clock latency on a shared machine moves with everyone else's load; the CPU a toggle costs
moves much less. A real `launchseq serve` (SQLite, `--workers N`) and N subscribers in a second
process (bench/stream.py's client: raw sockets, epoll, the same reads); then `--toggles` toggles
of one flag through the admin API, one at a time, in each of `--rounds` rounds (each round
opens its own N connections and closes them at its end, as bench/workers.py does per toggle).
For each toggle the CPU time of the server's processes (the master and every worker, all
threads, from /proc/<pid>/task/*/schedstat; the user/system split from /proc/<pid>/stat, in
clock ticks) is read before the PATCH is sent and again once every subscriber has its `patch`
and the server has been idle for 0.3 s: the request, the commit, the reloads and the fan-out,
the kernel's socket work included (on loopback that includes the subscribers' TCP receive,
which the kernel runs in the sender's system call). The subscribers' process reports its own
CPU time per toggle. The timers that would run meanwhile (heartbeats, schedules, version checks,
stream rechecks) are set to an hour. The figure is the median over all toggles.
Nothing here fails on time.
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

# The same reads as its client, and the same server and flag.
from stream import READ_SIZE, SO_TIMESTAMP, children, free_port, setup, start_server  # noqa: E402

QUIET = {
    "LAUNCHSEQ_SCHEDULE_CHECK_SECONDS": "3600",
    "LAUNCHSEQ_WEBHOOK_POLL_SECONDS": "3600",
    "LAUNCHSEQ_VERSION_CHECK_SECONDS": "3600",
    "LAUNCHSEQ_STREAM_RECHECK_SECONDS": "3600",
    "LAUNCHSEQ_SSE_HEARTBEAT_SECONDS": "3600",
}
TICKS = os.sysconf("SC_CLK_TCK")
CREDENTIALS = {"email": "bench@example.com", "password": "benchmark-pw"}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def run_ns(pid: int) -> int:
    """Nanoseconds a process's threads have run (/proc/<pid>/task/*/schedstat): finer than
    the clock ticks of /proc/<pid>/stat. Threads that ended take their time with them."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue
    return total


# --- the subscriber process ----------------------------------------------------------------


def run_clients(
    port: int, key: str, count: int, toggles: int, timeout: float, read_size: int = READ_SIZE
) -> None:
    """Open `count` streams, say READY; then, `toggles` times, wait until every stream has a
    new `patch` and print the CPU time this process spent meanwhile. Each read is the one
    bench/stream.py's client makes (recvmsg with room for the kernel's receive timestamp)."""
    request = (
        f"GET /sdk/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    poller = select.epoll()
    socks: dict[int, socket.socket] = {}
    seen: dict[int, bytes] = {}
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)  # as bench/stream.py's client
        sock.sendall(request)
        sock.setblocking(False)
        socks[sock.fileno()] = sock
        seen[sock.fileno()] = b""
        poller.register(sock.fileno(), select.EPOLLIN)
    deadline = time.monotonic() + timeout
    waiting = set(socks)
    while waiting and time.monotonic() < deadline:
        for fd, _ in poller.poll(1.0):
            seen[fd] += socks[fd].recv(read_size)
            if fd in waiting and b"event: put" in seen[fd] and seen[fd].endswith(b"\r\n"):
                waiting.discard(fd)
    print(json.dumps({"ready": count - len(waiting)}), flush=True)
    for _ in range(toggles):
        for fd in socks:
            seen[fd] = b""
        before = os.times()
        got: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            for fd, _ in poller.poll(1.0):
                data, _ancillary, _, _ = socks[fd].recvmsg(read_size, socket.CMSG_SPACE(16))
                seen[fd] += data
                if fd not in got and b"event: patch" in seen[fd]:
                    got.add(fd)
        after = os.times()
        spent = after.user - before.user + after.system - before.system
        print(json.dumps({"received": len(got), "cpu": spent}), flush=True)
    sys.stdin.readline()  # closing 10,000 connections is not a toggle's cost: wait till told
    for sock in socks.values():
        sock.close()


# --- the driver ----------------------------------------------------------------------------


def total_cpu(pids: list[int]) -> tuple[float, float]:
    user = system = 0.0
    for pid in pids:
        u, s = cpu_seconds(pid)
        user, system = user + u, system + s
    return user, system


def settle(pids: list[int], quiet: float = 0.3, limit: float = 10.0) -> None:
    """Wait until the processes spent no CPU for `quiet` seconds (or `limit` passed)."""
    deadline = time.monotonic() + limit
    last = total_cpu(pids)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = total_cpu(pids)
        if now == last:
            return
        last = now


def one_round(
    args: argparse.Namespace,
    port: int,
    key: str,
    pids: list[int],
    toggle: Callable[[bool], None],
    on: bool,
) -> tuple[list[float], list[float]]:
    """Connect the subscribers, toggle `--toggles` times, disconnect them: the server's and
    the subscribers' CPU milliseconds per toggle."""
    clients = subprocess.Popen(
        [sys.executable, str(HERE), "--client", "--port", str(port), "--key", key,
         "--subscribers", str(args.subscribers), "--toggles", str(args.toggles),
         "--timeout", str(args.timeout), "--read-size", str(args.read_size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert clients.stdout is not None and clients.stdin is not None
    ready = json.loads(clients.stdout.readline())["ready"]
    settle(pids, quiet=0.5)
    print(f"  {ready:,} subscribers connected")
    perf = None
    if args.perf:
        # The server's processes, and with --perf-subscribers the subscribers' process too.
        recorded = pids + ([clients.pid] if args.perf_subscribers else [])
        perf = subprocess.Popen(
            [
                "perf",
                "record",
                "-F",
                "2000",
                "-g",
                "-o",
                args.perf,
                "-p",
                ",".join(map(str, recorded)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    server_ms: list[float] = []
    client_ms: list[float] = []
    for i in range(args.toggles):
        on = not on
        settle(pids)
        u0, s0 = total_cpu(pids)
        n0 = sum(run_ns(pid) for pid in pids)
        toggle(on)
        result = json.loads(clients.stdout.readline())
        settle(pids)
        u1, s1 = total_cpu(pids)
        server_ms.append((sum(run_ns(pid) for pid in pids) - n0) / 1e6)
        client_ms.append(result["cpu"] * 1000)
        print(f"  toggle {i + 1}: {result['received']:,} received; server CPU "
              f"{server_ms[-1]:6.1f} ms (user {(u1 - u0) * 1000:4.0f}, system "
              f"{(s1 - s0) * 1000:4.0f}); subscribers' process "
              f"{client_ms[-1]:6.0f} ms")  # fmt: skip
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    clients.stdin.close()
    clients.wait(timeout=60)
    return server_ms, client_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--toggles", type=int, default=5, help="per round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="each with its own subscribers' process and connections",
    )
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument(
        "--login-each",
        action="store_true",
        help="each toggle logs in on a new connection (counted), as bench/workers.py's do",
    )
    parser.add_argument(
        "--read-size",
        type=int,
        default=READ_SIZE,
        help="bytes the subscribers' process asks of each read (bench/stream.py's by default)",
    )
    parser.add_argument(
        "--perf-subscribers", action="store_true", help="--perf records the subscribers too"
    )
    parser.add_argument("--perf", help="perf record the server during the toggles to this file")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_clients(
            args.port, args.key, args.subscribers, args.toggles, args.timeout, args.read_size
        )
        return
    print("Launch Sequence fan-out CPU benchmark")
    print(f"  Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start; {args.workers} worker(s), "
          f"{args.subscribers:,} subscribers")  # fmt: skip
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir, workers=args.workers, env=QUIET)
        try:
            base = f"http://127.0.0.1:{port}"
            client, project, key = setup(base)
            pids = [server.pid, *children(server.pid)]

            def toggle(on: bool) -> None:
                path = f"{project}/flags/fan-out/environments/production"
                if not args.login_each:
                    client.patch(path, json={"on": on}).raise_for_status()
                    return
                # As bench/workers.py toggles: a new connection, so any worker may take it.
                with httpx.Client(base_url=base, timeout=60) as fresh:
                    body = fresh.post("/api/v1/auth/login", json=CREDENTIALS).json()
                    fresh.headers["X-CSRF-Token"] = body["csrf_token"]
                    fresh.patch(path, json={"on": on}).raise_for_status()

            servers: list[float] = []
            subscribers: list[float] = []
            on = False
            for r in range(args.rounds):
                print(f"round {r + 1}")
                server_ms, client_ms = one_round(args, port, key, pids, toggle, on)
                on = on if args.toggles % 2 == 0 else not on
                servers += server_ms
                subscribers += client_ms
            print(f"median of {len(servers)} toggles: server CPU "
                  f"{statistics.median(servers):.1f} ms per toggle; subscribers' process "
                  f"{statistics.median(subscribers):.0f} ms")  # fmt: skip
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
