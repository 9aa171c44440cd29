"""Usage through edge nodes, as real processes: what an edge answers (and what SDKs report to
it) reaches the core's usage API once, through a chain of edges too, and survives
the core being down (kept in memory and retried) and an edge stopped meanwhile (kept on disk
and sent by its next start).

Core and edges run with a one-second interval (`LAUNCHSEQ_USAGE_FLUSH_SECONDS=1`): the core
writes every second, the edges forward every second.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from launchsequence_sdk import Client

from tests.faults.support import EdgeProcess
from tests.faults.test_edge import FLAG, Core, edges, evaluate, wait_for  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

SECOND = {"LAUNCHSEQ_USAGE_FLUSH_SECONDS": "1"}


@pytest.fixture
def core(tmp_path: Path) -> Any:
    made = Core(tmp_path / "core", **SECOND)
    try:
        yield made
    finally:
        made.user.close()
        made.server.kill()


def counted(core: Core) -> dict[Any, int]:
    """{variation: evaluations} of the flag in production, as the core's usage API shows."""
    answer = core.user.get(f"{core.base}/flags/{FLAG}/usage", params={"environment": "production"})
    assert answer.status_code == 200, answer.text
    out: dict[Any, int] = {}
    for entry in answer.json()["environments"]:
        for bucket in entry["buckets"]:
            for v in bucket["variations"]:
                out[v["variation"]] = out.get(v["variation"], 0) + v["count"]
    return out


def total(core: Core) -> int:
    return sum(counted(core).values())


def settle(core: Core, expected: int) -> None:
    """Wait until the core shows `expected`, then check that it stays there (nothing is
    forwarded twice) over three more intervals."""
    wait_for(lambda: total(core) >= expected, f"{expected} evaluations at the core")
    time.sleep(3.5)
    assert total(core) == expected


def metric(edge: EdgeProcess, name: str) -> float:
    for line in httpx.get(f"{edge.url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on the edge's /metrics")


def evaluations(url: str, key: str, n: int, application: str = "web") -> None:
    for _ in range(n):
        answer = httpx.post(
            f"{url}/sdk/v1/evaluate",
            json={"context": {"key": "u1"}, "flags": [FLAG]},
            headers={"Authorization": f"Bearer {key}", "X-LaunchSequence-Application": application},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text


def test_evaluations_and_sdk_reports_at_an_edge_show_at_the_core_once(core, edges):  # noqa: F811
    edge = edges(core.server.url, core.relay_key, "edge-a", **SECOND)
    evaluations(edge.url, core.server_key, 23, application="checkout")
    ofrep = httpx.post(
        f"{edge.url}/ofrep/v1/evaluate/flags/{FLAG}",
        json={"context": {"targetingKey": "u1"}},
        headers={"Authorization": f"Bearer {core.client_key}"},
        timeout=5,
    )
    assert ofrep.status_code == 200, ofrep.text
    client = Client(core.server_key, base_url=edge.url, application="billing")
    try:
        assert client.wait_until_ready(10)
        for i in range(40):
            client.bool_value(FLAG, {"key": f"u{i}"}, True)
    finally:
        client.close()  # its report goes to the edge, which forwards it
    settle(core, 23 + 1 + 40)
    assert len(counted(core)) == 1  # the flag is off: one variation served, everywhere
    apps = core.user.get(f"{core.base}/environments/production/applications").json()
    names = {(a["application"], a["sdk"]) for a in apps["applications"]}
    assert {("checkout", "python-httpx"), ("billing", "python")} <= names
    assert metric(edge, "launchseq_edge_usage_forwarded") == 64


def test_a_chained_edge_forwards_through_its_upstream_edge(core, edges):  # noqa: F811
    first = edges(core.server.url, core.relay_key, "edge-a", **SECOND)
    second = edges(first.url, core.relay_key, "edge-b", **SECOND)
    evaluations(second.url, core.server_key, 17)
    evaluations(first.url, core.server_key, 5)
    settle(core, 22)


def test_counts_wait_out_the_core_in_memory_and_across_an_edge_restart(core, edges):  # noqa: F811
    edge = edges(core.server.url, core.relay_key, "edge-a", **SECOND)
    port = core.server.port
    core.server.kill()
    evaluate(edge.url, core.server_key)  # the edge answers without its core
    evaluations(edge.url, core.server_key, 9)
    wait_for(lambda: metric(edge, "launchseq_edge_usage_failed_posts") >= 2, "failed posts")
    core.server.start(port=port)
    settle(core, 10)  # retried from memory once the core was back

    core.server.kill()
    evaluations(edge.url, core.server_key, 7)
    edge.stop()  # a clean stop with the core away: the counts go to disk
    pending = edge.data_dir / "usage-pending.json"
    assert pending.exists()
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    core.server.start(port=port)
    edge.start()
    settle(core, 17)
    assert not pending.exists()


def usage_of(core: Core, flag: str) -> dict[Any, int]:
    """{variation: evaluations} of `flag` in production at the core."""
    path = f"{core.base}/flags/{flag}/usage"
    answer = core.user.get(path, params={"environment": "production"})
    assert answer.status_code == 200, answer.text
    out: dict[Any, int] = {}
    for entry in answer.json()["environments"]:
        for bucket in entry["buckets"]:
            for v in bucket["variations"]:
                out[v["variation"]] = out.get(v["variation"], 0) + v["count"]
    return out


def test_an_edge_counts_only_flags_the_key_may_see_and_archived_ones(core, edges):  # noqa: F811
    """A client key asking an edge for a server-only flag is answered FLAG_NOT_FOUND and not
    counted (as at the core); invented keys are not counted (they cannot fill the edge's
    counter); an archived flag still asked for is counted, as at the core, once the relay
    stream told the edge it is archived."""
    for key in ("secret", "retired"):
        core.ok(core.user.post(f"{core.base}/flags", json={"key": key, "name": key}), 201)
    edge = edges(core.server.url, core.relay_key, "edge-a", **SECOND)

    def production_version() -> int:
        versions = httpx.get(f"{edge.url}/healthz", timeout=5).json()["versions"]
        return int(next(v for k, v in versions.items() if k.endswith("/production")))

    before = production_version()
    core.ok(core.user.patch(f"{core.base}/flags/retired", json={"archived": True}))
    wait_for(lambda: production_version() > before, "the archive to reach the edge")
    time.sleep(2.5)  # the core's own list of archived flags follows within a flush
    for _ in range(3):
        hidden = httpx.post(
            f"{edge.url}/ofrep/v1/evaluate/flags/secret",
            json={"context": {"targetingKey": "u1"}},
            headers={"Authorization": f"Bearer {core.client_key}"},
            timeout=5,
        )
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["errorCode"] == "FLAG_NOT_FOUND"
    invented = [f"invented-{i}" for i in range(50)]
    answer = httpx.post(
        f"{edge.url}/sdk/v1/evaluate",
        json={"context": {"key": "u1"}, "flags": [*invented, "retired"]},
        headers={"Authorization": f"Bearer {core.server_key}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert {f["error_code"] for f in answer.json()["flags"].values()} == {"FLAG_NOT_FOUND"}
    evaluations(edge.url, core.server_key, 4)
    settle(core, 4)
    assert usage_of(core, "secret") == {}
    assert usage_of(core, "retired") == {None: 1}
    # The edge sent only real counts: what the core accepted is all it forwarded.
    assert metric(edge, "launchseq_edge_usage_forwarded") == 4 + 1
