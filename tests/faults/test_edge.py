"""Edge nodes, as real processes: a core (`launchseq serve`) and edges (`launchseq edge`) fed
by its relay stream, with the Python and JavaScript SDKs pointed at an edge.

What a user notices: an SDK cannot tell an edge from the core (evaluations, streams, toggles);
a key rotated or revoked at the core stops at the edge at once; an edge outlives its core
(evaluations answer and streams stay open, and a restarted edge serves its disk snapshot and
says so); a revoked relay key stops every edge that uses it, chained ones included.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from launchsequence_sdk import Client, ClientEvent

from tests.faults.support import EdgeProcess, ServerProcess, clean_env
from tests.support.api import ApiUser, signup
from tests.support.live import free_port

pytestmark = pytest.mark.slow

WAIT = 20.0  # the bound of every wait for a condition, in seconds
FLAG = "banner"
ROOT = Path(__file__).resolve().parents[2]
FAST = {"LAUNCHSEQ_SSE_HEARTBEAT_SECONDS": "1"}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Core:
    """A core with a user, a client-side boolean flag, the production keys and a relay key."""

    def __init__(self, workdir: Path, **env: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.server = ServerProcess(workdir, **{**FAST, **env}).start()
        self.user: ApiUser = signup(self.server.url, "owner@example.com")
        self.base = f"/api/v1/orgs/{self.user.org}/projects/default"
        self.ok(self.user.post(f"{self.base}/flags", json={"key": FLAG, "name": "Banner"}), 201)
        self.toggle(False, client_side=True)
        self.server_key = self.rotate("server")
        self.client_key = self.rotate("client")
        self.relay_key = self.new_relay_key("edges")["key"]

    @staticmethod
    def ok(response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def toggle(self, on: bool, **more: Any) -> None:
        path = f"{self.base}/flags/{FLAG}/environments/production"
        self.ok(self.user.patch(path, json={"on": on, **more}))

    def rotate(self, kind: str) -> str:
        path = f"{self.base}/environments/production/sdk-keys"
        answer = self.user.post(path, json={"kind": kind, "grace_seconds": 0})
        return str(self.ok(answer, 201)["key"])

    def new_relay_key(self, name: str) -> dict[str, Any]:
        return dict(self.ok(self.user.post(f"{self.base}/relay-keys", json={"name": name}), 201))


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    made = Core(tmp_path / "core")
    try:
        yield made
    finally:
        made.user.close()
        made.server.kill()


@pytest.fixture
def edges(tmp_path: Path) -> Iterator[Callable[..., EdgeProcess]]:
    started: list[EdgeProcess] = []

    def start(upstream: str, key: str, name: str, *, ready: bool = True, **env: str) -> EdgeProcess:
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        edge = EdgeProcess(tmp_path / name, upstream, key, name=name, **{**FAST, **env})
        started.append(edge)
        return edge.start(ready=ready)

    try:
        yield start
    finally:
        for edge in started:
            edge.kill()


def evaluate(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/sdk/v1/evaluate",
        json={"context": {"key": "u1"}, "flags": [FLAG]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )


def served(url: str, key: str) -> Any:
    answer = evaluate(url, key)
    assert answer.status_code == 200, answer.text
    return answer.json()["flags"][FLAG]["value"]


class Recorder:
    """A Python SDK client's events, and the values of the flag it saw."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.events: list[ClientEvent] = []
        client.on_event(self.events.append)

    def value(self) -> bool:
        return self.client.bool_value(FLAG, {"key": "u1"}, default=False)


