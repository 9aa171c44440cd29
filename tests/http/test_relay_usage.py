"""POST /relay/v1/usage at the core: what edges forward. Counts land in the usage API after a
flush, exactly; a relay key adds counts to its own project's environments only (another
organization's environment is ignored exactly as one that exists nowhere); bad input gets
its stable error code."""

from __future__ import annotations

from typing import Any

import httpx

from tests.http.test_delivery import BOOL, make_flag, setup_env
from tests.http.test_relay_keys import relay_stream
from tests.http.test_usage import counts, flush, server  # noqa: F401 - the fixture

PATH = "/relay/v1/usage"


def relay_key(e: Any) -> str:
    answer = e.user.post(f"{e.base}/relay-keys", json={"name": "edge"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


def production_id(url: str, key: str) -> int:
    """The environment id the relay stream names production by (what an edge knows)."""
    with relay_stream(url, key) as relay:
        envs = relay.wait("env", 2)
    return next(int(d["env_id"]) for _, _, d in envs if d["owner"]["environment"] == "production")


def post(url: str, key: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else None
    return httpx.post(
        f"{url}{PATH}",
        content=content,
        json=None if content is not None else body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def entry(env_id: int, flag: str, n: int, variation: int | None = 0) -> dict[str, Any]:
    return {"env_id": env_id, "flag": flag, "variation": variation, "application": "shop",
            "count": n}  # fmt: skip


def test_forwarded_counts_show_once_and_only_in_the_keys_project(server, clock):  # noqa: F811
    alice = setup_env(server.url, "alice-relay@example.com")
    make_flag(alice, "beta", BOOL)
    key = relay_key(alice)
    env_id = production_id(server.url, key)
    bob = setup_env(server.url, "bob-relay@example.com")
    make_flag(bob, "beta", BOOL)
    bob_key = relay_key(bob)
    bob_env = production_id(server.url, bob_key)

    seen = {"env_id": env_id, "application": "shop", "sdk": "python", "sdk_version": "0.1.0",
            "last_seen": clock(), "instances": ["i-1", "i-2"]}  # fmt: skip
    counted = [entry(env_id, "beta", 40), entry(env_id, "beta", 2, None), entry(env_id, "x", 5)]
    body = {"edge_id": "edge-1", "counts": counted, "applications": [seen]}
    answer = post(server.url, key, body)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 42, "ignored": 5}
    # Bob's key, Alice's environment: ignored, exactly as an environment that exists nowhere.
    other = post(server.url, bob_key, {"counts": [entry(env_id, "beta", 7)]})
    missing = post(server.url, bob_key, {"counts": [entry(10**9, "beta", 7)]})
    assert other.status_code == missing.status_code == 202
    assert other.json() == missing.json() == {"accepted": 0, "ignored": 7}
    assert post(server.url, bob_key, {"counts": [entry(bob_env, "beta", 3)]}).json() == {
        "accepted": 3,
        "ignored": 0,
    }
    flush(server)
    assert counts(alice, "beta") == {0: 40, None: 2}
    assert counts(bob, "beta") == {0: 3}
    apps = alice.user.get(f"{alice.base}/environments/production/applications").json()
    assert [(a["application"], a["sdk"]) for a in apps["applications"]] == [("shop", "python")]
    flush(server)
    assert counts(alice, "beta") == {0: 40, None: 2}  # nothing written twice


def test_bad_posts_get_stable_errors(server):  # noqa: F811
    e = setup_env(server.url, "carol-relay@example.com")
    key = relay_key(e)
    cases: list[tuple[str, Any, int, str]] = [
        ("ls_rly_unknown", {"counts": []}, 401, "unauthorized"),
        (e.server_key, {"counts": []}, 401, "unauthorized"),  # an SDK key is not a relay key
        (key, b"{not json", 400, "invalid_json"),
        (key, [], 400, "invalid_usage"),
        (key, {"counts": [{"env_id": 1, "flag": "f", "count": 0}]}, 400, "invalid_usage"),
        (key, {"counts": [{"env_id": 1, "flag": "f", "count": 1, "x": 1}]}, 400, "invalid_usage"),
        (key, {"surprise": 1}, 400, "invalid_usage"),
        (key, {"post_id": "no spaces", "counts": []}, 400, "invalid_usage"),
        (key, {"post_id": 7, "counts": []}, 400, "invalid_usage"),
        (key, {"counts": [entry(1, "f", 1)] * 5001}, 413, "too_many_entries"),
        (key, b" " * (4 * 1024 * 1024 + 1), 413, "payload_too_large"),
    ]
    for secret, body, status, code in cases:
        answer = post(server.url, secret, body)
        assert answer.status_code == status, (code, answer.text)
        assert answer.json()["error"]["code"] == code
    wrong_method = httpx.get(f"{server.url}{PATH}", headers={"Authorization": f"Bearer {key}"})
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    revoked = e.user.get(f"{e.base}/relay-keys").json()["relay_keys"][0]["id"]
    assert e.user.delete(f"{e.base}/relay-keys/{revoked}").status_code == 204
    assert post(server.url, key, {"counts": []}).status_code == 401


def test_a_post_sent_again_with_its_id_is_applied_once(server, clock):  # noqa: F811
    """An edge whose post timed out sends it again, unchanged: the core answers the repeat as
    the first time, marked duplicate, and counts it once. Another edge's post with the same id
    is its own."""
    e = setup_env(server.url, "dave-relay@example.com")
    make_flag(e, "beta", BOOL)
    key = relay_key(e)
    env_id = production_id(server.url, key)
    body = {"edge_id": "edge-1", "post_id": "p-1", "counts": [entry(env_id, "beta", 30)]}
    first = post(server.url, key, body)
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 30, "ignored": 0}
    again = post(server.url, key, body)
    assert again.status_code == 202, again.text
    assert again.json() == {"accepted": 30, "ignored": 0, "duplicate": True}
    other_edge = post(server.url, key, {**body, "edge_id": "edge-2"})
    assert other_edge.json() == {"accepted": 30, "ignored": 0}
    next_post = post(
        server.url, key, {**body, "post_id": "p-2", "counts": [entry(env_id, "beta", 5)]}
    )
    assert next_post.json() == {"accepted": 5, "ignored": 0}
    flush(server)
    assert counts(e, "beta") == {0: 65}
