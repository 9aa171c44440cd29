"""The edge's HTTP/1.1 client for its two requests to its upstream: the relay stream (a GET
read for as long as it lasts) and the usage posts.

An edge has a memory budget of 40 MB, and httpx (with httpcore, h11 and anyio's backend) took
3 MB of it for these two requests. This client is built from what the process has loaded
anyway: responses are parsed by httptools (the parser uvicorn serves with), connections are
asyncio streams, TLS is the `ssl` module, and proxies are read from the environment by
`urllib.request` (which prometheus_client loads).

Contract:
- `UpstreamHTTP(url)` checks the URL (http or https, a host) and the environment's proxy for it at
  construction, raising `UpstreamConfigError` (a `ValueError`) with a message an operator can
  act on.
- TLS (an https upstream) verifies the certificate and the host name against the system's CA
  store; OpenSSL reads `SSL_CERT_FILE` and `SSL_CERT_DIR` instead when they are set. The store
  is loaded once, at the first https connection, and never for a plain-http upstream.
- Proxies: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (either case) as urllib reads them, with
  `NO_PROXY` exempting hosts. A request to an http:// upstream is forwarded by the proxy
  (absolute-form request line); an https:// upstream is tunnelled with `CONNECT`, and TLS is
  spoken end to end with the upstream through the tunnel. The proxy itself is spoken to in
  plain HTTP (`http://[user:password@]host:port`); credentials in its URL are sent as
  `Proxy-Authorization: Basic`.
- Every request opens a connection of its own and closes it when done (the stream lasts
  hours; a usage post goes every few seconds): no pool, nothing shared between requests.
- Every failure (refused or timed-out connection, TLS, a proxy's refusal, a malformed or
  truncated response, a read that waits longer than its timeout) raises `UpstreamError`, an
  `OSError`, whose message says which.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import httptools

__all__ = ["Response", "StreamResponse", "UpstreamConfigError", "UpstreamError", "UpstreamHTTP"]

_READ_SIZE = 65536
#: The most a status line and headers may take: more is not an upstream of ours.
MAX_HEADER_BYTES = 64 * 1024
#: The longest line of a stream (an environment's snapshot is one `data:` line), and the
#: largest body of a usage post's answer.
MAX_LINE_BYTES = 256 * 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024


class UpstreamError(OSError):
    """The upstream (or the proxy in front of it) could not be reached or answered wrongly."""


class UpstreamConfigError(ValueError):
    """The upstream's URL or the environment's proxy for it cannot be used."""


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization header's value


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamConfigError(
            f"the upstream must be an http:// or https:// URL with a host, not {url!r}"
        )
    if parts.query or parts.fragment:
        raise UpstreamConfigError(f"the upstream URL takes no query or fragment: {url!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UpstreamConfigError(f"the upstream URL's port is not a port: {url!r}") from exc
    return _Target(scheme, parts.hostname, port, parts.path.rstrip("/"))


def _proxy_for(target: _Target) -> _Proxy | None:
    """The environment's proxy for `target`, as urllib reads it (NO_PROXY honoured)."""
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(target.scheme) or proxies.get("all")
    if not url:
        return None
    if urllib.request.proxy_bypass(target.host):  # NO_PROXY (no_proxy)
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise UpstreamConfigError(
            f"the proxy for {target.scheme}:// URLs must be an http:// URL with a host "
            f"(the edge speaks plain HTTP to its proxy), not {parts.scheme}://{parts.hostname}"
        )
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise UpstreamConfigError("the proxy URL's port is not a port") from exc
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    return _Proxy(parts.hostname, port, authorization)