def test_sdks_against_an_edge_evaluate_and_stream_what_the_core_serves(core, edges):
    edge = edges(core.server.url, core.relay_key, "edge-a")
    assert served(edge.url, core.server_key) is False
    ofrep = httpx.post(
        f"{edge.url}/ofrep/v1/evaluate/flags/{FLAG}",
        json={"context": {"targetingKey": "u1"}},
        headers={"Authorization": f"Bearer {core.client_key}"},
        timeout=5,
    )
    assert ofrep.status_code == 200 and ofrep.json()["value"] is False, ofrep.text

    node = shutil.which("node")
    js = None
    if node is not None:
        js = subprocess.Popen(
            [node, str(ROOT / "tests/faults/edge_js_client.mjs"), edge.url, core.client_key, FLAG],
            stdout=subprocess.PIPE,
            text=True,
        )
    with Client(core.server_key, base_url=edge.url) as client:
        sdk = Recorder(client)
        assert client.wait_until_ready(WAIT)
        assert sdk.value() is False
        if js is not None:
            assert js.stdout is not None
            assert json.loads(js.stdout.readline()) == {"ready": True, "value": False}

        core.toggle(True)  # at the core: it reaches both SDKs through the edge's streams
        wait_for(sdk.value, "the Python SDK on the edge to see the toggle")
        assert served(edge.url, core.server_key) is True
        if js is not None:
            out, _ = js.communicate(timeout=WAIT)
            assert js.returncode == 0, out
            assert json.loads(out.splitlines()[-1]) == {"change": True}
        assert not [e for e in sdk.events if e.kind in ("error", "stale")], sdk.events

    # The core's dashboard lists the edge, with the version it was sent.
    page = core.user.get(f"/o/{core.user.org}/p/default/edges")
    assert page.status_code == 200
    assert "edge-a" in page.text and "up to date" in page.text, page.text


def test_a_key_rotated_at_the_core_stops_at_the_edge_at_once(core, edges):
    edge = edges(core.server.url, core.relay_key, "edge-a")
    old = core.server_key
    assert served(edge.url, old) is False
    with httpx.stream(
        "GET", f"{edge.url}/sdk/v1/stream", headers={"Authorization": f"Bearer {old}"}, timeout=10
    ) as stream:
        assert stream.status_code == 200
        new = core.rotate("server")  # no grace: the old key is expired from now on
        rotated = time.monotonic()
        wait_for(lambda: evaluate(edge.url, old).status_code == 401, "the old key refused")
        refused_after = time.monotonic() - rotated
        # The old key's stream is closed by the edge too (as the core closes one: at once).
        with contextlib.suppress(httpx.RemoteProtocolError):
            for _ in stream.iter_raw():
                pass
    assert served(edge.url, new) is False
    assert evaluate(edge.url, old).json()["error"]["code"] == "unauthorized"
    # A bound for a loaded test machine; benchmarks measure, tests do not time.
    assert refused_after < 5, refused_after


def test_an_edge_outlives_its_core_and_restarts_from_its_disk_snapshot(core, edges):
    edge = edges(core.server.url, core.relay_key, "edge-a")
    core.toggle(True)
    wait_for(lambda: served(edge.url, core.server_key) is True, "the toggle at the edge")
    with Client(core.server_key, base_url=edge.url) as client:
        sdk = Recorder(client)
        assert client.wait_until_ready(WAIT) and sdk.value() is True
        before = len(sdk.events)
        stream_lines: list[bytes] = []
        stop = threading.Event()

        def read_stream() -> None:
            headers = {"Authorization": f"Bearer {core.server_key}"}
            # Ended by the edge's kill below: the stream breaks then, as it should.
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream(
                    "GET", f"{edge.url}/sdk/v1/stream", headers=headers, timeout=10
                ) as answer,
            ):
                for line in answer.iter_lines():
                    stream_lines.append(line.encode())
                    if stop.is_set():
                        return

        reader = threading.Thread(target=read_stream, daemon=True)
        reader.start()
        wait_for(lambda: stream_lines, "the raw stream's first event")

        core.server.kill()
        health = wait_for(
            lambda: not httpx.get(f"{edge.url}/healthz").json()["upstream"]["connected"],
            "the edge to notice",
        )
        assert health
        time.sleep(3)  # several heartbeats: open streams must stay open
        assert served(edge.url, core.server_key) is True
        assert httpx.get(f"{edge.url}/readyz").status_code == 200
        assert sdk.value() is True
        assert sdk.events[before:] == [], sdk.events[before:]  # no error, no stale, no reconnect
        heartbeats = [line for line in stream_lines if line.startswith(b":")]
        assert heartbeats, stream_lines
        assert reader.is_alive()  # the stream is still open
        stop.set()
        metrics = httpx.get(f"{edge.url}/metrics").text
        assert "launchseq_edge_upstream_connected 0.0" in metrics

    # Restart the edge with the core still down: it serves what it saved, and says so.
    edge.kill()
    snapshot = edge.data_dir / "edge-snapshot.json"
    assert stat.S_IMODE(os.stat(snapshot).st_mode) == 0o600
    edge.start()
    ready = httpx.get(f"{edge.url}/readyz").json()
    assert ready["status"] == "ok" and ready["serving_from"] == "disk", ready
    assert "launchseq_edge_serving_from_disk 1.0" in httpx.get(f"{edge.url}/metrics").text
    assert served(edge.url, core.server_key) is True

    # The core comes back on its address: the edge resumes and stops saying "disk".
    core.server.start(port=int(core.server.port))
    wait_for(
        lambda: httpx.get(f"{edge.url}/readyz").json()["serving_from"] == "upstream",
        "the edge to resume from the core",
    )
    core.toggle(False)
    wait_for(lambda: served(edge.url, core.server_key) is False, "a toggle after the resume")


