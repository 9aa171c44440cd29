"""`launchseq serve` believes X-Forwarded-Proto and X-Forwarded-For only from the addresses in
`trusted_proxies` (127.0.0.1 by default): behind such a proxy, `secure_cookies=auto` marks the
session cookie Secure for HTTPS requests and log-in throttling counts each real client apart;
from anyone else the headers are ignored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.support import ServerProcess

HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default: the proxy on this machine (the test client) is trusted."""
    process = ServerProcess(
        Path(tmp_path_factory.mktemp("trusting")), LAUNCHSEQ_LOGIN_FAILURES_PER_ADDRESS="3"
    ).start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def distrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Only a proxy at 192.0.2.10 is trusted: the test client is not it."""
    process = ServerProcess(
        Path(tmp_path_factory.mktemp("distrusting")),
        LAUNCHSEQ_TRUSTED_PROXIES="192.0.2.10",
        LAUNCHSEQ_LOGIN_FAILURES_PER_ADDRESS="3",
    ).start()
    yield process
    process.kill()


def _signup_cookie(server: ServerProcess, email: str, headers: dict[str, str]) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/auth/signup",
        json={"email": email, "password": "correct horse", "name": "Proxy"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    return answer.headers["set-cookie"]


def _failed_logins(server: ServerProcess, client: str, email: str, times: int) -> list[int]:
    return [
        httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"email": email, "password": "wrong password"},
            headers={"X-Forwarded-For": client},
        ).status_code
        for _ in range(times)
    ]


def test_https_through_a_trusted_proxy_gets_a_secure_cookie(trusting: ServerProcess) -> None:
    assert "secure" in _signup_cookie(trusting, "tls@example.com", HTTPS).lower()
    assert "secure" not in _signup_cookie(trusting, "plain@example.com", {}).lower()


def test_an_untrusted_peer_cannot_claim_https(distrusting: ServerProcess) -> None:
    assert "secure" not in _signup_cookie(distrusting, "claim@example.com", HTTPS).lower()


def test_a_trusted_proxy_gives_each_client_its_own_throttle(trusting: ServerProcess) -> None:
    assert _failed_logins(trusting, "203.0.113.1", "a@example.com", 4)[-1] == 429
    # Another client behind the same proxy is not locked out by the first one's failures.
    assert _failed_logins(trusting, "203.0.113.2", "b@example.com", 1) == [401]


def test_an_untrusted_peer_cannot_dodge_the_throttle(distrusting: ServerProcess) -> None:
    assert _failed_logins(distrusting, "203.0.113.1", "c@example.com", 3) == [401, 401, 401]
    # A made-up X-Forwarded-For does not make the same peer a new client.
    assert _failed_logins(distrusting, "203.0.113.2", "d@example.com", 1) == [429]
