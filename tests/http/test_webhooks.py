"""Webhooks against a real receiver on loopback: what arrives, signed how, retried, in order."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import ApiUser, signup
from tests.support.forms import page_forms
from tests.support.live import LiveServer
from tests.support.receiver import Receiver

DOCS = Path(__file__).resolve().parents[2] / "docs" / "governance.md"
FLAGS = "/projects/default/flags"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def serve(
    make_settings: Callable[..., Settings], clock: Any
) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        values = {"webhook_allow_private_addresses": "true", **overrides}
        server = LiveServer(create_app(make_settings(**values), clock=clock)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def org(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}"


def hook(user: ApiUser, url: str, **body: Any) -> dict[str, Any]:
    created = user.post(f"{org(user)}/webhooks", json={"url": url, **body})
    assert created.status_code == 201, created.text
    return dict(created.json())


def with_token(user: ApiUser) -> ApiUser:
    """The same user, calling with a personal API token (which does not expire)."""
    token = user.post("/api/v1/tokens", json={"name": "webhooks"}).json()["token"]
    client = httpx.Client(
        base_url=user.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    return ApiUser(user.base_url, email=user.email, org=user.org, csrf="", client=client)


def snippet(language: str) -> str:
    """The verification snippet of docs/governance.md, as written there."""
    found = re.findall(rf"```{language} verify\n(.*?)```", DOCS.read_text(), re.S)
    assert len(found) == 1, f"docs/governance.md has no single {language} verify snippet"
    return str(found[0])


def test_events_arrive_signed_and_both_documented_snippets_verify_them(serve, receiver, tmp_path):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    made = hook(alice, receiver.url + "/a")
    secret = made["secret"]
    assert secret.startswith("whsec_") and made["secret_prefix"] == secret[:10]
    assert "secret" not in alice.get(f"{org(alice)}/webhooks/{made['id']}").json()

    assert alice.post(f"{org(alice)}{FLAGS}", json={"key": "checkout"}).status_code == 201
    toggled = alice.patch(
        f"{org(alice)}{FLAGS}/checkout/environments/production",
        json={"on": True},
        headers={"X-LaunchSequence-Comment": "incident%2042%3A%20turning%20it%20on%20%E2%9C%93"},
    )
    assert toggled.status_code == 200, toggled.text
    got = receiver.wait_for(lambda r: len(r) >= 2, "/a")
    created, toggle = got[0].json, got[1].json
    assert created["type"] == "flag.created" and created["flag"] == "checkout"
    assert toggle["schema"] == 1
    assert toggle["type"] == "flag.toggled"
    assert (toggle["organization"], toggle["project"], toggle["environment"]) == (
        alice.org,
        "default",
        "production",
    )
    assert toggle["actor"]["email"] == "alice@example.com"
    assert toggle["comment"] == "incident 42: turning it on ✓"
    assert toggle["before"]["on"] is False and toggle["after"]["on"] is True
    assert got[1].headers["x-launchsequence-event"] == "flag.toggled"
    assert got[1].headers["x-launchsequence-event-id"] == toggle["id"]
    header = got[1].headers["x-launchsequence-signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)

    # The audit log keeps the comment too.
    entries = alice.get(f"{org(alice)}/audit").json()["entries"]
    assert entries[0]["action"] == "flag.toggled"
    assert entries[0]["comment"] == "incident 42: turning it on ✓"

    namespace: dict[str, Any] = {}
    exec(snippet("python"), namespace)
    verify = namespace["verify"]
    body = got[1].body
    assert verify(secret, header, body) is True
    assert verify(secret, header, body.replace(b"true", b"false")) is False
    assert verify("whsec_another", header, body) is False
    stale = re.sub(r"t=(\d+)", lambda m: f"t={int(m.group(1)) - 3600}", header)
    assert verify(secret, stale, body) is False

    script = tmp_path / "verify.js"
    script.write_text(
        snippet("js")
        + "\nconst [secret, header, file] = process.argv.slice(2);\n"
        + "const body = require('fs').readFileSync(file);\n"
        + "process.stdout.write(String(verify(secret, header, body)));\n"
    )
    (tmp_path / "body").write_bytes(body)
    (tmp_path / "tampered").write_bytes(body.replace(b"true", b"false"))

    def node(*args: str) -> str:
        done = subprocess.run(
            ["node", str(script), *args], capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout

    assert node(secret, header, str(tmp_path / "body")) == "true"
    assert node(secret, header, str(tmp_path / "tampered")) == "false"
    assert node("whsec_another", header, str(tmp_path / "body")) == "false"


def test_every_kind_of_change_and_every_write_path_sends_its_event(serve, receiver):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    hook(alice, receiver.url + "/all")
    hook(alice, receiver.url + "/toggles", events=["flag.toggled"], project="default")
    base = f"{org(alice)}{FLAGS}"
    env = f"{org(alice)}/projects/default/environments/production"
    assert alice.post(base, json={"key": "f1"}).status_code == 201
    assert alice.patch(f"{base}/f1", json={"name": "Renamed"}).status_code == 200
    assert alice.patch(f"{base}/f1/environments/production", json={"on": True}).status_code == 200
    rules = {"rules": [{"clauses": [{"attribute": "country", "op": "in", "values": ["DE"]}],
                        "serve": {"variation": 0}}]}  # fmt: skip
    assert alice.patch(f"{base}/f1/environments/staging", json=rules).status_code == 200
    assert alice.patch(f"{base}/f1/environments/production", json={"on": False}).status_code == 200
    assert alice.patch(f"{base}/f1", json={"archived": True}).status_code == 200
    assert alice.delete(f"{base}/f1").status_code == 204
    assert alice.put(f"{env}/segments/beta", json={"included": ["u1"]}).status_code == 201
    rotated = alice.post(f"{env}/sdk-keys", json={"kind": "server", "grace_seconds": 0})
    assert rotated.status_code == 201, rotated.text
    document = {
        "format": "launchsequence-project",
        "version": 1,
        "project": {"key": "default", "name": "Default"},
        "environments": [{"key": "production", "name": "Production"}],
        "flags": [{"key": "imported", "environments": {"production": {
            "on": False, "off_variation": 1, "fallthrough": {"variation": 0}}}}],
    }  # fmt: skip
    imported = alice.post(f"{org(alice)}/import", params={"project": "default"}, json=document)
    assert imported.status_code == 200, imported.text

    expected = [
        ("flag.created", "f1"),
        ("flag.changed", "f1"),
        ("flag.toggled", "f1"),
        ("flag.changed", "f1"),
        ("flag.toggled", "f1"),
        ("flag.archived", "f1"),
        ("flag.deleted", "f1"),
        ("segment.changed", None),
        ("sdk_key.rotated", None),
        ("flag.created", "imported"),
    ]
    got = receiver.wait_for(lambda r: len(r) >= len(expected), "/all")
    assert sorted((r.json["type"], r.json["flag"]) for r in got) == sorted(expected)
    by_type = {r.json["type"]: r.json for r in got}
    assert by_type["segment.changed"]["segment"] == "beta"
    assert by_type["sdk_key.rotated"]["environment"] == "production"
    assert by_type["sdk_key.rotated"]["after"]["prefix"] == rotated.json()["prefix"]
    assert rotated.json()["key"] not in json.dumps(by_type["sdk_key.rotated"])
    # Events of one flag arrive in the order they happened.
    f1 = [r.json["type"] for r in got if r.json["flag"] == "f1"]
    assert f1 == [t for t, f in expected if f == "f1"]
    toggles = receiver.wait_for(lambda r: len(r) >= 2, "/toggles")
    assert [r.json["type"] for r in toggles] == ["flag.toggled", "flag.toggled"]
    assert len(receiver.received("/all")) == len(expected)


def test_dashboard_changes_carry_their_comment(serve, receiver):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    hook(alice, receiver.url + "/d")
    assert alice.post(f"{org(alice)}{FLAGS}", json={"key": "dash"}).status_code == 201
    page = alice.get(f"/o/{alice.org}/p/default/flags/dash?env=production")
    assert page.status_code == 200
    [switch] = [f for f in page_forms(page.text) if f.action.endswith("/toggle")]
    fields = dict(switch.fields)
    asked = alice.http.post(switch.action, data={**fields, **dict(switch.buttons)})
    # Production confirms changes: without scripts, a page asks, with the comment field.
    assert asked.status_code == 200 and "on in Production?</h1>" in asked.text
    [confirm] = [f for f in page_forms(asked.text) if f.action.endswith("/toggle")]
    confirmed = {**dict(confirm.fields), "comment": "from the dashboard"}
    toggle = alice.http.post(confirm.action, data=confirmed)
    assert toggle.status_code == 303, toggle.text
    got = receiver.wait_for(lambda r: any(x.json["type"] == "flag.toggled" for x in r), "/d")
    toggled = next(x.json for x in got if x.json["type"] == "flag.toggled")
    assert toggled["comment"] == "from the dashboard"
    audit = alice.get(f"/o/{alice.org}/audit")
    assert "from the dashboard" in audit.text


def test_a_receiver_that_fails_then_answers_gets_the_event(serve, receiver, clock):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    made = hook(alice, receiver.url + "/flaky", events=["flag.created"])
    receiver.fail("/flaky", 3)
    assert alice.post(f"{org(alice)}{FLAGS}", json={"key": "retried"}).status_code == 201
    for attempt in range(1, 4):
        receiver.wait_for(lambda r, n=attempt: len(r) >= n, "/flaky")
        pages = alice.get(f"{org(alice)}/webhooks/{made['id']}/deliveries").json()
        [delivery] = pages["deliveries"]
        assert delivery["status"] == "pending"
        assert delivery["response_status"] == 500
        clock.advance(3600)  # past any backoff
    got = receiver.wait_for(lambda r: len(r) >= 4, "/flaky")
    assert len({r.json["id"] for r in got}) == 1  # one event, four attempts
    deliveries = alice.get(f"{org(alice)}/webhooks/{made['id']}/deliveries").json()
    [delivery] = deliveries["deliveries"]
    assert delivery["status"] == "succeeded", delivery
    assert delivery["attempts"] == 4
    assert delivery["response_status"] == 200
    assert delivery["response_excerpt"] == "thanks"
    assert alice.get(f"{org(alice)}/webhooks/{made['id']}").json()["failing_since"] is None


def test_a_receiver_that_never_answers_is_given_up_and_disabled(serve, receiver, clock):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    alice = with_token(alice)  # sessions expire over the 25 hours this test lets pass
    made = hook(alice, receiver.url + "/down", events=["flag.created"])
    receiver.fail("/down", 1000)
    assert alice.post(f"{org(alice)}{FLAGS}", json={"key": "lost"}).status_code == 201
    receiver.wait_for(lambda r: len(r) >= 1, "/down")
    path = f"{org(alice)}/webhooks/{made['id']}"
    # The sender has written down the failed attempt (on a loaded machine it may lag the
    # receiver) before the day passes: else it would time its retry from the later clock.
    for _ in range(200):
        [first] = alice.get(f"{path}/deliveries").json()["deliveries"]
        if first["attempts"] >= 1:
            break
        time.sleep(0.05)
    assert first["attempts"] >= 1, first
    clock.advance(25 * 3600)
    receiver.wait_for(lambda r: len(r) >= 2, "/down")
    for _ in range(100):
        now = alice.get(path).json()
        if not now["enabled"]:
            break
        time.sleep(0.1)
    assert now["enabled"] is False
    assert "disabled after failing since" in now["disabled_reason"]
    [delivery] = alice.get(f"{path}/deliveries").json()["deliveries"]
    assert delivery["status"] == "failed"
    assert "answered 500" in delivery["error"] and "given up" in delivery["error"]

    # Sent again by hand once the receiver is back, after enabling the webhook.
    receiver.fail("/down", 0)
    assert alice.patch(path, json={"enabled": True}).json()["disabled_reason"] is None
    again = alice.post(f"{path}/deliveries/{delivery['id']}/resend")
    assert again.status_code == 202, again.text
    got = receiver.wait_for(lambda r: len(r) >= 3, "/down")
    assert got[-1].json["id"] == got[0].json["id"]
    assert got[-1].headers["x-launchsequence-delivery"] == str(again.json()["id"])


def test_a_hanging_receiver_does_not_hold_up_another_webhook(serve, receiver):
    server = serve(webhook_timeout_seconds=30)
    alice = signup(server.url, "alice@example.com")
    receiver.hang("/stuck")
    hook(alice, receiver.url + "/stuck")
    hook(alice, receiver.url + "/fine")
    for i in range(6):
        assert alice.post(f"{org(alice)}{FLAGS}", json={"key": f"h{i}"}).status_code == 201
    got = receiver.wait_for(lambda r: len(r) >= 6, "/fine", timeout=15)
    assert sorted(r.json["flag"] for r in got) == [f"h{i}" for i in range(6)]
    assert receiver.received("/stuck") == []


def test_events_of_one_flag_wait_for_the_earlier_one(serve, receiver, clock):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    hook(alice, receiver.url + "/o")
    receiver.fail("/o", 1)  # the first event (a's creation) fails once
    base = f"{org(alice)}{FLAGS}"
    assert alice.post(base, json={"key": "a"}).status_code == 201
    receiver.wait_for(lambda r: len(r) >= 1, "/o")
    assert alice.patch(f"{base}/a/environments/production", json={"on": True}).status_code == 200
    assert alice.post(base, json={"key": "b"}).status_code == 201
    # b's event goes on; a's toggle waits behind a's creation, which waits for its retry.
    got = receiver.wait_for(lambda r: any(x.json["flag"] == "b" for x in r), "/o")
    time.sleep(2.5)  # a few sender rounds: the toggle must still not have been sent
    assert [(x.json["type"], x.json["flag"]) for x in receiver.received("/o")] == [
        ("flag.created", "a"),
        ("flag.created", "b"),
    ]
    clock.advance(3600)
    got = receiver.wait_for(lambda r: len(r) >= 4, "/o")
    assert [(x.json["type"], x.json["flag"]) for x in got[2:]] == [
        ("flag.created", "a"),
        ("flag.toggled", "a"),
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_addresses_are_refused_at_creation(serve, url):
    server = serve(webhook_allow_private_addresses="false")
    alice = signup(server.url, "alice@example.com")
    answer = alice.post(f"{org(alice)}/webhooks", json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "address_refused"
    assert alice.get(f"{org(alice)}/webhooks").json()["webhooks"] == []


def test_a_url_that_now_resolves_to_a_private_address_is_refused_at_delivery(
    make_settings, clock, receiver
):
    allowed = LiveServer(
        create_app(make_settings(webhook_allow_private_addresses="true"), clock=clock)
    ).start()
    alice = signup(allowed.url, "alice@example.com")
    made = hook(alice, receiver.url + "/r", events=["flag.created"])
    allowed.stop()
    # The same store, now with private addresses refused (as after DNS rebinding).
    refused = LiveServer(create_app(make_settings(), clock=clock)).start()
    try:
        alice.http.base_url = refused.url  # the session lives in the store: still valid
        assert alice.post(f"{org(alice)}{FLAGS}", json={"key": "x"}).status_code == 201
        path = f"{org(alice)}/webhooks/{made['id']}/deliveries"
        for _ in range(100):
            [delivery] = alice.get(path).json()["deliveries"]
            if delivery["attempts"]:
                break
            time.sleep(0.1)
        assert delivery["status"] == "pending"
        assert delivery["error"].startswith("refused: 127.0.0.1 resolves to 127.0.0.1")
        assert receiver.received() == []
    finally:
        refused.stop()


def test_comments_are_bounded(serve):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    base = f"{org(alice)}{FLAGS}"
    long = alice.post(base, json={"key": "c"}, headers={"X-LaunchSequence-Comment": "x" * 1001})
    assert long.status_code == 422 and long.json()["error"]["field"] == "comment", long.text
    bad = alice.post(base, json={"key": "c"}, headers={"X-LaunchSequence-Comment": "%FF"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "comment", bad.text
    assert alice.get(f"{base}/c").status_code == 404


def test_viewers_see_no_webhooks(serve):
    server = serve()
    alice = signup(server.url, "alice@example.com")
    made = hook(alice, "http://127.0.0.1:9/secret-token-in-url")
    invite = alice.post(f"{org(alice)}/invitations", json={"role": "viewer"}).json()
    with httpx.Client(base_url=server.url, timeout=30) as viewer:
        joined = viewer.post(
            "/api/v1/auth/signup",
            json={"email": "v@example.com", "password": "correct horse",
                  "invitation": invite["token"]},
        )  # fmt: skip
        assert joined.status_code == 201, joined.text
        csrf = {"X-CSRF-Token": joined.json()["csrf_token"]}
        for method, path, body in (
            ("GET", f"{org(alice)}/webhooks", None),
            ("GET", f"{org(alice)}/webhooks/{made['id']}", None),
            ("GET", f"{org(alice)}/webhooks/{made['id']}/deliveries", None),
            ("POST", f"{org(alice)}/webhooks", {"url": "http://127.0.0.1:9/x"}),
            ("PATCH", f"{org(alice)}/webhooks/{made['id']}", {"enabled": False}),
        ):
            answer = viewer.request(method, path, headers=csrf, json=body)
            assert answer.status_code == 403, answer.text
            assert answer.json()["error"]["code"] == "read_only"
            assert "secret-token-in-url" not in answer.text