def test_a_chained_edge_serves_and_a_revoked_relay_key_stops_both(core, edges):
    first = edges(core.server.url, core.relay_key, "edge-a")
    second = edges(first.url, core.relay_key, "edge-b")  # an edge fed by an edge
    assert served(second.url, core.server_key) is False
    core.toggle(True)
    wait_for(lambda: served(second.url, core.server_key) is True, "the toggle two hops away")

    key_id = core.ok(core.user.get(f"{core.base}/relay-keys"))["relay_keys"][0]["id"]
    core.ok(core.user.delete(f"{core.base}/relay-keys/{key_id}"), 204)
    for edge in (first, second):
        wait_for(
            lambda e=edge: httpx.get(f"{e.url}/readyz").status_code == 503,
            f"{edge.name} to say it stopped",
        )
        ready = httpx.get(f"{edge.url}/readyz").json()
        assert ready["reason"] == "relay_key_revoked", ready
        assert evaluate(edge.url, core.server_key).status_code == 401
        saved = edge.data_dir / "edge-snapshot.json"
        wait_for(lambda s=saved: not s.exists(), "the disk snapshot to be deleted")

    # A revoked key is refused at the core outright.
    refused = httpx.get(
        f"{core.server.url}/relay/v1/stream",
        headers={"Authorization": f"Bearer {core.relay_key}"},
        timeout=5,
    )
    assert refused.status_code == 401


def test_an_edges_access_log_shows_no_key(core, edges):
    """As at the core (tests/security/test_secrets_in_urls.py): with the access log on, a key
    in a request's URL is logged as `***` (a client key keeps its prefix)."""
    edge = edges(core.server.url, core.relay_key, "edge-log", LAUNCHSEQ_ACCESS_LOG="true",
                 LAUNCHSEQ_LOG_LEVEL="info")  # fmt: skip
    context = base64.urlsafe_b64encode(b'{"key":"u1"}').decode().rstrip("=")
    target = f"{edge.url}/sdk/v1/client/stream?context={context}&key={core.client_key}"
    with httpx.stream("GET", target, timeout=5) as opened:
        assert opened.status_code == 200
    refused = httpx.get(f"{edge.url}/sdk/v1/snapshot?key={core.server_key}", timeout=5)
    assert refused.status_code == 401
    assert httpx.get(f"{edge.url}/healthz?marker=end", timeout=5).status_code == 200

    def logged() -> str:
        text = edge.log_path.read_text(errors="replace")
        return text if "marker=end" in text else ""

    log = wait_for(logged, "the access log line of the last request")
    assert "/sdk/v1/client/stream?context=" in log, "requests are logged, targets included"
    for secret in (core.client_key, core.server_key):
        assert secret not in log, f"{secret[:8]}... is in the edge's access log"
    assert "key=ls_cli_***" in log and "key=ls_srv_***" in log


