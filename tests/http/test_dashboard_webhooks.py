"""The dashboard's webhook pages: add one, see its secret once, watch deliveries, send again."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from launchsequence.app import create_app
from tests.support.api import signup
from tests.support.forms import form_fields, page_forms
from tests.support.live import LiveServer
from tests.support.receiver import Receiver


@pytest.fixture
def server(make_settings, clock) -> Iterator[LiveServer]:
    app = create_app(make_settings(webhook_allow_private_addresses="true"), clock=clock)
    live = LiveServer(app).start()
    yield live
    live.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_add_a_webhook_see_deliveries_and_send_one_again(server, receiver, clock):
    alice = signup(server.url, "alice@example.com")
    listing = alice.get(f"/o/{alice.org}/webhooks")
    assert listing.status_code == 200
    assert "No webhooks yet" in listing.text
    fields = form_fields(listing.text, "url")
    assert fields.pop("all_events") == "1"  # checked at first: unchecked to choose events
    created = alice.http.post(
        f"/o/{alice.org}/webhooks",
        data={**fields, "url": receiver.url + "/dash", "description": "chat",
              "events": ["flag.created", "flag.toggled"], "enabled": "1"},
    )  # fmt: skip
    assert created.status_code == 303, created.text
    here = created.headers["location"]
    shown = alice.get(here)
    secret = re.search(r'<code id="secret">(whsec_[^<]+)</code>', shown.text)
    assert secret, shown.text
    assert secret.group(1) not in alice.get(here).text  # once only: then only its start
    hooks = alice.get(f"/api/v1/orgs/{alice.org}/webhooks").json()["webhooks"]
    assert hooks[0]["events"] == ["flag.created", "flag.toggled"]
    assert hooks[0]["description"] == "chat"

    receiver.fail("/dash", 1)
    assert alice.post(f"/api/v1/orgs/{alice.org}/projects/default/flags",
                      json={"key": "seen"}).status_code == 201  # fmt: skip
    receiver.wait_for(lambda r: len(r) == 1, "/dash")
    for _ in range(100):
        page = alice.get(here).text
        if "answered 500" in page:
            break
        time.sleep(0.05)
    assert "answered 500" in page and "pending" in page and "flag.created" in page
    clock.advance(3600)
    receiver.wait_for(lambda r: len(r) == 2, "/dash")
    for _ in range(100):
        page = alice.get(here).text
        if "succeeded" in page:
            break
        time.sleep(0.05)
    assert "succeeded" in page and "<code>200</code>" in page

    [resend] = [f for f in page_forms(page) if ("action", "resend") in f.fields]
    again = alice.http.post(here, data=dict(resend.fields))
    assert again.status_code == 303
    got = receiver.wait_for(lambda r: len(r) == 3, "/dash")
    assert got[2].json["id"] == got[0].json["id"]

    # Turned off from its page: the next change is not sent.
    page = alice.get(here).text
    save = form_fields(page, "url")
    save.pop("enabled", None)
    saved = alice.http.post(here, data={**save, "events": ["flag.created"]})
    assert saved.status_code == 303, saved.text
    assert alice.get(f"/api/v1/orgs/{alice.org}/webhooks").json()["webhooks"][0]["enabled"] is False
    assert "disabled" in alice.get(f"/o/{alice.org}/webhooks").text


def test_a_refused_address_is_shown_beside_the_url(make_settings, clock):
    live = LiveServer(create_app(make_settings(), clock=clock)).start()
    try:
        alice = signup(live.url, "alice@example.com")
        listing = alice.get(f"/o/{alice.org}/webhooks")
        answer = alice.http.post(
            f"/o/{alice.org}/webhooks",
            data={**form_fields(listing.text, "url"), "url": "http://169.254.169.254/latest"},
        )
        assert answer.status_code == 422
        assert "link-local" in answer.text
        assert "No webhooks yet" in answer.text
    finally:
        live.stop()


def test_viewers_have_no_webhook_pages(server):
    alice = signup(server.url, "alice@example.com")
    viewer = signup(server.url, "viewer@example.com")
    org = f"/api/v1/orgs/{alice.org}"
    assert (
        alice.post(f"{org}/members", json={"email": viewer.email, "role": "viewer"}).status_code
        == 201
    )
    page = viewer.get(f"/o/{alice.org}/webhooks")
    assert page.status_code == 403
    assert f'href="/o/{alice.org}/webhooks"' not in viewer.get(f"/o/{alice.org}").text


def test_the_form_offers_only_where_the_caller_may_add_a_webhook(server):
    """A viewer of the organization made admin of one project is offered that project alone:
    neither "every project" nor the projects where they are a viewer."""
    alice = signup(server.url, "alice@example.com")
    vera = signup(server.url, "vera@example.com")
    org = f"/api/v1/orgs/{alice.org}"
    assert (
        alice.post(f"{org}/members", json={"email": vera.email, "role": "viewer"}).status_code
        == 201
    )
    for key in ("b", "c"):
        assert (
            alice.post(f"{org}/projects", json={"key": key, "name": key.upper()}).status_code == 201
        )
    vera_id = vera.get("/api/v1/me").json()["user"]["id"]
    assert (
        alice.put(f"{org}/projects/b/members/{vera_id}", json={"role": "admin"}).status_code == 200
    )

    def offered(user) -> list[str]:
        page = user.get(f"/o/{alice.org}/webhooks")
        assert page.status_code == 200, page.text
        select = re.search(r'<select id="f-project" name="project">(.*?)</select>', page.text, re.S)
        assert select
        return re.findall(r'<option value="([^"]*)"', select.group(1))

    assert offered(vera) == ["b"]
    assert offered(alice) == ["", "b", "c", "default"]
    # What the form offers is what the server takes.
    fields = form_fields(vera.get(f"/o/{alice.org}/webhooks").text, "url")
    made = vera.http.post(
        f"/o/{alice.org}/webhooks", data={**fields, "url": "http://127.0.0.1:9/x"}
    )
    assert made.status_code == 303, made.text
    assert [h["project"] for h in vera.get(f"{org}/webhooks").json()["webhooks"]] == ["b"]
