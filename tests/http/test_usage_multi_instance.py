"""Usage counted by two `launchseq serve` processes on one PostgreSQL database: each flushes
its own counts (at shutdown here) into the same hourly rows, and the sums are exact. A process
killed with SIGKILL loses what it counted since its last flush, and nothing else."""

from __future__ import annotations

import httpx

from tests.http.test_multi_instance import cluster

N_A, N_B = 11, 7


def evaluate(url: str, key: str, n: int) -> None:
    for _ in range(n):
        r = httpx.post(f"{url}/sdk/v1/evaluate", headers={"Authorization": f"Bearer {key}"},
                       json={"context": {"key": "u"}, "flags": ["alpha"]}, timeout=10)  # fmt: skip
        assert r.status_code == 200, r.text


def total(c, instance) -> int:
    with c.client(instance) as client:
        r = client.get(f"{c.base}/flags/alpha/usage", params={"environment": "production"})
    assert r.status_code == 200, r.text
    return int(r.json()["environments"][0]["total"])


def test_two_instances_add_their_counts_into_the_same_rows(tmp_path):
    with cluster(tmp_path, 2) as c:
        a, b = c.instances
        evaluate(a.url, c.server_key, N_A)
        evaluate(b.url, c.server_key, N_B)
        a.stop()  # SIGTERM: each writes what it counted at shutdown
        b.stop()
        a.start()
        assert total(c, a) == N_A + N_B
        evaluate(a.url, c.server_key, 3)
        a.kill()  # SIGKILL: the 3 counted since the last flush are lost
        a.start()
        assert total(c, a) == N_A + N_B
