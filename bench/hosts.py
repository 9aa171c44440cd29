"""Several hosts on one machine: a core and edges in network namespaces, 50,000 streams.

    sudo python bench/hosts.py                         # 4 edges, 50,000 streams
    sudo python bench/hosts.py --edges 2 --streams 20000

Needs root and iproute2 (`ip netns`, veth, a bridge). The topology is what a small deployment
looks like, on one box:

- a bridge in the host's namespace stands for the network; the core (`launchseq serve`, SQLite)
  listens on the bridge's address;
- each edge (`launchseq edge`, fed by the core's server stream through a relay key) runs in a
  network namespace of its own, a separate host with its own address on the bridge;
- the subscribers live in client processes in the host's namespace (raw sockets and epoll, the
  same client as bench/stream.py), spread evenly over the edges, at most 10,000 per process.

One toggle is sent to the core; each subscriber records the kernel's receipt time of its
`patch`. Latency = receipt time minus the moment the toggle request was sent: commit, core to
edge, edge to subscriber, clients' own CPU included (they share the two cores). The baseline of
the same run is one subscriber on the core itself, which receives the same toggle. Also
printed: each edge's resident memory idle and with its streams open, as MiB per 10,000
streams. Nothing fails on time: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge import environ, rss_mib, stop
from stream import percentile
from stream import setup as stream_setup

HERE = Path(__file__).resolve().parent
LAUNCHSEQ = [sys.executable, "-m", "launchsequence"]
PORT = 8080
PER_CLIENT = 10_000
TAG = f"{os.getpid() % 100000}"
NET = 150 + os.getpid() % 50  # 10.NET.0.0/24 for this run's bridge


def ip(*args: str, ns: str | None = None, check: bool = True) -> None:
    command = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    subprocess.run(command, check=check, capture_output=True, timeout=10)


@contextmanager
def network(edges: int) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A bridge with the core's address and `edges` namespaces on it: (core address,
    [(namespace, edge address)]). Everything made here is removed on the way out."""
    bridge, core_ip = f"lsb{TAG}br", f"10.{NET}.0.1"
    made: list[tuple[str, str]] = []
    ip("link", "add", "name", bridge, "type", "bridge")
    try:
        ip("addr", "add", f"{core_ip}/24", "dev", bridge)
        ip("link", "set", bridge, "up")
        for index in range(edges):
            ns, host, inner = f"lsb-{TAG}-e{index}", f"lsb{TAG}h{index}", f"lsb{TAG}n{index}"
            address = f"10.{NET}.0.{10 + index}"
            ip("netns", "add", ns)
            made.append((ns, host))
            ip("link", "set", "lo", "up", ns=ns)
            ip("link", "add", host, "type", "veth", "peer", "name", inner)
            ip("link", "set", inner, "netns", ns)
            ip("link", "set", host, "master", bridge)
            ip("link", "set", host, "up")
            ip("addr", "add", f"{address}/24", "dev", inner, ns=ns)
            ip("link", "set", inner, "up", ns=ns)
        yield core_ip, [(ns, f"10.{NET}.0.{10 + i}") for i, (ns, _) in enumerate(made)]
    finally:
        for ns, host in made:
            ip("link", "del", host, check=False)
            ip("netns", "del", ns, check=False)
        ip("link", "del", bridge, check=False)


def wait_ready(url: str, process: subprocess.Popen[bytes], what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} was not ready within {limit:.0f} s")


def setup(core_url: str) -> tuple[httpx.Client, str, str, str]:
    """bench/stream.py's account and flag `fan-out` on the core, and a relay key for the edges:
    (client, project path, server key, relay key)."""
    client, project, key = stream_setup(core_url)
    relay = client.post(f"{project}/relay-keys", json={"name": "bench"}).json()["key"]
    return client, project, key, relay


