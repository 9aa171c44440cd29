"""The Python SDK's usage summaries: evaluated locally, reported to POST /sdk/v1/usage at
close (and on its timer), and shown by the usage API exactly once; the SDK names its
application to the server. The JavaScript SDK evaluates on the server (client and server
mode alike), so its evaluations are counted there: once, as the test shows."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from launchsequence_sdk import AsyncClient, Client
from launchsequence_sdk.usage import UsageSummary

from tests.http.test_delivery import BOOL, make_flag, setup_env
from tests.http.test_usage import counts, flush, server  # noqa: F401 - the fixture

N = 250
REPO = Path(__file__).resolve().parents[2]


def test_python_sdk_reports_its_local_evaluations_once(server):  # noqa: F811
    e = setup_env(server.url, "sdk-usage@example.com")
    make_flag(e, "beta", BOOL)
    make_flag(e, "dark", {**BOOL, "on": False})
    client = Client(e.server_key, base_url=e.url, application="billing-worker")
    try:
        assert client.wait_until_ready(10)
        for i in range(N):
            assert client.bool_value("beta", {"key": f"u{i}"}, False) is True
        for _ in range(3):
            client.bool_details("dark", {"key": "u"}, True)
        client.bool_value("beta", "not a context", False)  # type: ignore[arg-type]
        client.bool_value("missing", {"key": "u"}, False)  # not a flag: not counted
        apps = e.user.get(f"{e.base}/environments/production/applications").json()
        # The stream is open: its application and SDK are known before any report.
        assert apps["open_streams"] == 1
    finally:
        client.close()  # reports what was counted
    flush(server)
    beta = counts(e, "beta")
    assert beta[0] == N
    assert beta[None] == 1  # the invalid context: an answer without a variation
    assert counts(e, "dark") == {1: 3}
    flush(server)  # nothing is counted twice
    assert counts(e, "beta")[0] == N
    apps = e.user.get(f"{e.base}/environments/production/applications").json()["applications"]
    assert {(a["application"], a["sdk"], a["sdk_version"]) for a in apps} == {
        ("billing-worker", "python", "0.1.0")
    }


def test_async_client_reports_too(server):  # noqa: F811
    e = setup_env(server.url, "async-usage@example.com")
    make_flag(e, "beta", BOOL)

    async def main() -> None:
        async with AsyncClient(e.server_key, base_url=e.url, application="api") as client:
            assert await client.wait_until_ready(10)
            for _ in range(N):
                client.bool_value("beta", {"key": "u"}, False)

    asyncio.run(main())
    flush(server)
    assert counts(e, "beta") == {0: N}


def test_python_sdk_threads_evaluating_at_once_are_counted_exactly(server):  # noqa: F811
    """Eight threads call bool_value on one client (the lock-free fast path, two flags, two
    variations) while reports are sent under them: the API shows every one."""
    import threading
    import time

    e = setup_env(server.url, "sdk-usage-threads@example.com")
    make_flag(e, "beta", BOOL)
    make_flag(e, "dark", {**BOOL, "on": False})
    client = Client(e.server_key, base_url=e.url, application="threads")
    per_thread = 5_000
    try:
        assert client.wait_until_ready(10)
        reporter = client._reporter
        assert reporter is not None
        go = threading.Event()

        def work(i: int) -> None:
            go.wait(10)
            for j in range(per_thread):
                if i % 2:
                    client.bool_value("beta", {"key": f"u{j}"}, False)
                else:
                    client.bool_value("dark", {"key": f"u{j}"}, True)

        workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for w in workers:
            w.start()
        go.set()
        reports = 0
        while any(w.is_alive() for w in workers) and reports < 500:
            assert reporter.report()  # reports race the evaluations
            reports += 1
            time.sleep(0.02)  # well under the rate limit
        for w in workers:
            w.join(30)
    finally:
        client.close()  # reports the rest
    flush(server)
    assert counts(e, "beta") == {0: 4 * per_thread}
    assert counts(e, "dark") == {1: 4 * per_thread}


def test_summary_counts_every_evaluation_across_drains_and_threads():
    """Eight threads evaluate while another drains: the sum of the reports is exact."""
    import threading
    import time

    from launchsequence_engine import EvaluationResult

    on = EvaluationResult("f", True, 0, "On", "STATIC")
    off = EvaluationResult("f", False, 1, "Off", "STATIC")
    summary = UsageSummary()
    reported: dict[Any, int] = {}
    per_thread = 20_000
    stop = threading.Event()

    def drain() -> None:
        while True:
            done = stop.is_set()
            time.sleep(0.005)  # a report every 5 ms: thousands of times more often than the SDK
            for entry in summary.drain()[1]:
                key = (entry["flag"], entry["variation"], entry["version"])
                reported[key] = reported.get(key, 0) + entry["count"]
            if done:
                return

    def work(result: EvaluationResult) -> None:
        for _ in range(per_thread):
            summary.count(result, 3)

    drainer = threading.Thread(target=drain)
    drainer.start()
    workers = [threading.Thread(target=work, args=((on, off)[i % 2],)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    stop.set()
    drainer.join(30)
    assert reported == {("f", 0, 3): 4 * per_thread, ("f", 1, 3): 4 * per_thread}


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node 18+")
def test_js_sdk_evaluations_are_counted_once_by_the_server(server):  # noqa: F811
    e = setup_env(server.url, "js-usage@example.com")
    make_flag(e, "beta", BOOL, client_side=True)
    script = f"""
    import {{ createServerClient }} from '{REPO / "sdks/js/src/index.js"}';
    const c = createServerClient({{ serverKey: '{e.server_key}', baseUrl: '{e.url}' }});
    for (let i = 0; i < 5; i++) {{
      if (await c.evaluate('beta', {{ key: 'u' + i }}, false) !== true) process.exit(3);
    }}
    c.close();
    """
    done = subprocess.run(["node", "--input-type=module", "-e", script], timeout=60,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    flush(server)
    assert counts(e, "beta") == {0: 5}
    apps = e.user.get(f"{e.base}/environments/production/applications").json()["applications"]
    assert [(a["sdk"], a["sdk_version"]) for a in apps] == [("js", "0.1.0")]
