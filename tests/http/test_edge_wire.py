"""The edge's upstream client (`edge/wire.py`) against real servers on loopback: the bytes an
upstream may send (chunks split anywhere, the three line ends of Server-Sent Events, bodies
framed three ways, answers cut short or malformed, silence), TLS with a real certificate
authority (trustme), and a real HTTP proxy (proxy.py, in its own process) forwarding plain
HTTP and tunnelling TLS, with and without credentials, and `NO_PROXY`.

Each test runs its servers and the client on one event loop; each server answers every
connection with the bytes the test scripts, and records the request it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from launchsequence.edge.wire import UpstreamConfigError, UpstreamError, UpstreamHTTP
from tests.support.procs import end

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test names the proxies it wants; none come from the machine."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class Scripted:
    """A real TCP server (optionally TLS) answering each connection with `answer`'s chunks,
    a pause of `pause` seconds between them; `requests` holds each request's head and body."""

    def __init__(self, chunks: list[bytes], *, pause: float = 0.0, tls: Any = None) -> None:
        self.chunks = chunks
        self.pause = pause
        self.tls = tls
        self.requests: list[bytes] = []
        self.port = 0
        self.open: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            self.requests.append(head + body)
            for chunk in self.chunks:
                writer.write(chunk)
                await writer.drain()
                if self.pause:
                    await asyncio.sleep(self.pause)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.open.discard(writer)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Scripted]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for writer in list(self.open):  # connections the client or a proxy left open
                writer.close()


def sse(*events: bytes) -> bytes:
    return b"".join(events)


CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def lines_of(client: UpstreamHTTP, *, read_timeout: float = 5.0) -> tuple[int, list[str]]:
    async with client.stream("/s", {"x-t": "1"}, connect_timeout=5, read_timeout=read_timeout) as r:
        return r.status, [line async for line in r.lines()]


