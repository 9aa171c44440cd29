"""The edge's one upstream client (`edge/upstream.py: upstream_client`): a CA store costs 3 MB,
a tenth of an edge's memory, so it is loaded once for an https upstream, whatever proxies the
environment names (httpx mounts a transport per proxy, and with `verify=True` each would load
the bundle again), and never for a plain-http one. The two `ssl` methods that load a store are
wrapped to count their calls, and still run."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest

from launchsequence.edge.upstream import upstream_client


@pytest.fixture
def ca_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []
    for name in ("load_verify_locations", "set_default_verify_paths"):
        method = getattr(ssl.SSLContext, name)

        def counted(self: ssl.SSLContext, *args: Any, _m: Any = method, _n: str = name) -> Any:
            loads.append(_n)
            return _m(self, *args)

        monkeypatch.setattr(ssl.SSLContext, name, counted)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return loads


def test_an_https_upstream_loads_one_ca_store_with_proxies_in_the_environment(ca_loads):
    client = upstream_client("https://core.example.com")
    try:
        assert client._mounts, "the proxies of the environment are honoured"
        assert ca_loads == ["load_verify_locations"]
    finally:
        asyncio.run(client.aclose())


def test_a_plain_http_upstream_loads_no_ca_store(ca_loads):
    client = upstream_client("http://core.internal:8080")
    try:
        assert client._mounts, "the proxies of the environment are honoured"
        assert ca_loads == []
    finally:
        asyncio.run(client.aclose())
