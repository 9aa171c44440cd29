"""Request heads over `max_header_bytes` (64 KiB by default) are refused by `launchseq serve`
with 431 `headers_too_large` and the connection closed, before the server buffers them; heads
under the limit, kept-alive connections and large bodies are unaffected. A head that takes
longer than `header_timeout_seconds` to arrive (a client trickling it, or sending nothing) is
cut off; a stream, whose head came at once, lives on."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import ServerProcess
from tests.http.test_delivery import BOOL, make_flag, setup_env, stream, toggle
from tests.security.test_slow_bodies import read_until_closed

HEAD_TIMEOUT = 2  # header_timeout_seconds for this module's server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        Path(tmp_path_factory.mktemp("headers")),
        LAUNCHSEQ_HEADER_TIMEOUT_SECONDS=str(HEAD_TIMEOUT),
    ).start()
    yield process
    process.kill()


def exchange(server: ServerProcess, raw: bytes) -> tuple[bytes, bool]:
    """Send `raw`, read until the answer arrived or the server closed the connection: (what it
    sent, whether it closed). A reset while sending counts as closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        data = b""
        while not data.endswith(b"}"):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return data, True
            except TimeoutError:
                return data, False
            if not chunk:
                return data, True
            data += chunk
        sock.settimeout(1)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        except ConnectionResetError:
            closed = True
        return data, closed


def get(header_bytes: int, *, close: bool = True) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + connection
        + b"X-Padding: "
        + b"a" * header_bytes
        + b"\r\n\r\n"
    )


def test_a_head_under_the_limit_is_served(server: ServerProcess) -> None:
    answer, _ = exchange(server, get(60_000))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


@pytest.mark.parametrize("size", [70_000, 10_000_000])
def test_a_head_over_the_limit_is_refused_and_the_connection_closed(
    server: ServerProcess, size: int
) -> None:
    answer, closed = exchange(server, get(size, close=False))
    assert closed, "the connection must be closed"
    if answer:  # a 10 MB head may be cut short by a reset before the answer is read
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431 "), head
        assert json.loads(body)["error"]["code"] == "headers_too_large"
    else:
        assert size > 1_000_000, "a 70 KB head must get its 431 answer"
    # and the server is still there for everyone else
    assert exchange(server, get(10))[0].startswith(b"HTTP/1.1 200 ")


def test_the_limit_is_per_request_on_a_kept_alive_connection(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):  # 120 KB of heads in all on one connection, 40 KB each
            sock.sendall(get(40_000, close=False))
            answer = b""
            while not answer.endswith(b"}"):
                chunk = sock.recv(65536)
                assert chunk, "the server closed the kept-alive connection"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def test_a_large_body_is_not_mistaken_for_a_large_head(server: ServerProcess) -> None:
    body = json.dumps({"email": "x@example.com", "password": "p" * 200_000}).encode()
    request = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    answer, _ = exchange(server, request)
    assert not answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert answer.startswith(b"HTTP/1.1 422 "), answer[:300]  # the password is too long


def test_a_trickled_head_is_cut_off_with_408(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        cut_off = False
        for _ in range(40):  # a header byte every 0.25 s: 10 s, five times the limit
            try:
                sock.sendall(b"X")
            except OSError:  # the server closed the connection
                cut_off = True
                break
            time.sleep(0.25)
        answer, closed = read_until_closed(sock, 5)
    assert cut_off or closed, "a head trickled for five times the timeout kept its connection"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(body)["error"]["code"] == "request_timeout"


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        answer, closed = read_until_closed(sock, HEAD_TIMEOUT * 4)
    assert closed and answer == b"", answer


def test_a_stream_outlives_the_head_timeout(server: ServerProcess) -> None:
    env = setup_env(server.url, "stream-head@example.com")
    make_flag(env, "banner", BOOL)
    auth = {"Authorization": f"Bearer {env.server_key}"}
    with stream(server.url, "/sdk/v1/stream", auth) as s:
        assert s.next_data_event().event == "put"
        time.sleep(HEAD_TIMEOUT * 1.5)
        toggle(env, "banner", False)
        change = s.next_data_event(timeout=10)
        assert (change.event, change.data["key"]) == ("patch", "banner")