def test_stream_lines_split_anywhere_with_each_line_end() -> None:
    """A chunked stream whose chunks cut lines, and "\\r\\n" itself, in two; "\\n", "\\r\\n"
    and a lone "\\r" each end a line, as Server-Sent Events allow."""
    body = b'event: env\r\ndata: {"a": 1}\r\n\r\n:comment\rid: 7\ndata: x\n\n'
    pieces = [body[:3], body[3:11], body[11:12], body[12:30], body[30:]]
    server = Scripted([CHUNKED_HEAD, *(chunk(p) for p in pieces), b"0\r\n\r\n"], pause=0.01)

    async def main() -> None:
        async with server.running():
            status, lines = await lines_of(UpstreamHTTP(f"http://127.0.0.1:{server.port}"))
        assert status == 200
        assert lines == ["event: env", 'data: {"a": 1}', "", ":comment", "id: 7", "data: x", ""]
        request = server.requests[0]
        assert request.startswith(b"GET /s HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in request
        assert b"x-t: 1\r\n" in request

    asyncio.run(main())


def test_a_long_line_in_many_chunks_arrives_whole() -> None:
    """An environment's snapshot is one `data:` line of megabytes, in many chunks."""
    line = b"data: " + b"x" * 2_000_000
    pieces = [line[i : i + 7000] for i in range(0, len(line), 7000)] + [b"\n\n"]
    server = Scripted([CHUNKED_HEAD, *(chunk(p) for p in pieces), b"0\r\n\r\n"])

    async def main() -> None:
        async with server.running():
            status, lines = await lines_of(UpstreamHTTP(f"http://127.0.0.1:{server.port}"))
        assert status == 200 and lines == [line.decode(), ""]

    asyncio.run(main())


def test_the_path_of_the_upstream_url_prefixes_each_request() -> None:
    server = Scripted([b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"])

    async def main() -> None:
        async with server.running():
            client = UpstreamHTTP(f"http://127.0.0.1:{server.port}/flags/")
            await client.post("/relay/v1/usage", b"{}", {}, timeout=5)
        assert server.requests[0].startswith(b"POST /flags/relay/v1/usage HTTP/1.1\r\n")

    asyncio.run(main())


@pytest.mark.parametrize(
    "answer",
    [
        [b"HTTP/1.1 202 Accepted\r\ncontent-length: 15\r\n\r\n", b'{"accepted"', b": 3}"],
        [
            b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n",
            chunk(b'{"accepted": 3}'),
            b"0\r\n\r\n",
        ],
        [b"HTTP/1.1 202 Accepted\r\n\r\n", b'{"accepted": 3}'],  # to the end of the connection
    ],
    ids=["content-length", "chunked", "until-close"],
)
def test_a_post_reads_the_whole_answer_however_it_is_framed(answer: list[bytes]) -> None:
    server = Scripted(answer, pause=0.01)

    async def main() -> None:
        async with server.running():
            client = UpstreamHTTP(f"http://127.0.0.1:{server.port}")
            response = await client.post(
                "/u", b'{"n": 1}', {"content-type": "application/json"}, timeout=5
            )
        assert response.status == 202
        assert response.body.strip() == b'{"accepted": 3}'
        assert server.requests[0].endswith(
            b'\r\nContent-Length: 8\r\ncontent-type: application/json\r\n\r\n{"n": 1}'
        )

    asyncio.run(main())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            [b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", b"short"],
            "closed the connection mid-answer",
        ),
        ([CHUNKED_HEAD, chunk(b"data: 1\n")], "closed the connection mid-answer"),
        ([b"SSH-2.0-OpenSSH_9.2\r\n"], "not HTTP/1.1"),
        ([], "closed the connection before answering"),
        ([CHUNKED_HEAD, chunk(b'data: {"v": "\xff"}\n\n')], "not UTF-8"),
        (
            [b"HTTP/1.1 200 OK\r\n" + b"x-pad: " + b"p" * 70_000 + b"\r\n\r\n"],
            "headers are too large",
        ),
    ],
    ids=["short-body", "unfinished-chunks", "not-http", "no-answer", "not-utf8", "huge-headers"],
)
def test_a_broken_answer_is_an_error_that_says_what_broke(
    answer: list[bytes], message: str
) -> None:
    server = Scripted(answer)

    async def main() -> None:
        async with server.running():
            with pytest.raises(UpstreamError, match=message):
                await lines_of(UpstreamHTTP(f"http://127.0.0.1:{server.port}"))

    asyncio.run(main())


def test_a_silent_stream_times_out_after_its_read_timeout() -> None:
    """Headers, one event, then nothing: the read gives up after the read timeout (the relay
    stream's heartbeats come more often), not at once and not never."""
    server = Scripted([CHUNKED_HEAD, chunk(b"data: 1\n\n")], pause=30)

    async def main() -> None:
        async with server.running():
            started = time.monotonic()
            with pytest.raises(UpstreamError, match=r"sent nothing for 0\.5 s"):
                await lines_of(UpstreamHTTP(f"http://127.0.0.1:{server.port}"), read_timeout=0.5)
            assert 0.4 < time.monotonic() - started < 10

    asyncio.run(main())


def test_a_refused_connection_is_an_upstream_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused

        async def main() -> None:
            with pytest.raises(UpstreamError, match=f"cannot connect to 127.0.0.1:{port}"):
                await lines_of(UpstreamHTTP(f"http://127.0.0.1:{port}"))

        asyncio.run(main())


@pytest.mark.parametrize(
    "url",
    [
        "ftp://core.example.com",
        "core.example.com:8080",
        "http://",
        "http://h:99999",
        "http://h/?a=1",
    ],
)
def test_an_unusable_upstream_url_is_refused_at_once(url: str) -> None:
    with pytest.raises(UpstreamConfigError, match="upstream"):
        UpstreamHTTP(url)


def test_an_https_proxy_url_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example.com:3128")
    with pytest.raises(UpstreamConfigError, match="must be an http:// URL"):
        UpstreamHTTP("https://core.example.com")


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def tls_server(ca: trustme.CA, answer: list[bytes]) -> Scripted:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return Scripted(answer, tls=context)


OK_STREAM = [CHUNKED_HEAD, chunk(b"data: secure\n\n"), b"0\r\n\r\n"]


def test_tls_is_verified_against_ssl_cert_file(
    ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream's certificate, from a CA the system does not know, is trusted once
    SSL_CERT_FILE names that CA, and refused before."""
    server = tls_server(ca, OK_STREAM)

    async def main() -> None:
        async with server.running():
            url = f"https://localhost:{server.port}"
            with pytest.raises(UpstreamError, match="CERTIFICATE_VERIFY_FAILED"):
                await lines_of(UpstreamHTTP(url))
            assert server.requests == []
            monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
            assert await lines_of(UpstreamHTTP(url)) == (200, ["data: secure", ""])

    asyncio.run(main())


def test_tls_checks_the_host_name(
    ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    server = tls_server(ca, OK_STREAM)  # a certificate for "localhost" only

    async def main() -> None:
        async with server.running():
            with pytest.raises(UpstreamError, match=r"match|mismatch"):
                await lines_of(UpstreamHTTP(f"https://127.0.0.1:{server.port}"))

    asyncio.run(main())


def test_the_ca_store_loads_once_for_https_and_never_for_http(
    ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CA store costs 3 MB (a tenth of an edge's memory): an https upstream loads it at its
    first connection and keeps it for the next; a plain-http one never loads it. The two `ssl`
    methods that load a store are wrapped to count their calls, and still run."""
    loads: list[str] = []
    for name in ("load_verify_locations", "set_default_verify_paths", "load_default_certs"):
        method = getattr(ssl.SSLContext, name)

        def counted(self: ssl.SSLContext, *args: Any, _m: Any = method, _n: str = name) -> Any:
            loads.append(_n)
            return _m(self, *args)

        monkeypatch.setattr(ssl.SSLContext, name, counted)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    secure = tls_server(ca, OK_STREAM)
    plain = Scripted(OK_STREAM)

    async def main() -> None:
        async with secure.running(), plain.running():
            https = UpstreamHTTP(f"https://localhost:{secure.port}")
            http = UpstreamHTTP(f"http://127.0.0.1:{plain.port}")
            assert loads == []  # nothing at construction
            for _ in range(3):
                await lines_of(https)
                await lines_of(http)
        assert loads.count("load_default_certs") == 1

    asyncio.run(main())


# --- a real proxy ---------------------------------------------------------------------------


class Proxy:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def seen(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def proxy_process(tmp_path: Path, *extra: str) -> Iterator[Proxy]:
    """proxy.py (a real HTTP proxy) on a free loopback port, in its own process."""
    port_file = tmp_path / "proxy.port"
    log = tmp_path / "proxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--num-acceptors",
                "1",
                "--num-workers",
                "1",
                "--log-level",
                "INFO",
                *extra,
            ],
            stdout=out,
            stderr=out,
            env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "proxy.py did not start"
            time.sleep(0.05)
        yield Proxy(process, int(port_file.read_text()), log)
    finally:
        end(process)


def wait_for_log(proxy: Proxy, text: str) -> None:
    deadline = time.monotonic() + 5
    while text not in proxy.seen():
        assert time.monotonic() < deadline, f"{text!r} not in the proxy's log:\n{proxy.seen()}"
        time.sleep(0.05)


def test_https_goes_through_the_proxy_in_a_connect_tunnel(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY: the edge asks the proxy for a tunnel and speaks TLS to the upstream
    through it, the certificate checked end to end (the proxy sees only the tunnel)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    server = tls_server(ca, OK_STREAM)
    with proxy_process(tmp_path) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")

        async def main() -> None:
            async with server.running():
                client = UpstreamHTTP(f"https://localhost:{server.port}")
                assert await lines_of(client) == (200, ["data: secure", ""])

        asyncio.run(main())
        wait_for_log(proxy, f"CONNECT localhost:{server.port}")
    assert server.requests[0].startswith(b"GET /s HTTP/1.1\r\n")


def test_http_is_forwarded_by_the_proxy_with_its_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY with credentials in its URL: the request goes to the proxy, which forwards
    it; without the credentials the proxy's 407 is what the edge gets."""
    server = Scripted([b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}"])
    with proxy_process(tmp_path, "--basic-auth", "edge:s3cret") as proxy:

        async def main() -> None:
            async with server.running():
                url = f"http://127.0.0.1:{server.port}"
                monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
                refused = await UpstreamHTTP(url).post("/u", b"{}", {}, timeout=5)
                assert refused.status == 407 and server.requests == []
                monkeypatch.setenv("HTTP_PROXY", f"http://edge:s3cret@127.0.0.1:{proxy.port}")
                taken = await UpstreamHTTP(url).post("/u", b"{}", {}, timeout=5)
                assert taken.status == 202

        asyncio.run(main())
        wait_for_log(proxy, f"POST 127.0.0.1:{server.port}/u")
    assert len(server.requests) == 1
    assert b"Proxy-Authorization" not in server.requests[0]  # the proxy's, not passed on


def test_a_tunnel_the_proxy_refuses_is_an_error_naming_the_proxy(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with proxy_process(tmp_path, "--basic-auth", "edge:s3cret") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://edge:wrong@127.0.0.1:{proxy.port}")

        async def main() -> None:
            with pytest.raises(
                UpstreamError, match=f"127.0.0.1:{proxy.port} refused the tunnel: .*407"
            ):
                await lines_of(UpstreamHTTP("https://localhost:9"))

        asyncio.run(main())


def test_no_proxy_sends_an_upstream_past_the_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that is down: the upstream is out of reach through it, and reached directly
    once NO_PROXY names it."""
    server = Scripted(OK_STREAM)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed.getsockname()[1]}")

        async def main() -> None:
            async with server.running():
                url = f"http://127.0.0.1:{server.port}"
                with pytest.raises(UpstreamError, match="cannot connect"):
                    await lines_of(UpstreamHTTP(url))
                monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
                assert await lines_of(UpstreamHTTP(url)) == (200, ["data: secure", ""])

        asyncio.run(main())
