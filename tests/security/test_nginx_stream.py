"""Streams through a proxy.

A stream's answer carries `Cache-Control: no-cache` and `X-Accel-Buffering: no`, is never
compressed even when gzip is accepted, and a heartbeat arrives within its interval plus one
second. Then the same through nginx (Debian's, started by the test) with the shipped
configuration, `deploy/nginx.conf`: only its upstream servers and `listen` are replaced, inside
a minimal top-level configuration that turns gzip on for every type (as operators do), so the
stream location's own `gzip off` and `proxy_buffering off` are what is tested. A flag toggled
through nginx reaches the stream, through nginx, in under a second.

Streams are read from raw sockets with explicit deadlines, so a buffered or compressed answer
shows as a timeout or as bytes that are not events.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer, free_port
from tests.support.procs import end

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "nginx.conf"
HEARTBEAT_SECONDS = 1


class Stream:
    """A raw-socket HTTP/1.1 SSE client: the head, then events and comments as they come."""

    def __init__(self, base_url: str, path: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = bytearray()  # received, not yet de-chunked
        self.text = bytearray()  # de-chunked, not yet parsed
        self.status = 0
        self.headers: dict[str, str] = {}
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in self.raw:
            self._recv(deadline)
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.raw = bytearray(rest)
        self._dechunk()

    def close(self) -> None:
        self.sock.close()

    def _recv(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("nothing arrived in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            raise TimeoutError("nothing arrived in time") from None
        if not data:
            raise EOFError("the stream was closed")
        self.raw += data
        self._dechunk()

    def _dechunk(self) -> None:
        if not self.status:
            return
        if self.headers.get("transfer-encoding") != "chunked":
            self.text += self.raw
            self.raw.clear()
            return
        while (end := self.raw.find(b"\r\n")) >= 0:
            size = int(self.raw[:end].split(b";")[0], 16)
            if len(self.raw) < end + 2 + size + 2:
                return
            self.text += self.raw[end + 2 : end + 2 + size]
            del self.raw[: end + 2 + size + 2]

    def next_block(self, timeout: float) -> str:
        """The next event or comment block, whole; TimeoutError if none arrives in time."""
        deadline = time.monotonic() + timeout
        while (end := self.text.find(b"\n\n")) < 0:
            self._recv(deadline)
        block = bytes(self.text[:end]).decode()
        del self.text[: end + 2]
        return block

    def next_event(self, timeout: float) -> tuple[str, Any]:
        """The next event (heartbeats skipped) as (name, data)."""
        deadline = time.monotonic() + timeout
        while True:
            block = self.next_block(max(deadline - time.monotonic(), 0.001))
            fields = dict(
                line.split(": ", 1) for line in block.split("\n") if not line.startswith(":")
            )
            if "event" in fields:
                return fields["event"], orjson.loads(fields["data"])


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    app = create_app(make_settings(sse_heartbeat_seconds=HEARTBEAT_SECONDS))
    server = LiveServer(app).start()
    yield server
    server.stop()


def setup_flag(user: ApiUser) -> tuple[str, str]:
    """A flag `beacon` in the default project; the server key of `production`."""
    base = f"/api/v1/orgs/{user.org}/projects/default"
    made = user.post(f"{base}/flags", json={"key": "beacon"})
    assert made.status_code == 201, made.text
    key = user.post(f"{base}/environments/production/sdk-keys", json={"kind": "server"})
    assert key.status_code == 201, key.text
    return base, str(key.json()["key"])


def check_stream_answer(stream: Stream) -> None:
    assert stream.status == 200, stream.text
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "no-cache" in stream.headers["cache-control"]
    assert "content-encoding" not in stream.headers, stream.headers
    event, _ = stream.next_event(timeout=5)
    assert event == "put"
    # A heartbeat within its interval plus one second, whatever else arrives.
    deadline = time.monotonic() + HEARTBEAT_SECONDS + 1
    while not stream.next_block(deadline - time.monotonic()).startswith(":"):
        pass


def see_toggle(user: ApiUser, base: str, stream: Stream) -> float:
    """Turns `beacon` on; the seconds until its `patch` arrived on `stream`."""
    started = time.monotonic()
    toggled = user.patch(f"{base}/flags/beacon/environments/production", json={"on": True})
    assert toggled.status_code == 200, toggled.text
    event, data = stream.next_event(timeout=1)
    elapsed = time.monotonic() - started
    assert (event, data["kind"], data["key"], data["flag"]["on"]) == (
        "patch",
        "flag",
        "beacon",
        True,
    )
    return elapsed


def test_a_stream_is_uncached_unbuffered_uncompressed_and_beats(server: LiveServer) -> None:
    user = signup(server.url, "direct@example.com")
    base, key = setup_flag(user)
    headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "gzip, br"}
    stream = Stream(server.url, "/sdk/v1/stream", headers)
    try:
        assert stream.headers["x-accel-buffering"] == "no"
        check_stream_answer(stream)
        assert see_toggle(user, base, stream) < 1
    finally:
        stream.close()
        user.close()


# --- through nginx ----------------------------------------------------------------------------


def render_config(upstream: str, port: int, prefix: Path) -> str:
    """deploy/nginx.conf with its upstream servers and `listen` replaced, in a minimal
    top-level configuration whose files all live under `prefix`."""
    shipped = SHIPPED.read_text()
    servers = re.compile(r"^(\s*)server\s+127\.0\.0\.1:\d+;\n", re.MULTILINE)
    assert len(servers.findall(shipped)) == 2, "the shipped upstream changed: update this test"
    first = True

    def one_server(match: re.Match[str]) -> str:
        nonlocal first
        replacement = f"{match.group(1)}server {upstream};\n" if first else ""
        first = False
        return replacement

    site = servers.sub(one_server, shipped)
    site, listens = re.subn(r"^(\s*)listen\s+80;", rf"\1listen 127.0.0.1:{port};", site, flags=re.M)
    assert listens == 1, "the shipped `listen` changed: update this test"
    site, logs = re.subn(r"access_log\s+\S+\s+launchsequence;",
                         f"access_log {prefix / 'access.log'} launchsequence;", site)  # fmt: skip
    assert logs == 1, "the shipped `access_log` changed: update this test"
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root (CI), workers would run as `nobody`, unable to use the private temp directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    # Compression on for everything, as a site-wide setting: streams must still not be gzipped.
    gzip on;
    gzip_min_length 1;
    gzip_types *;
{site}
}}
"""


