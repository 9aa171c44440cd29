"""Webhook rules that need no server: which addresses are refused, backoff, Slack text."""

from __future__ import annotations

import pytest

from launchsequence.services import Invalid
from launchsequence.services.addresses import check_url, refused_address
from launchsequence.services.events import event_type_for, slack_text
from launchsequence.services.webhook_sender import backoff_ms


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
     "169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fc00::1", "fd12::1",
     "::ffff:10.0.0.1", "::ffff:127.0.0.1", "224.0.0.1", "::"],
)  # fmt: skip
def test_loopback_private_link_local_and_other_special_addresses_are_refused(address):
    assert refused_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_not(address):
    assert not refused_address(address)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "example.com/x", "http://", "http://user:pw@example.com/",
     "http://example.com/#frag", "http://exa mple.com/", "http://example.com:99999/", ""],
)  # fmt: skip
def test_only_plain_http_urls_are_webhooks(url):
    with pytest.raises(Invalid):
        check_url(url)


def test_backoff_doubles_up_to_an_hour():
    assert [backoff_ms(10, n) for n in (1, 2, 3, 4)] == [10_000, 20_000, 40_000, 80_000]
    assert backoff_ms(10, 20) == 3_600_000
    assert backoff_ms(10, 10_000) == 3_600_000


def test_audit_actions_map_to_event_types():
    assert event_type_for("flag.configured", {}) == "flag.changed"
    assert event_type_for("flag.imported", None) == "flag.created"
    assert event_type_for("flag.imported", {"key": "x"}) == "flag.changed"
    assert event_type_for("segment.deleted", {}) == "segment.changed"
    assert event_type_for("member.added", None) is None
    assert event_type_for("webhook.created", None) is None


def test_slack_text_says_who_did_what_where_and_why():
    body = {
        "type": "flag.toggled", "organization": "acme", "project": "web",
        "environment": "production", "flag": "checkout", "segment": None,
        "actor": {"email": "ada@example.com", "name": "Ada"}, "comment": "incident 7",
        "before": {"on": True}, "after": {"on": False},
    }  # fmt: skip
    assert slack_text(body) == (
        "ada@example.com turned flag `checkout` off in acme/web/production\n> incident 7"
    )
