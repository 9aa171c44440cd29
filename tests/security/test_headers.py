"""Security headers on every kind of answer: pages, API, SDK endpoints, errors."""

from __future__ import annotations

import httpx
import pytest


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
