"""A server whose streams fill its open-file budget still answers everything else.

A real `launchseq serve` starts with a low open-file limit (soft 128, hard 256). Streams of
every kind (server SDK, browser SDK, dashboard) are opened until the server refuses one; then
health checks, /metrics and the REST call that flips a kill switch must still be answered, and
an SDK stream opened before must still receive the change.
"""

from __future__ import annotations

import base64
import contextlib
import resource
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from launchsequence.api.auth import SESSION_COOKIE
from tests.faults.support import ServerProcess
from tests.support.api import signup

SOFT, HARD = 128, 256
MOST_STREAMS = 1000  # a bound on the loop; the limit derived from HARD is far below it
IDLE = HARD  # silent connections opened besides: more than the descriptors left


class RawStream:
    """An HTTP/1.1 GET on its own socket, read as raw bytes: its head, then what follows."""

    def __init__(self, url: str, path: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.received = b""
        self.status = 0
        self.headers: dict[str, str] = {}

    def read_head(self) -> RawStream:
        while b"\r\n\r\n" not in self.received:
            self._recv()
        head, _, self.received = self.received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        return self

    def read_until(self, needle: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.received:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} did not arrive; got {self.received[-300:]!r}")
            self._recv()
        return self.received

    def _recv(self) -> None:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise AssertionError("the server did not answer within 10 s") from None
        except ConnectionError as exc:
            raise AssertionError(f"the server dropped the connection: {exc!r}") from None
        if not data:
            raise AssertionError(f"the server closed the connection; got {self.received!r}")
        self.received += data

    def close(self) -> None:
        self.sock.close()


def metric(text: str, name: str) -> float:
    """The value of one sample (`name` with its labels) in a Prometheus exposition."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rpartition(" ")[2])
    raise AssertionError(f"{name} is not in /metrics")


def b64(context: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(context)).decode().rstrip("=")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < HARD:
        pytest.skip(f"this test process may not open {HARD} files")
    process = ServerProcess(tmp_path, nofile=(SOFT, HARD)).start()
    try:
        yield process
    finally:
        process.kill()


def test_a_full_server_answers_health_checks_and_delivers_a_toggle(server):
    url = server.url
    user = signup(url, "full@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default"
    made = user.post(f"{base}/flags", json={"key": "kill-switch", "client_side": True})
    assert made.status_code == 201, made.text
    config = f"{base}/flags/kill-switch/environments/production"
    assert user.patch(config, json={"on": True}).status_code == 200
    key = user.post(f"{base}/environments/production/sdk-keys", json={"kind": "server"})
    assert key.status_code == 201, key.text
    server_auth = {"Authorization": f"Bearer {key.json()['key']}"}
    keys = user.get(f"{base}/environments/production").json()["sdk_keys"]
    client_key = next(k["key"] for k in keys if k["kind"] == "client")
    dashboard_auth = {"Cookie": f"{SESSION_COOKIE}={user.http.cookies[SESSION_COOKIE]}"}

    # The server raised its soft limit to the hard one, and derived its stream limit from it,
    # keeping a reserve of descriptors for everything else.
    exposed = httpx.get(f"{url}/metrics", timeout=10).text
    limit = int(metric(exposed, "launchseq_stream_limit"))
    assert metric(exposed, "process_max_fds") == HARD
    assert SOFT // 2 < limit < HARD

    paths = [
        ("/sdk/v1/stream", server_auth),
        (f"/sdk/v1/client/stream?key={client_key}&context={b64({'key': 'u'})}", {}),
        (f"/ui/events?org={user.org}&project=default", dashboard_auth),
    ]
    opened: list[RawStream] = []
    idle: list[socket.socket] = []
    refused: RawStream | None = None
    try:
        for n in range(MOST_STREAMS):
            path, headers = paths[n % len(paths)]
            stream = RawStream(url, path, headers).read_head()
            if stream.status != 200:
                refused = stream
                break
            opened.append(stream)
        assert refused is not None, f"{MOST_STREAMS} streams and none refused"
        # Every kind of stream counts against one budget, and the one past it is told to
        # come back later, not cut off.
        assert len(opened) == limit
        assert refused.status == 503, refused.received
        assert int(refused.headers["retry-after"]) > 0
        refused_body = refused.read_until(b"}}")
        assert orjson.loads(refused_body)["error"]["code"] == "too_many_streams"
        refused.close()

        first = opened[0]
        put = first.read_until(b"event: put")
        assert b'"on":true' in put and b'"on":false' not in put

        # Connections opened and left silent take no descriptor a health check needs: idle
        # ones are closed to make room (as a keep-alive timeout would).
        for _ in range(IDLE):
            host, port = url.removeprefix("http://").split(":")
            idle.append(socket.create_connection((host, int(port)), timeout=10))

        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        exposed = httpx.get(f"{url}/metrics", timeout=10).text
        open_now = sum(
            metric(exposed, f'launchseq_open_streams{{kind="{kind}"}}')
            for kind in ("server", "client", "dashboard")
        )
        assert open_now == limit
        assert metric(exposed, 'launchseq_stream_refused_total{limit="total"}') >= 1

        # The kill switch: flipped through the REST API, delivered on the stream opened first.
        flipped = user.patch(config, json={"on": False})
        assert flipped.status_code == 200, flipped.text
        first.read_until(b'"on":false')
        # A dashboard page opened before hears of it too.
        opened[2].read_until(b"event: version")
        # Most silent connections were closed, without an answer.
        readable, _, _ = select.select(idle, [], [], 5)
        closed = 0
        for sock in readable:
            with contextlib.suppress(ConnectionError):
                closed += sock.recv(1) == b""
        assert closed >= IDLE // 2
    finally:
        for stream in opened:
            with contextlib.suppress(OSError):
                stream.close()
        for sock in idle:
            sock.close()

    log = server.log_path.read_text(errors="replace")
    assert "near the stream limit" in log, server.log_tail()
    assert "refused a stream at the limit" in log, server.log_tail()


def test_a_configured_stream_limit_beyond_the_descriptors_is_lowered(tmp_path):
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < HARD:
        pytest.skip(f"this test process may not open {HARD} files")
    server = ServerProcess(tmp_path, nofile=(HARD, HARD), LAUNCHSEQ_MAX_STREAMS="20000").start()
    try:
        exposed = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert metric(exposed, "launchseq_stream_limit") < HARD
    finally:
        server.kill()
    assert "LAUNCHSEQ_MAX_STREAMS=20000 is more than the open-file limit" in server.log_tail()
