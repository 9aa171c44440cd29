"""A network partition between an edge and its core, made with `ip netns` and veth pairs.

The edge runs in a network namespace of its own with two links: one to the core (the core
listens on the host end) and one to the test's clients. Taking the core's link down drops
packets silently, as a real partition does (no reset, no FIN): the edge must notice by the
silence of its upstream (no heartbeat within its read timeout), keep serving and keep its
SDK streams open, then reconnect once the link is back and catch up with `Last-Event-ID` on
what changed at the core meanwhile.

Needs root and iproute2 (`ip`); the addresses are those of the links this test makes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from launchsequence_sdk import Client

from tests.faults.support import LAUNCHSEQ, SECRET, clean_env
from tests.faults.test_edge import FLAG, Recorder, wait_for
from tests.support.api import signup

pytestmark = pytest.mark.slow

NET = 200 + os.getpid() % 50  # a /24 of 10.x for the two /30 links of this run
CORE_IP, EDGE_UP_IP = f"10.{NET}.77.1", f"10.{NET}.77.2"
CLIENT_IP, EDGE_IP = f"10.{NET}.78.1", f"10.{NET}.78.2"
NS = f"lsq-edge-{os.getpid()}"
UP_HOST, UP_EDGE = f"lsqu{os.getpid() % 100000}h", f"lsqu{os.getpid() % 100000}e"
CL_HOST, CL_EDGE = f"lsqc{os.getpid() % 100000}h", f"lsqc{os.getpid() % 100000}e"
PORT = 8080


def ip(*args: str, ns: str | None = None) -> None:
    command = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespace() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    ip("netns", "add", NS)
    try:
        ip("link", "set", "lo", "up", ns=NS)
        for host, edge, host_ip, edge_ip in (
            (UP_HOST, UP_EDGE, CORE_IP, EDGE_UP_IP),
            (CL_HOST, CL_EDGE, CLIENT_IP, EDGE_IP),
        ):
            ip("link", "add", host, "type", "veth", "peer", "name", edge)
            ip("link", "set", edge, "netns", NS)
            ip("addr", "add", f"{host_ip}/30", "dev", host)
            ip("link", "set", host, "up")
            ip("addr", "add", f"{edge_ip}/30", "dev", edge, ns=NS)
            ip("link", "set", edge, "up", ns=NS)
        yield NS
    finally:
        for host in (UP_HOST, CL_HOST):
            subprocess.run(["ip", "link", "del", host], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, timeout=10)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_an_edge_rides_out_a_partition_and_catches_up(namespace, tmp_path):
    fast = {"LAUNCHSEQ_SSE_HEARTBEAT_SECONDS": "1"}
    core_url, edge_url = f"http://{CORE_IP}:{PORT}", f"http://{EDGE_IP}:{PORT}"
    core = start(
        [*LAUNCHSEQ, "serve", "--host", CORE_IP, "--port", str(PORT)],
        clean_env(tmp_path / "core", LAUNCHSEQ_SECRET_KEY=SECRET, **fast),
        tmp_path / "core.log",
    )
    edge = None
    try:
        wait_for(lambda: _answers(f"{core_url}/readyz"), "the core to start", 60)
        owner = signup(core_url, "owner@example.com")
        base = f"/api/v1/orgs/{owner.org}/projects/default"
        assert owner.post(f"{base}/flags", json={"key": FLAG, "name": "B"}).status_code == 201
        server_key = owner.post(
            f"{base}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
        ).json()["key"]
        relay = owner.post(f"{base}/relay-keys", json={"name": "part"}).json()["key"]
        env = clean_env(tmp_path / "edge", LAUNCHSEQ_RELAY_KEY=relay, **fast)
        edge = start(
            [
                "ip",
                "netns",
                "exec",
                namespace,
                *LAUNCHSEQ,
                "edge",
                "--upstream",
                core_url,
                "--host",
                EDGE_IP,
                "--port",
                str(PORT),
            ],
            env,
            tmp_path / "edge.log",
        )
        wait_for(lambda: _answers(f"{edge_url}/readyz"), "the edge to be ready", 60)

        with Client(server_key, base_url=edge_url) as client:
            sdk = Recorder(client)
            assert client.wait_until_ready(20) and sdk.value() is False
            before = len(sdk.events)

            ip("link", "set", UP_HOST, "down")  # the partition: packets vanish
            wait_for(
                lambda: not httpx.get(f"{edge_url}/healthz").json()["upstream"]["connected"],
                "the edge to notice the silence",
                30,
            )
            toggled = owner.patch(f"{base}/flags/{FLAG}/environments/production", json={"on": True})
            assert toggled.status_code == 200  # at the core, while the edge cannot hear
            time.sleep(2)
            assert sdk.value() is False  # the edge serves what it had
            assert httpx.get(f"{edge_url}/readyz").status_code == 200

            ip("link", "set", UP_HOST, "up")  # healed: the edge reconnects and resumes
            wait_for(sdk.value, "the change made during the partition to reach the SDK", 60)
            health = httpx.get(f"{edge_url}/healthz").json()
            assert health["upstream"]["connected"] and health["serving_from"] == "upstream"
            kinds = [e.kind for e in sdk.events[before:]]
            assert "error" not in kinds and "stale" not in kinds, kinds
    finally:
        if edge is not None:
            stop(edge)
        stop(core)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
