"""The quickstart path a new user walks: sign up, create a flag, toggle it, read it back."""

from __future__ import annotations

from tests.support.api import signup


def test_signup_create_toggle_and_read_back(live_any_db):
    user = signup(live_any_db.url, "ada@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default"
    created = user.post(f"{base}/flags", json={"key": "new-checkout", "name": "New checkout"})
    assert created.status_code == 201, created.text
    assert created.json()["environments"]["production"]["on"] is False

    toggled = user.patch(
        f"{base}/flags/new-checkout/environments/production",
        json={"on": True},
        headers={"If-Match": '"1"'},
    )
    assert toggled.status_code == 200, toggled.text
    assert toggled.headers["etag"] == '"2"'

    snapshot = user.get(f"{base}/environments/production/snapshot").json()
    assert snapshot["flags"]["new-checkout"]["on"] is True
    staging = user.get(f"{base}/environments/staging/snapshot").json()
    assert staging["flags"]["new-checkout"]["on"] is False
    assert snapshot["version"] > staging["version"] - 1


def test_health_and_readiness(live):
    import httpx

    assert httpx.get(f"{live.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{live.url}/readyz").json()["database"] == "ok"


def test_a_new_environment_shows_its_server_key_once(live):
    import httpx

    user = signup(live.url, "keys@example.com")
    base = f"/api/v1/orgs/{user.org}/projects"
    created = user.post(base, json={"key": "shop", "name": "Shop"}).json()
    shown = {e["key"]: e for e in created["environments"]}
    server = next(k for k in shown["production"]["sdk_keys"] if k["kind"] == "server")
    assert server["key"].startswith("ls_srv_")
    answer = httpx.post(
        f"{live.url}/sdk/v1/evaluate",
        json={"context": {"key": "u"}},
        headers={"Authorization": f"Bearer {server['key']}"},
    )
    assert answer.status_code == 200

    env = user.post(f"{base}/shop/environments", json={"key": "qa"}).json()
    assert any(k["kind"] == "server" and "key" in k for k in env["sdk_keys"])

    # Afterwards, only the prefix: the server keeps a digest, not the key.
    later = user.get(f"{base}/shop/environments/production").json()
    again = next(k for k in later["sdk_keys"] if k["kind"] == "server")
    assert "key" not in again and server["key"].startswith(again["prefix"])
