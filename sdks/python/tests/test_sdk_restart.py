"""The server process killed and started again (real `launchseq serve`, same port, same SQLite
directory): the client keeps serving while it is down, with reason STALE, then reconnects,
catches up and answers the engine's reasons again. A persisted snapshot answers CACHED until
the server does."""

from __future__ import annotations

import json
import time

from launchsequence_sdk import CACHED, STALE, Client, ClientEvent
from sdk_env import BOOL, setup_env, wait_for

ANYONE = {"key": "u-1"}
GERMAN = {"key": "u-2", "country": "DE"}
EU_RULE = {
    "on": True, "off_variation": 1, "fallthrough": {"variation": 1},
    "rules": [{"id": "eu", "clauses": [{"attribute": "country", "op": "in", "values": ["DE"]}],
               "serve": {"variation": 0}}],
}  # fmt: skip


def test_server_killed_and_restarted(server):
    env = setup_env(server.url, "restart@example.com")
    env.make_flag("banner", BOOL)
    env.make_flag("checkout", EU_RULE)
    with Client(env.key, base_url=server.url, initial_reconnect_delay=0.1,
                max_reconnect_delay=0.5) as client:  # fmt: skip
        assert client.wait_until_ready(5)
        assert not client.is_stale
        assert client.bool_details("banner", ANYONE, False).reason == "STATIC"
        version = client.version
        changes: list[str] = []
        events: list[ClientEvent] = []
        client.on_change(changes.append)
        client.on_event(events.append)

        server.kill()
        wait_for(lambda: [e.kind for e in events] == ["stale"], 5.0, "the lost stream noticed")
        assert client.is_stale
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # down for a second: the last values, no error
            details = client.bool_details("banner", ANYONE, False)
            assert (details.value, details.variation, details.reason, details.error_code) == (
                True, 0, STALE, None)  # fmt: skip
            rule = client.bool_details("checkout", GERMAN, False)
            assert (rule.value, rule.variation, rule.reason, rule.rule_id, rule.rule_index) == (
                True, 0, STALE, "eu", 0)  # fmt: skip
            assert client.bool_value("banner", ANYONE, False) is True
            time.sleep(0.05)
        # Errors stay errors: the default is not a last known value.
        missing = client.bool_details("nope", ANYONE, True)
        assert (missing.reason, missing.error_code) == ("ERROR", "FLAG_NOT_FOUND")
        mismatch = client.string_details("banner", ANYONE, "x")
        assert (mismatch.value, mismatch.reason, mismatch.error_code) == (
            "x", "ERROR", "TYPE_MISMATCH")  # fmt: skip

        server.start()
        wait_for(lambda: [e.kind for e in events] == ["stale", "ready"], 10.0, "reconnected")
        assert not client.is_stale
        assert client.bool_details("banner", ANYONE, False).reason == "STATIC"
        env.toggle("banner", False)  # the session is in the database: it survived the restart
        wait_for(lambda: client.bool_value("banner", ANYONE, True) is False, 5.0, "catch up")
        assert changes == ["banner"]
        assert client.version is not None and version is not None and client.version > version
        assert client.bool_details("banner", ANYONE, True).reason == "DISABLED"
        rule = client.bool_details("checkout", GERMAN, False)
        assert (rule.reason, rule.rule_id) == ("TARGETING_MATCH", "eu")


def test_persisted_snapshot_is_cached_until_the_server_answers(server, tmp_path):
    path = tmp_path / "flags.json"
    env = setup_env(server.url, "persist-stale@example.com")
    env.make_flag("banner", BOOL)
    env.make_flag("checkout", EU_RULE)
    with Client(env.key, base_url=server.url, persist_path=path) as client:
        assert client.wait_until_ready(5)
        env.toggle("banner", False)
        wait_for(lambda: client.bool_value("banner", ANYONE, True) is False, 5.0)
        wait_for(lambda: json.loads(path.read_text())["version"] == client.version, 5.0)
    server.kill()

    with Client(env.key, base_url=server.url, persist_path=path, initial_reconnect_delay=0.1,
                max_reconnect_delay=0.5) as again:  # fmt: skip
        assert again.wait_until_ready(5)
        assert again.source == "file" and again.is_stale
        details = again.bool_details("banner", ANYONE, True)
        assert (details.value, details.variation, details.reason, details.error_code) == (
            False, 1, CACHED, None)  # fmt: skip
        rule = again.bool_details("checkout", GERMAN, False)
        assert (rule.value, rule.reason, rule.rule_id, rule.rule_index) == (True, CACHED, "eu", 0)
        assert again.bool_value("banner", ANYONE, True) is False

        server.start()
        wait_for(lambda: again.source == "server", 10.0, "the server's snapshot replaces the file")
        wait_for(lambda: not again.is_stale, 5.0, "and the stream keeps it live")
        details = again.bool_details("banner", ANYONE, True)
        assert (details.value, details.reason) == (False, "DISABLED")
