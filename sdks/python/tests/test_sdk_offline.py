"""Offline clients, test data, the options check, and the SDK's small parts on their own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from launchsequence_sdk import Client, ConfigurationError, LaunchSequenceError, TestData
from launchsequence_sdk.backoff import Backoff
from launchsequence_sdk.sse import SseEvent, SseParser
from launchsequence_sdk.store import FlagStore, changed_flags

ANYONE = {"key": "u-1"}


def test_offline_without_a_snapshot_answers_defaults():
    with Client(offline=True) as client:
        assert client.wait_until_ready(0) and client.source == "offline"
        assert client.bool_value("x", ANYONE, True) is True
        assert client.bool_details("x", ANYONE, True).error_code == "FLAG_NOT_FOUND"


def test_offline_with_a_snapshot_evaluates_it():
    snapshot = TestData().set("limit", 5).snapshot()
    client = Client(offline=True, snapshot=snapshot)
    assert client.number_value("limit", ANYONE, 0) == 5
    assert client.version == snapshot["version"]
    # What the application asked for, not last known values: never STALE.
    assert not client.is_stale and client.number_details("limit", ANYONE, 0).reason == "STATIC"


def test_test_data_builder_and_on_change():
    td = TestData()
    td.update(
        td.flag("new-checkout").boolean().fallthrough(False).variation_for_key("user-1", True)
        .if_match("country", "DE", "FR").then(True).client_side()
    )  # fmt: skip
    td.set("copy", "Buy now").set("layout", {"cols": 2})
    client = Client.for_test_data(td)
    assert client.source == "test" and not client.is_stale
    assert client.bool_details("new-checkout", {"key": "user-1"}, False).reason == (
        "TARGETING_MATCH")  # fmt: skip
    rule = client.bool_details("new-checkout", {"key": "u", "country": "FR"}, False)
    assert (rule.value, rule.rule_id) == (True, "rule-0")
    assert client.bool_details("new-checkout", ANYONE, True).reason == "DEFAULT"
    assert client.bool_value("new-checkout", ANYONE, True) is False
    assert client.string_value("copy", ANYONE, "") == "Buy now"
    assert client.json_value("layout", ANYONE, None) == {"cols": 2}
    assert list(client.bootstrap(ANYONE)["flags"]) == ["new-checkout"]

    seen: list[str] = []
    client.on_change(seen.append)
    remove = client.on_change(lambda key: seen.append("copy listener"), key="copy")
    td.set("copy", "Order")
    assert seen == ["copy listener", "copy"]
    remove()
    td.update(td.flag("new-checkout").boolean().on(False))
    assert client.bool_details("new-checkout", ANYONE, True).reason == "DISABLED"
    td.delete("copy")
    assert seen == ["copy listener", "copy", "new-checkout", "copy"]
    assert client.string_details("copy", ANYONE, "d").error_code == "FLAG_NOT_FOUND"


def test_options_are_checked_in_the_constructor():
    for kwargs in (
        {"sdk_key": ""},
        {"sdk_key": "ls_cli_public"},
        {"sdk_key": "ls_srv_x", "base_url": "ftp://x"},
        {"sdk_key": "ls_srv_x", "snapshot": {}},
        {"sdk_key": "ls_srv_x", "read_timeout": 0},
        {"sdk_key": "ls_srv_x", "initial_reconnect_delay": 5, "max_reconnect_delay": 1},
    ):
        with pytest.raises(ConfigurationError):
            Client(**kwargs)
    assert issubclass(ConfigurationError, LaunchSequenceError)


def test_sse_parser():
    parser = SseParser()
    lines = ["retry: 1000", "", ": heartbeat", "", "event: patch", "id: 43", "data: {\"a\":",
             "data: 1}", "", "data:x", ""]  # fmt: skip
    events = [e for e in map(parser.feed, lines) if e is not None]
    assert events == [SseEvent("patch", '{"a":\n1}', "43"), SseEvent("message", "x", "43")]
    assert parser.retry_ms == 1000


def test_sse_parser_ignores_a_retry_that_is_not_ascii_digits():
    parser = SseParser()
    parser.feed("retry: 1000")
    # "²" is a digit to str.isdigit() and not to int(); 5,000 digits are more than int() reads.
    for hostile in ("retry: \u00b2", "retry: \u0663", "retry: " + "9" * 5000, "retry: -1"):
        assert parser.feed(hostile) is None
    assert parser.retry_ms == 1000
    assert parser.feed("data: still parsed") is None
    assert parser.feed("") == SseEvent("message", "still parsed", None)


def test_backoff_doubles_with_jitter_to_the_cap_and_resets():
    backoff = Backoff(1.0, 30.0, reset_after=0.0)
    delays = [backoff.next_delay() for _ in range(8)]
    for step, delay in zip([1, 2, 4, 8, 16, 30, 30, 30], delays, strict=True):
        assert step / 2 <= delay <= step
    backoff.connected()  # a connection that lasted long enough starts over
    assert backoff.next_delay() <= 1.0


def test_changed_flags_follows_segments():
    seg_rule = {"rules": [{"clauses": [{"op": "segment_match", "values": ["outer"]}]}]}
    old = {"flags": {"a": {"on": True}, "b": seg_rule, "c": {"on": True}},
           "segments": {"inner": {"included": ["x"]},
                        "outer": {"rules": [{"clauses": [{"op": "segment_match",
                                                          "values": ["inner"]}]}]}}}  # fmt: skip
    new = json.loads(json.dumps(old))
    new["segments"]["inner"]["included"] = ["y"]
    new["flags"]["c"]["on"] = False
    assert changed_flags(old, new) == ["b", "c"]
    assert changed_flags(None, new) == ["a", "b", "c"]


def test_store_keeps_its_state_on_a_bad_snapshot():
    store = FlagStore()
    store.replace(TestData().set("a", True).snapshot(), "test")
    with pytest.raises(LaunchSequenceError):
        store.replace({"schema_version": 99}, "server")
    assert store.state is not None and "a" in store.state.compiled.flags


def test_the_sdk_imports_nothing_of_the_server():
    code = (
        "import sys, launchsequence_sdk, launchsequence_sdk.openfeature\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('launchsequence', 'fastapi', 'starlette', 'sqlalchemy', 'uvicorn')]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_patch_compiles_only_its_flag_and_matches_a_full_compile():
    td = TestData().set("a", True).set("b", "x")
    store = FlagStore()
    store.replace(td.snapshot(), "server")
    before = store.state
    assert before is not None and not before.uses_now
    timed = {"type": "boolean", "variations": [{"value": True}, {"value": False}], "on": True,
             "off_variation": 1, "fallthrough": {"variation": 1},
             "rules": [{"id": "launch", "clauses": [{"attribute": "$now", "op": "after",
                                                     "values": ["2020-01-01T00:00:00Z"]}],
                        "serve": {"variation": 0}}]}  # fmt: skip
    store.patch("flag", "a", timed, 7)
    store.patch("flag", "broken", {"type": "boolean", "variations": []}, 8)
    state = store.state
    assert state is not None and state.uses_now and state.version == 8
    assert state.compiled.flags["b"] is before.compiled.flags["b"], "b was not recompiled"
    client = Client(offline=True, snapshot=dict(state.document))
    for key in ("a", "b", "broken"):
        via_patch = Client.__new__(Client)
        via_patch._store = store
        assert via_patch.json_details(key, ANYONE, None) == client.json_details(key, ANYONE, None)
    assert client.bool_details("a", ANYONE, False).rule_id == "launch"
    assert client.bool_details("broken", ANYONE, False).error_code == "PARSE_ERROR"
    store.patch("flag", "a", None, 9)  # a delete
    assert "a" not in store.state.compiled.flags and store.state.version == 9


def test_every_option_is_documented():
    import inspect
    from pathlib import Path

    from launchsequence_sdk import AsyncClient

    doc = (Path(__file__).resolve().parents[3] / "docs" / "sdk-python.md").read_text()
    for cls in (Client, AsyncClient):
        for name in inspect.signature(cls).parameters:
            assert f"| `{name}` |" in doc, f"{cls.__name__}({name}=...) is not in the options table"
