"""Security headers on every kind of answer: pages, API, SDK endpoints, errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.faults.support import ServerProcess
from tests.http.test_delivery import make_flag, setup_env


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/me"),
        ("GET", "/no/such/page"),
        ("POST", "/sdk/v1/evaluate"),
        ("GET", "/sdk/v1/snapshot"),
        ("POST", "/ofrep/v1/evaluate/flags"),
        ("POST", "/relay/v1/usage"),
    ],
)
def test_every_answer_carries_the_security_headers(live, method, path):
    answer = httpx.request(method, f"{live.url}{path}", json={} if method == "POST" else None)
    headers = answer.headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    script_src = next(p for p in csp.split(";") if p.strip().startswith(("script-src", "default")))
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, script_src
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """`launchseq serve` (its own HTTP protocol: SDK requests take the SDK gate's short path),
    with a server key."""
    process = ServerProcess(tmp_path_factory.mktemp("headers")).start()
    env = setup_env(process.url, "headers@example.com")
    make_flag(env, "shown")
    yield process, env.server_key
    process.kill()


def _sdk_answers(url: str, key: str) -> Iterator[tuple[str, httpx.Response]]:
    auth = {"Authorization": f"Bearer {key}"}
    evaluate = f"{url}/sdk/v1/evaluate"
    yield "evaluated", httpx.post(evaluate, json={"context": {"key": "u"}}, headers=auth)
    yield "unknown key", httpx.post(evaluate, json={"context": {}}, headers={"X-API-Key": "no"})
    yield "not JSON", httpx.post(evaluate, content=b"{", headers=auth)
    yield "too large", httpx.post(evaluate, content=b"{}" + b" " * (2 << 20), headers=auth)
    yield "ofrep", httpx.post(f"{url}/ofrep/v1/evaluate/flags/shown", json={}, headers=auth)
    yield "ofrep: no flag", httpx.post(f"{url}/ofrep/v1/evaluate/flags/nope", json={}, headers=auth)
    yield "snapshot", httpx.get(f"{url}/sdk/v1/snapshot", headers=auth)
    yield "wrong method", httpx.get(evaluate, headers=auth)
    yield "no such path", httpx.get(f"{url}/sdk/v1/nothing-here", headers=auth)
    relay = f"{url}/relay/v1/usage"
    yield "relay usage: no key", httpx.post(relay, json={"counts": []})
    yield "relay usage: too large", httpx.post(relay, content=b"{}" + b" " * (5 << 20))
    yield "relay usage: wrong method", httpx.get(relay)
    yield "relay stream: no key", httpx.get(f"{url}/relay/v1/stream")
    yield "stream: no key", httpx.get(f"{url}/sdk/v1/stream")


def test_sdk_answers_under_the_server_keep_their_protections(served):
    """Each kind of SDK answer under `launchseq serve`: the status and error shape the SDK app
    gives, with the security headers; a body declared too large is refused and the
    connection closed."""
    process, key = served
    expected = {
        "evaluated": (200, None),
        "unknown key": (401, "unauthorized"),
        "not JSON": (400, "invalid_json"),
        "too large": (413, "payload_too_large"),
        "ofrep": (200, None),
        "ofrep: no flag": (404, None),
        "snapshot": (200, None),
        "wrong method": (405, "method_not_allowed"),
        "no such path": (404, "not_found"),
        "relay usage: no key": (401, "unauthorized"),
        "relay usage: too large": (413, "payload_too_large"),
        "relay usage: wrong method": (405, "method_not_allowed"),
        "relay stream: no key": (401, "unauthorized"),
        "stream: no key": (401, "unauthorized"),
    }
    for name, answer in _sdk_answers(process.url, key):
        status, code = expected[name]
        assert answer.status_code == status, (name, answer.text)
        if code is not None:
            assert answer.json()["error"]["code"] == code, (name, answer.text)
        assert answer.headers["x-frame-options"] == "DENY", name
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], name
        assert answer.headers["x-content-type-options"] == "nosniff", name
        if name in ("too large", "relay usage: too large"):
            assert answer.headers["connection"] == "close", name
        if name == "ofrep: no flag":
            assert answer.json()["errorCode"] == "FLAG_NOT_FOUND"