def test_an_edge_without_a_snapshot_is_not_ready(tmp_path, edges):
    """Never reached upstream, nothing on disk: not ready, and SDK calls answer 503."""
    edge = edges("http://127.0.0.1:9", "ls_rly_nothing", "edge-x", ready=False)
    ready = httpx.get(f"{edge.url}/readyz")
    assert ready.status_code == 503 and ready.json()["reason"] == "no_snapshot_yet"
    answer = evaluate(edge.url, "ls_srv_whatever")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "unavailable"


#: Runs `launchseq edge` as the command line does; on SIGUSR1 it writes what the process has
#: imported and how often a CA store was loaded into it (each load, 3 MB of certificates): the
#: one outside look at a process's imports. It wraps the two `ssl` methods that load a store,
#: calling them as before.
FOOTPRINT = """
import json, os, signal, ssl, sys
loads = []
def counted(name):
    method = getattr(ssl.SSLContext, name)
    def load(self, *args, **kwargs):
        loads.append(name)
        return method(self, *args, **kwargs)
    setattr(ssl.SSLContext, name, load)
counted("load_verify_locations")
counted("set_default_verify_paths")
def write(*_):
    path = os.environ["EDGE_FOOTPRINT"]
    with open(path + ".partial", "w") as out:
        json.dump({"modules": sorted(sys.modules), "ca_loads": loads}, out)
    os.replace(path + ".partial", path)
signal.signal(signal.SIGUSR1, write)
from launchsequence.cli import main
sys.exit(main(sys.argv[1:]))
"""
#: What only the core uses: a database, migrations, templates, the admin API's framework and
#: models, sealing secrets; and the core's own layers.
CORE_ONLY = (
    "sqlalchemy",
    "alembic",
    "jinja2",
    "psycopg",
    "fastapi",
    "pydantic",
    "cryptography",
    "launchsequence.store",
    "launchsequence.services",
    "launchsequence.api",
    "launchsequence.web",
    "launchsequence.commands",
    # The core's HTTP client (webhooks, single sign-on): the edge has its own (edge/wire.py).
    "httpx",
    "httpcore",
    "h11",
)


def test_a_serving_edge_loads_no_core_code_and_no_ca_store_for_a_plain_http_upstream(
    core, tmp_path
):
    """A real edge, connected, answering evaluations, /metrics and forwarding usage: none of
    the core's packages are in its sys.modules, and with an http:// upstream no CA store was
    loaded (the relay stream and the usage posts share one client that trusts none)."""
    footprint = tmp_path / "footprint.json"
    port = free_port()
    env = clean_env(
        tmp_path / "edge-data",
        LAUNCHSEQ_RELAY_KEY=core.relay_key,
        LAUNCHSEQ_USAGE_FLUSH_SECONDS="1",
        EDGE_FOOTPRINT=str(footprint),
        **FAST,
    )
    args = ["edge", "--upstream", core.server.url, "--port", str(port)]
    log = (tmp_path / "edge.log").open("wb")
    edge = subprocess.Popen(
        [sys.executable, "-c", FOOTPRINT, *args], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert edge.poll() is None, (tmp_path / "edge.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            return False

        wait_for(ready, "the edge to be ready")
        assert served(url, core.server_key) is False
        wait_for(
            lambda: "launchseq_edge_usage_forwarded 1.0" in httpx.get(f"{url}/metrics").text,
            "the edge to forward its one evaluation",
        )
        edge.send_signal(signal.SIGUSR1)
        wait_for(footprint.exists, "the edge to write what it imported")
    finally:
        edge.terminate()
        edge.wait(timeout=WAIT)
        log.close()
    seen = json.loads(footprint.read_text())
    loaded = [m for m in seen["modules"] if any(m == c or m.startswith(c + ".") for c in CORE_ONLY)]
    assert loaded == [], f"the edge imports {loaded}"
    assert "launchsequence.edge.app" in seen["modules"]  # the dump is the edge's own
    assert seen["ca_loads"] == [], "a CA store was loaded for a plain-http upstream"
