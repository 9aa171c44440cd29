"""A webhook the sender disables for failing emails its creator (through a real SMTP server on
loopback), once, naming the receiver's host and linking its page, never the whole URL; a
creator who is now only a viewer gets nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from launchsequence.app import create_app
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer, free_port
from tests.support.receiver import Receiver
from tests.support.smtp import Inbox, smtp_server


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def with_token(user: ApiUser) -> ApiUser:
    """The same user with a personal API token: sessions expire over the day that passes."""
    token = user.post("/api/v1/tokens", json={"name": "mail"}).json()["token"]
    client = httpx.Client(
        base_url=user.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    return ApiUser(user.base_url, email=user.email, org=user.org, csrf="", client=client)


def wait_until(check: Any, what: str, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_the_creator_is_emailed_once_when_their_webhook_is_disabled(
    make_settings, clock, inbox, receiver
):
    port = free_port()
    settings = make_settings(
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_tls="none",
        mail_from="flags@example.test",
        base_url=f"http://127.0.0.1:{port}",
        webhook_allow_private_addresses="true",
    )
    server = LiveServer(create_app(settings, clock=clock), port=port).start()
    try:
        alice = with_token(signup(server.url, "alice@example.com"))
        bob = with_token(signup(server.url, "bob@example.com"))
        org = f"/api/v1/orgs/{alice.org}"
        added = alice.post(f"{org}/members", json={"email": "bob@example.com", "role": "admin"})
        assert added.status_code == 201, added.text
        bob = ApiUser(server.url, email=bob.email, org=alice.org, csrf="", client=bob.http)
        hooks = {}
        for who, path in ((alice, "/down/alice-secret-token"), (bob, "/down/bob-secret-token")):
            made = who.post(
                f"{org}/webhooks", json={"url": receiver.url + path, "events": ["flag.created"]}
            )
            assert made.status_code == 201, made.text
            hooks[who.email] = made.json()["id"]
            receiver.fail(path, 1000)
        # Bob is a viewer now: he may no longer see webhooks, so he is not told of his.
        demoted = alice.get(f"{org}/members").json()["members"]
        bob_id = next(m["user_id"] for m in demoted if m["email"] == "bob@example.com")
        assert alice.patch(f"{org}/members/{bob_id}", json={"role": "viewer"}).status_code == 200

        assert alice.post(f"{org}/projects/default/flags", json={"key": "x"}).status_code == 201
        for hook_id in hooks.values():
            wait_until(
                lambda h=hook_id: alice.get(f"{org}/webhooks/{h}/deliveries").json()[
                    "deliveries"
                ][0]["attempts"] >= 1,
                "the first attempt was not recorded",
            )  # fmt: skip
        clock.advance(25 * 3600)
        for hook_id in hooks.values():
            wait_until(
                lambda h=hook_id: not alice.get(f"{org}/webhooks/{h}").json()["enabled"],
                "the webhook was not disabled",
            )

        [message] = inbox.wait_for(1)
        assert message["To"] == "alice@example.com"
        assert message["Subject"] == f"Webhook to 127.0.0.1 disabled ({alice.org})"
        body = message.get_content()
        assert (
            f"http://127.0.0.1:{port}/o/{alice.org}/webhooks/{hooks['alice@example.com']}" in body
        )
        assert "disabled after failing since" in body and "answered 500" in body
        assert "secret-token" not in body and "/down" not in body
        # Later failures of the disabled webhook send nothing more; Bob got nothing.
        clock.advance(3600)
        time.sleep(1)
        assert len(inbox.messages) == 1
        assert all(to != ["bob@example.com"] for _, to in inbox.envelopes)
        shown = alice.get(f"{org}/webhooks/{hooks['alice@example.com']}").json()
        assert shown["enabled"] is False and shown["disabled_reason"]
    finally:
        server.stop()


def test_a_project_webhook_s_creator_is_emailed_by_their_role_in_that_project(
    make_settings, clock, inbox, receiver
):
    """Dev, a viewer of the organization but admin of the project, made the project's webhook:
    he is told it was disabled. Cleo, an admin of the organization made viewer of the project,
    is not told of hers (she may no longer see it)."""
    port = free_port()
    settings = make_settings(
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_tls="none",
        mail_from="flags@example.test",
        base_url=f"http://127.0.0.1:{port}",
        webhook_allow_private_addresses="true",
    )
    server = LiveServer(create_app(settings, clock=clock), port=port).start()
    try:
        alice = with_token(signup(server.url, "alice@example.com"))
        org = f"/api/v1/orgs/{alice.org}"
        members = f"{org}/projects/default/members"
        users = {}
        for email, role in (("dev@example.com", "viewer"), ("cleo@example.com", "admin")):
            user = with_token(signup(server.url, email))
            added = alice.post(f"{org}/members", json={"email": email, "role": role})
            assert added.status_code == 201, added.text
            users[email] = ApiUser(
                server.url, email=email, org=alice.org, csrf="", client=user.http
            )
        ids = {m["email"]: m["user_id"] for m in alice.get(f"{org}/members").json()["members"]}
        made = alice.put(f"{members}/{ids['dev@example.com']}", json={"role": "admin"})
        assert made.status_code == 200, made.text
        hooks = {}
        for email, user in users.items():
            path = f"/down/{email.split('@')[0]}"
            created = user.post(
                f"{org}/webhooks",
                json={"url": receiver.url + path, "events": ["flag.created"], "project": "default"},
            )
            assert created.status_code == 201, created.text
            hooks[email] = created.json()["id"]
            receiver.fail(path, 1000)
        made = alice.put(f"{members}/{ids['cleo@example.com']}", json={"role": "viewer"})
        assert made.status_code == 200, made.text

        assert alice.post(f"{org}/projects/default/flags", json={"key": "x"}).status_code == 201
        for hook_id in hooks.values():
            wait_until(
                lambda h=hook_id: alice.get(f"{org}/webhooks/{h}/deliveries").json()[
                    "deliveries"
                ][0]["attempts"] >= 1,
                "the first attempt was not recorded",
            )  # fmt: skip
        clock.advance(25 * 3600)
        for hook_id in hooks.values():
            wait_until(
                lambda h=hook_id: not alice.get(f"{org}/webhooks/{h}").json()["enabled"],
                "the webhook was not disabled",
            )
        [message] = inbox.wait_for(1)
        assert message["To"] == "dev@example.com"
        time.sleep(1)
        assert len(inbox.messages) == 1
    finally:
        server.stop()
