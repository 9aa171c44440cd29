"""Browser apps on other origins may call the SDK endpoints with the public client key."""

from __future__ import annotations

import httpx

from tests.support.api import signup


def _client_key(live) -> str:
    user = signup(live.url, "cors@example.com")
    env = user.get(f"/api/v1/orgs/{user.org}/projects/default/environments/production").json()
    return next(k["key"] for k in env["sdk_keys"] if k["kind"] == "client")


def test_preflight_and_answers_allow_other_origins(live):
    key = _client_key(live)
    origin = {"Origin": "https://shop.example.com"}
    preflight = httpx.options(
        f"{live.url}/sdk/v1/client/evaluate",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

    answer = httpx.post(
        f"{live.url}/sdk/v1/client/evaluate",
        json={"context": {"key": "u1"}},
        headers={**origin, "Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers  # no cookies, ever

    with httpx.stream(
        "GET",
        f"{live.url}/sdk/v1/client/stream",
        params={"key": key, "context": "eyJrZXkiOiJ1In0"},
        headers=origin,
        timeout=5,
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == "*"

    refused = httpx.get(f"{live.url}/sdk/v1/client/stream", params={"key": "nope"}, headers=origin)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"


def test_preflight_allows_every_header_the_js_sdk_sends(live):
    """`sdks/js/src/index.js` sends X-LaunchSequence-SDK with each fetch (identify, the probe,
    `streaming: false`, the fetch transport): a refused preflight breaks them all in browsers."""
    requested = "authorization, content-type, x-launchsequence-sdk"
    for method, path in [("POST", "/sdk/v1/client/evaluate"), ("GET", "/sdk/v1/client/stream")]:
        preflight = httpx.options(
            f"{live.url}{path}",
            headers={
                "Origin": "https://shop.example.com",
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": requested,
            },
        )
        assert preflight.status_code == 200, (path, preflight.text)
        assert "x-launchsequence-sdk" in preflight.headers["access-control-allow-headers"].lower()


def test_the_admin_api_does_not_allow_other_origins(live):
    answer = httpx.get(f"{live.url}/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers
