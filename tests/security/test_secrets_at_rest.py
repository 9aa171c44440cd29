"""After keys, sessions, tokens and invitations exist, a dump of the database holds none of them in
plaintext, and the API shows them again only by prefix."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import httpx
import pytest
from sqlalchemy.engine import make_url

from launchsequence.app import create_app
from tests.support.api import signup
from tests.support.live import LiveServer

PASSWORD = "a secret passphrase 123"


def _dump(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as db:
            return "\n".join(db.iterdump())
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    return subprocess.run(
        [
            "pg_dump",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database or "",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_no_secret_is_stored_in_plaintext(make_settings, database_url, clock):
    settings = make_settings(database_url=database_url, webhook_allow_private_addresses="true")
    app = create_app(settings, clock=clock)
    server = LiveServer(app).start()
    try:
        user = signup(server.url, "secrets@example.com", password=PASSWORD)
        session = user.http.cookies.get("launchseq_session")
        base = f"/api/v1/orgs/{user.org}/projects/default/environments/production"
        token = user.post("/api/v1/tokens", json={"name": "ci"}).json()["token"]
        server_key = user.post(f"{base}/sdk-keys", json={"kind": "server"}).json()["key"]
        project = user.post(
            f"/api/v1/orgs/{user.org}/projects", json={"key": "shop", "name": "Shop"}
        ).json()
        first_key = next(
            k["key"] for k in project["environments"][0]["sdk_keys"] if k["kind"] == "server"
        )
        invitation = user.post(
            f"/api/v1/orgs/{user.org}/invitations", json={"role": "viewer"}
        ).json()["token"]
        webhook = user.post(
            f"/api/v1/orgs/{user.org}/webhooks", json={"url": "http://127.0.0.1:9/hook"}
        ).json()["secret"]  # kept sealed: the server must read it to sign
        assert all([session, token, server_key, first_key, invitation, webhook])

        dump = _dump(database_url)
        assert "secrets@example.com" in dump, "the dump is real"
        secrets = (PASSWORD, session, token, server_key, first_key, invitation, webhook, user.csrf)
        for secret in secrets:
            assert secret not in dump

        # Read back later: prefixes only.
        listed = user.get("/api/v1/tokens").json()["tokens"]
        assert token not in str(listed) and token.startswith(listed[0]["prefix"])
        pending = user.get(f"/api/v1/orgs/{user.org}/invitations").json()["invitations"]
        assert len(pending) == 1 and invitation not in str(pending)
        env = user.get(base).json()
        assert server_key not in str(env)
        hooks = user.get(f"/api/v1/orgs/{user.org}/webhooks").json()["webhooks"]
        assert webhook not in str(hooks) and webhook.startswith(hooks[0]["secret_prefix"])
        assert any(server_key.startswith(k["prefix"]) for k in env["sdk_keys"])
        assert (
            httpx.get(
                f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
    finally:
        server.stop()
