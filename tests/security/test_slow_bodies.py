"""Slow request bodies: a client that trickles its body (to hold a connection and a worker) is
answered 408 `request_timeout` once `body_timeout_seconds` pass, on the admin API and on the
SDK endpoints; a body that arrives in time, and a long-lived stream, are not affected."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.faults.support import ServerProcess
from tests.http.test_delivery import setup_env
from tests.support.api import signup
from tests.support.live import LiveServer

TIMEOUT = 1  # body_timeout_seconds for these tests

Server = LiveServer | ServerProcess


@pytest.fixture(params=["app", "serve"])
def server(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Server]:
    """The application under plain uvicorn, where its BodyLimit middleware times bodies, and
    `launchseq serve`, whose HTTP protocol times them (and the middleware stands aside)."""
    if request.param == "app":
        live = LiveServer(create_app(make_settings(body_timeout_seconds=TIMEOUT))).start()
        yield live
        live.stop()
    else:
        process = ServerProcess(tmp_path, LAUNCHSEQ_BODY_TIMEOUT_SECONDS=str(TIMEOUT)).start()
        yield process
        process.kill()


def read_until_closed(
    sock: socket.socket, limit_seconds: float = 15.0, until: bytes = b""
) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (then True), `until` arrives, or
    `limit_seconds` pass."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline and not (until and until in data):
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def read_answer(sock: socket.socket, limit_seconds: float = 15.0, until: bytes = b"") -> bytes:
    return read_until_closed(sock, limit_seconds, until)[0]


def trickle(server: Server, path: str, headers: dict[str, str]) -> tuple[bytes, bool]:
    """POST `path` announcing 200 bytes and sending one every 0.2 s: (the answer, whether the
    server closed the connection after it)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Content-Length: 200"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"a":"')
        answer = b""
        for _ in range(100):  # 20 s at most: far past the timeout
            try:
                sock.sendall(b"x")
            except OSError:  # the server closed the connection: read what it said
                break
            sock.settimeout(0.2)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            answer += chunk
            if not chunk or b"\r\n\r\n" in answer:
                break
        rest, closed = read_until_closed(sock, 3)  # less than the keep-alive timeout (5 s)
    return answer + rest, closed


def status_and_body(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def test_a_trickled_api_body_is_refused_with_408(server: Server) -> None:
    answer, closed = trickle(server, "/api/v1/auth/login", {"Content-Type": "application/json"})
    assert answer, "the server never answered"
    status, body = status_and_body(answer)
    assert status == 408, answer
    assert body["error"] == {  # type: ignore[comparison-overlap]
        "code": "request_timeout",
        "message": "the request body arrived too slowly",
    }
    assert closed, "the server must close the connection instead of waiting for the rest"


def test_a_trickled_sdk_body_is_refused_with_408(server: Server) -> None:
    env = setup_env(server.url, "slow-sdk@example.com")
    answer, _ = trickle(
        server,
        "/sdk/v1/evaluate",
        {"Content-Type": "application/json", "Authorization": f"Bearer {env.server_key}"},
    )
    status, body = status_and_body(answer)
    assert status == 408, answer
    assert body["error"]["code"] == "request_timeout"  # type: ignore[index]


def test_a_body_sent_in_pieces_within_the_time_is_served(server: Server) -> None:
    payload = json.dumps({"email": "nobody@example.com", "password": "wrong password"}).encode()
    head = (
        f"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + payload[:10])
        time.sleep(TIMEOUT / 4)
        sock.sendall(payload[10:])
        status, body = status_and_body(read_answer(sock))
    assert status == 401 and body["error"]["code"] == "invalid_credentials"  # type: ignore[index]


def test_a_long_lived_dashboard_stream_outlives_the_body_timeout(server: Server) -> None:
    user = signup(server.url, "stream@example.com")
    try:
        cookie = "; ".join(f"{k}={v}" for k, v in user.http.cookies.items())
        request = (
            f"GET /ui/events?org={user.org}&project=default HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(request)
            first = read_answer(sock, 5, until=b"event: hello")
            assert b" 200 " in first.split(b"\r\n", 1)[0] and b"event: hello" in first, first
            time.sleep(TIMEOUT * 2.5)
            sock.settimeout(0.5)
            try:
                closed = sock.recv(65536) == b""
            except TimeoutError:
                closed = False
            assert not closed, "the stream was closed by the body timeout"
    finally:
        user.close()


def test_connections_stay_alive_for_requests_answered_in_time(server: Server) -> None:
    """The timeout closes only the connection it fired on: a client's kept-alive connection
    serves request after request, with and without bodies."""
    login = json.dumps({"email": "nobody@example.com", "password": "wrong password"}).encode()
    requests = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (len(login), login),
    ] * 2
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for request in requests:
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b"}"):
                chunk = sock.recv(65536)
                assert chunk, "the server closed a kept-alive connection"
                answer += chunk
            assert b"connection: close" not in answer.lower(), answer