@dataclass
class _Parsed:
    """What httptools' callbacks collect from one response."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    header_bytes: int = 0
    headers_done: bool = False
    complete: bool = False
    body: list[bytes] = field(default_factory=list)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Exchange:
    """One response being read from one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parsed = _Parsed()
        self.parser = httptools.HttpResponseParser(self.parsed)
        self.eof = False

    async def _feed(self, timeout: float) -> int:
        """Read once (waiting at most `timeout`) and parse it; the number of bytes read."""
        try:
            async with asyncio.timeout(timeout):
                data = await self.reader.read(_READ_SIZE)
        except TimeoutError:
            raise UpstreamError(f"the upstream sent nothing for {timeout:g} s") from None
        except (ssl.SSLError, ConnectionError) as exc:
            raise UpstreamError(f"reading from the upstream failed: {exc}") from exc
        if not data:
            self.eof = True
            return 0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise UpstreamError(f"the upstream's answer is not HTTP/1.1: {exc}") from None
        return len(data)

    async def head(self, timeout: float) -> None:
        """Read up to the end of the headers (within `timeout` in all)."""
        try:
            async with asyncio.timeout(timeout):
                read = 0
                while not self.parsed.headers_done:
                    read += await self._feed(timeout)
                    if self.eof:
                        raise UpstreamError("the upstream closed the connection before answering")
                    if self.parsed.header_bytes > MAX_HEADER_BYTES or (
                        not self.parsed.headers_done and read > MAX_HEADER_BYTES
                    ):
                        raise UpstreamError("the upstream's headers are too large")
        except TimeoutError:
            raise UpstreamError(f"no answer from the upstream within {timeout:g} s") from None
        self.parsed.status = self.parser.get_status_code()

    async def chunks(self, read_timeout: float) -> AsyncIterator[bytes]:
        """The body as it arrives; each read waits at most `read_timeout`. A body cut short
        (the connection closed before its announced end) raises `UpstreamError`."""
        while True:
            if self.parsed.body:
                chunks, self.parsed.body = self.parsed.body, []
                for chunk in chunks:
                    yield chunk
            if self.parsed.complete:
                return
            if self.eof:
                if "content-length" in self.parsed.headers or _chunked(self.parsed.headers):
                    raise UpstreamError("the upstream closed the connection mid-answer")
                return  # a body that runs to the end of the connection
            await self._feed(read_timeout)


def _chunked(headers: dict[str, str]) -> bool:
    return "chunked" in headers.get("transfer-encoding", "").lower()


@dataclass(frozen=True)
class Response:
    """A whole answer (a usage post's)."""

    status: int
    headers: dict[str, str]
    body: bytes


class StreamResponse:
    """An answer read as it arrives (the relay stream's): `status`, `headers`, and `lines()`."""

    def __init__(self, exchange: _Exchange, read_timeout: float) -> None:
        self._exchange = exchange
        self._read_timeout = read_timeout
        self.status = exchange.parsed.status
        self.headers = exchange.parsed.headers

    async def lines(self) -> AsyncIterator[str]:
        """The body's lines, without their ends (`\\r\\n`, `\\n` or `\\r`, as Server-Sent
        Events allow), decoded as UTF-8; an unfinished last line is dropped. A line that is
        not UTF-8 raises `UpstreamError`: a damaged snapshot is never served with characters
        replaced."""
        held: list[bytes] = []  # the unfinished line's pieces (a snapshot's line is long)
        size = 0
        async for chunk in self._exchange.chunks(self._read_timeout):
            if b"\n" not in chunk and b"\r" not in chunk:
                held.append(chunk)
                size += len(chunk)
                if size > MAX_LINE_BYTES:
                    raise UpstreamError("the upstream sent a line longer than 256 MiB")
                continue
            data = b"".join(held) + chunk
            # A "\r" last may be the first half of "\r\n": keep it for the next chunk.
            cut = len(data) - 1 if data.endswith(b"\r") else len(data)
            parts = data[:cut].replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            rest = parts.pop() + data[cut:]
            held, size = [rest], len(rest)
            for line in parts:
                try:
                    yield line.decode("utf-8")
                except UnicodeDecodeError:
                    raise UpstreamError("the upstream sent a line that is not UTF-8") from None