@pytest.fixture
def nginx(server: LiveServer, tmp_path: Path) -> Iterator[str]:
    """nginx with the shipped configuration in front of `server`; its base URL."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        message = "nginx is not installed (apt-get install nginx-light)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run this test")
        pytest.skip(f"NOT TESTED: {message}")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_config(f"127.0.0.1:{server.port}", port, prefix))
    command = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = (prefix / "error.log").read_text(errors="replace")
                raise RuntimeError(f"nginx did not start: {log}")
            time.sleep(0.05)
        yield url
    finally:
        end(process)


def test_a_stream_through_nginx_sees_a_change_in_under_a_second(nginx: str) -> None:
    user = signup(nginx, "proxied@example.com")  # the admin API through nginx too
    base, key = setup_flag(user)
    # gzip is really on: the same request to a JSON answer comes back compressed.
    openapi = httpx.get(f"{nginx}/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert openapi.headers.get("content-encoding") == "gzip"
    headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "gzip"}
    stream = Stream(nginx, "/sdk/v1/stream", headers)
    try:
        check_stream_answer(stream)
        assert see_toggle(user, base, stream) < 1
    finally:
        stream.close()
        user.close()


def test_nginx_logs_no_key_or_token(nginx: str, tmp_path: Path) -> None:
    """The shipped log format keeps paths, not query strings or referrers: a browser stream's
    client key and an invitation link stay out of nginx's access log."""
    user = signup(nginx, "logged@example.com")
    try:
        env = user.get(f"/api/v1/orgs/{user.org}/projects/default/environments/production")
        client_key = next(k["key"] for k in env.json()["sdk_keys"] if k["kind"] == "client")
        context = "eyJrZXkiOiJ1In0"  # {"key":"u"}
        url = f"{nginx}/sdk/v1/client/stream?key={client_key}&context={context}"
        with httpx.stream("GET", url, timeout=10) as answer:
            assert answer.status_code == 200
        invited = f"{nginx}/signup?invitation=lsi_made-up-token"
        assert httpx.get(f"{nginx}/static/app.js", headers={"Referer": invited}).is_success
        assert httpx.get(f"{nginx}/healthz?marker=end").status_code == 200
        log_path = tmp_path / "nginx" / "access.log"
        deadline = time.monotonic() + 10
        while "/healthz" not in (log := log_path.read_text(errors="replace")):
            assert time.monotonic() < deadline, log
            time.sleep(0.05)
        assert "/sdk/v1/client/stream" in log, log
        assert client_key not in log and "lsi_" not in log and "marker" not in log, log
    finally:
        user.close()