def clients(host: str, key: str, count: int, timeout: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "stream.py"),
            "--client",
            "--host",
            host,
            "--port",
            str(PORT),
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


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", type=int, default=4)
    parser.add_argument("--streams", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise SystemExit("needs root and iproute2 (ip netns, veth, bridge)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    per_edge = split(args.streams, args.edges)
    if max(per_edge) > hard - 1_000:
        raise SystemExit(f"{max(per_edge):,} streams per edge is past the open-file limit {hard:,}")
    print("Launch Sequence: a core and edges as separate hosts (network namespaces)")
    print(f"  Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print(f"  {args.edges} edges, {args.streams:,} streams; target: p99 under 1 s")
    with tempfile.TemporaryDirectory() as tmp, network(args.edges) as (core_ip, hosts):
        core_url = f"http://{core_ip}:{PORT}"
        core = subprocess.Popen(
            # One process, as the edges' figures were measured against.
            [*LAUNCHSEQ, "serve", "--host", core_ip, "--port", str(PORT), "--workers", "1"],
            env=environ(f"{tmp}/core"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        edges: list[subprocess.Popen[bytes]] = []
        readers: list[subprocess.Popen[str]] = []
        try:
            wait_ready(core_url, core, "the core")
            client, project, key, relay = setup(core_url)
            for index, (ns, address) in enumerate(hosts):
                env = environ(
                    f"{tmp}/edge{index}",
                    LAUNCHSEQ_RELAY_KEY=relay,
                    LAUNCHSEQ_MAX_STREAMS_PER_KEY=str(hard),
                )
                edges.append(
                    subprocess.Popen(
                        [
                            *("ip", "netns", "exec", ns),
                            *LAUNCHSEQ,
                            *("edge", "--upstream", core_url, "--host", address),
                            *("--port", str(PORT)),
                        ],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.STDOUT,
                    )
                )
            for edge, (_, address) in zip(edges, hosts, strict=True):
                wait_ready(f"http://{address}:{PORT}", edge, f"the edge at {address}")
            # `ip netns exec` execs the edge, so the process id is the edge's own.
            idle = [rss_mib(edge.pid) for edge in edges]

            started = time.monotonic()
            readers.append(clients(core_ip, key, 1, args.timeout))  # the baseline subscriber
            for (_, address), count in zip(hosts, per_edge, strict=True):
                for share in split(count, -(-count // PER_CLIENT)):
                    readers.append(clients(address, key, share, args.timeout))
            ready = 0
            for reader in readers:
                assert reader.stdout is not None
                ready += json.loads(reader.stdout.readline())["ready"]
            opened = time.monotonic() - started
            time.sleep(2.0)  # let the processes settle after the connection burst
            loaded = [rss_mib(edge.pid) for edge in edges]

            sent = time.time()
            toggled = client.patch(
                f"{project}/flags/fan-out/environments/production", json={"on": True}
            )
            toggled.raise_for_status()
            answered = (time.time() - sent) * 1000
            results: list[list[float]] = []
            for reader in readers:
                assert reader.stdout is not None
                results.append(json.loads(reader.stdout.readline())["times"])
                reader.wait(timeout=60)
            baseline = [(t - sent) * 1000 for t in results[0]]
            latencies = [(t - sent) * 1000 for times in results[1:] for t in times]

            print(f"\n  streams open: {ready - 1:,} of {args.streams:,} (+1 baseline on the core),")
            print(f"  opened in {opened:.1f} s; patches received: {len(latencies):,}")
            if latencies:
                print(
                    f"  toggle sent -> patch received over the edges: p50 "
                    f"{statistics.median(latencies):7.1f} ms   p99 "
                    f"{percentile(latencies, 0.99):7.1f} ms   max {max(latencies):7.1f} ms"
                )
            if baseline:
                print(f"  baseline, one subscriber on the core: {baseline[0]:7.1f} ms")
            print(f"  the toggle's own answer took {answered:.1f} ms")
            for index, (before, after) in enumerate(zip(idle, loaded, strict=True)):
                per = (after - before) / per_edge[index] * 10_000
                print(
                    f"  edge {index}: RSS {before:5.1f} MiB idle, {after:6.1f} MiB with "
                    f"{per_edge[index]:,} streams ({per:5.1f} MiB per 10,000 streams)"
                )
            print(f"  core RSS: {rss_mib(core.pid):5.1f} MiB")
        finally:
            for reader in readers:
                if reader.poll() is None:
                    reader.kill()
                    reader.wait(timeout=10)
            for edge in edges:
                stop(edge)
            stop(core)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


if __name__ == "__main__":
    main()