class UpstreamHTTP:
    """Requests to one upstream (`url`, its path prefix kept), through the environment's proxy."""

    def __init__(self, url: str) -> None:
        self.target = _target(url)
        self.proxy = _proxy_for(self.target)
        self._tls: ssl.SSLContext | None = None

    def tls(self) -> ssl.SSLContext:
        """The TLS context, made (and the CA store loaded) on first use."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    @contextlib.asynccontextmanager
    async def stream(
        self,
        path: str,
        headers: dict[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> AsyncIterator[StreamResponse]:
        """GET `path`, yielding the answer once its headers are in; the connection closes
        when the block ends."""
        reader, writer = await self._connect(connect_timeout)
        try:
            exchange = await self._send(
                reader, writer, "GET", path, headers, b"", timeout=connect_timeout
            )
            yield StreamResponse(exchange, read_timeout)
        finally:
            await _close(writer)

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], *, timeout: float
    ) -> Response:
        """POST `body` to `path` and read the whole answer, all within `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await self._connect(timeout)
                try:
                    exchange = await self._send(
                        reader, writer, "POST", path, headers, body, timeout=timeout
                    )
                    parts: list[bytes] = []
                    size = 0
                    async for chunk in exchange.chunks(timeout):
                        size += len(chunk)
                        if size > MAX_BODY_BYTES:
                            raise UpstreamError("the upstream's answer is too large")
                        parts.append(chunk)
                    parsed = exchange.parsed
                    return Response(parsed.status, parsed.headers, b"".join(parts))
                finally:
                    await _close(writer)
        except TimeoutError:
            raise UpstreamError(f"the upstream did not answer within {timeout:g} s") from None

    # --- the wire -------------------------------------------------------------------------

    async def _connect(self, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target, proxy = self.target, self.proxy
        host, port = (proxy.host, proxy.port) if proxy else (target.host, target.port)
        direct_tls = target.scheme == "https" and proxy is None
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=self.tls() if direct_tls else None,
                    server_hostname=target.host if direct_tls else None,
                )
                if proxy is not None and target.scheme == "https":
                    await self._tunnel(reader, writer, proxy, timeout)
                    await writer.start_tls(self.tls(), server_hostname=target.host)
        except BaseException as exc:
            if writer is not None:  # a tunnel refused, or TLS failed: nothing left open
                writer.close()
            if isinstance(exc, TimeoutError):
                raise UpstreamError(
                    f"connecting to {host}:{port} took over {timeout:g} s"
                ) from None
            if isinstance(exc, ssl.SSLError):
                raise UpstreamError(f"TLS with {target.host} failed: {exc}") from exc
            if isinstance(exc, OSError) and not isinstance(exc, UpstreamError):
                raise UpstreamError(f"cannot connect to {host}:{port}: {exc}") from exc
            raise
        return reader, writer

    async def _tunnel(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        proxy: _Proxy,
        timeout: float,
    ) -> None:
        authority = f"{self.target.host}:{self.target.port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        # The proxy's answer ends at its blank line; the tunnel starts right after it.
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise UpstreamError(f"the proxy {proxy.host}:{proxy.port} broke off") from exc
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit() or not 200 <= int(parts[1]) < 300:
            raise UpstreamError(
                f"the proxy {proxy.host}:{proxy.port} refused the tunnel: {status_line}"
            )

    async def _send(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        *,
        timeout: float,
    ) -> _Exchange:
        target = self.target
        full_path = target.base_path + path
        forwarded = self.proxy is not None and target.scheme == "http"
        request_target = f"http://{target.authority}{full_path}" if forwarded else full_path
        lines = [
            f"{method} {request_target} HTTP/1.1",
            f"Host: {target.authority}",
            "Accept-Encoding: identity",
            "Connection: close",
        ]
        if forwarded and self.proxy and self.proxy.authorization:
            lines.append(f"Proxy-Authorization: {self.proxy.authorization}")
        if method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            async with asyncio.timeout(timeout):
                await writer.drain()
        except TimeoutError:
            raise UpstreamError(f"sending to the upstream took over {timeout:g} s") from None
        except (ssl.SSLError, ConnectionError) as exc:
            raise UpstreamError(f"sending to the upstream failed: {exc}") from exc
        exchange = _Exchange(reader, writer)
        await exchange.head(timeout)
        return exchange


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
