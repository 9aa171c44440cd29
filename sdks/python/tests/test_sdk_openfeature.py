"""The OpenFeature provider through `openfeature-sdk`'s own API, against the real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from launchsequence_sdk import Client, TestData
from launchsequence_sdk.openfeature import LaunchSequenceProvider
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus
from sdk_env import make_catalog, setup_env, wait_for


@pytest.fixture
def events() -> Iterator[list[tuple[ProviderEvent, EventDetails]]]:
    """Every provider event (handlers run on OpenFeature's thread pool: wait for them)."""
    seen: list[tuple[ProviderEvent, EventDetails]] = []
    handlers = {}
    for kind in ProviderEvent:
        handlers[kind] = lambda details, kind=kind: seen.append((kind, details))
        api.add_handler(kind, handlers[kind])
    yield seen
    for kind, handler in handlers.items():
        api.remove_handler(kind, handler)
    api.shutdown()


def test_every_type_and_reason(live, events):
    env = setup_env(live.url, "of@example.com")
    make_catalog(env)
    provider = LaunchSequenceProvider(Client(env.key, base_url=live.url))
    api.set_provider_and_wait(provider)
    assert api.get_client().get_provider_status() == ProviderStatus.READY
    wait_for(lambda: any(k == ProviderEvent.PROVIDER_READY and d.provider_name == "launchsequence"
                         for k, d in events))  # fmt: skip
    of = api.get_client()
    anyone = EvaluationContext("u-1", {"country": "US"})

    disabled = of.get_boolean_details("dark", True, anyone)
    assert (disabled.value, disabled.reason, disabled.variant) == (False, Reason.DISABLED, "Off")
    target = of.get_boolean_details("checkout", False, EvaluationContext("vip-1"))
    assert (target.value, target.reason) == (True, Reason.TARGETING_MATCH)
    rule = of.get_boolean_details("checkout", False, EvaluationContext("u-2", {"country": "DE"}))
    assert rule.reason == Reason.TARGETING_MATCH
    assert rule.flag_metadata == {"rule_id": "eu", "rule_index": 0}
    split = of.get_string_details("theme", "x", anyone)
    assert split.reason == Reason.SPLIT and split.value in ("light", "dark")
    default = of.get_float_details("limit", 0.0, anyone)
    assert (default.value, default.reason) == (2.5, Reason.DEFAULT)
    integer = of.get_integer_details("limit", 0, EvaluationContext("u-3"))
    assert (integer.value, integer.reason) == (7, Reason.TARGETING_MATCH)
    assert type(integer.value) is int
    not_integer = of.get_integer_details("limit", 1, anyone)  # 2.5 is not an integer
    assert (not_integer.value, not_integer.error_code) == (1, ErrorCode.TYPE_MISMATCH)
    obj = of.get_object_details("layout", {}, anyone)
    assert (obj.value, obj.reason) == ({"cols": 3}, Reason.STATIC)

    missing = of.get_boolean_details("nope", True, anyone)
    assert (missing.value, missing.reason, missing.error_code) == (
        True, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)  # fmt: skip
    mismatch = of.get_string_details("checkout", "text", anyone)
    assert (mismatch.value, mismatch.reason, mismatch.error_code) == (
        "text", Reason.ERROR, ErrorCode.TYPE_MISMATCH)  # fmt: skip
    no_key = of.get_string_details("theme", "x", EvaluationContext(None, {"a": 1}))
    assert (no_key.value, no_key.error_code) == ("x", ErrorCode.TARGETING_KEY_MISSING)
    keyless = of.get_boolean_details("checkout", False, EvaluationContext(None, {"a": 1}))
    assert (keyless.value, keyless.reason, keyless.error_code) == (False, Reason.DEFAULT, None)

    env.toggle("dark", True)
    wait_for(lambda: any(k == ProviderEvent.PROVIDER_CONFIGURATION_CHANGED for k, _ in events))
    changed = next(d for k, d in events if k == ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
    assert changed.flags_changed == ["dark"]
    assert of.get_boolean_value("dark", False, anyone) is True


def test_refused_key_is_a_provider_error(live, events):
    env = setup_env(live.url, "of-error@example.com")
    env.make_flag("banner", {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}})
    client = Client(env.key, base_url=live.url, initial_reconnect_delay=0.05)
    api.set_provider_and_wait(LaunchSequenceProvider(client))
    env.rotate_key()
    wait_for(lambda: any(k == ProviderEvent.PROVIDER_ERROR for k, _ in events), 5.0)
    assert api.get_client().get_provider_status() == ProviderStatus.ERROR
    assert api.get_client().get_boolean_value("banner", False, EvaluationContext("u")) is True


def test_provider_without_flags_is_an_error_and_answers_defaults(events):
    client = Client("ls_srv_x", base_url="http://127.0.0.1:9", initial_reconnect_delay=0.05)
    provider = LaunchSequenceProvider(client, ready_timeout=0.2)
    api.set_provider(provider)
    wait_for(lambda: any(k == ProviderEvent.PROVIDER_ERROR for k, _ in events), 2.0)
    details = provider.resolve_boolean_details("x", True, EvaluationContext("u"))
    assert (details.value, details.error_code) == (True, ErrorCode.PROVIDER_NOT_READY)


def test_test_data_changes_are_configuration_events(events):
    td = TestData()
    td.set("greeting", "hello")
    api.set_provider_and_wait(LaunchSequenceProvider(Client.for_test_data(td)))
    of = api.get_client()
    assert of.get_string_value("greeting", "", EvaluationContext("u")) == "hello"
    td.set("greeting", "bonjour")
    assert of.get_string_value("greeting", "", EvaluationContext("u")) == "bonjour"
    changed = ProviderEvent.PROVIDER_CONFIGURATION_CHANGED
    wait_for(lambda: [d.flags_changed for k, d in events if k == changed] == [["greeting"]])


def test_stale_passes_through_while_the_server_is_down(server, events):
    env = setup_env(server.url, "of-stale@example.com")
    make_catalog(env)
    client = Client(env.key, base_url=server.url, initial_reconnect_delay=0.1,
                    max_reconnect_delay=0.5)  # fmt: skip
    api.set_provider_and_wait(LaunchSequenceProvider(client))
    of = api.get_client()
    german = EvaluationContext("u-2", {"country": "DE"})
    assert of.get_boolean_details("checkout", False, german).reason == Reason.TARGETING_MATCH

    server.kill()
    wait_for(lambda: any(k == ProviderEvent.PROVIDER_STALE for k, _ in events), 5.0)
    assert of.get_provider_status() == ProviderStatus.STALE
    rule = of.get_boolean_details("checkout", False, german)
    assert (rule.value, rule.reason, rule.error_code) == (True, Reason.STALE, None)
    assert rule.flag_metadata == {"rule_id": "eu", "rule_index": 0}
    limit = of.get_integer_details("limit", 0, EvaluationContext("u-3"))
    assert (limit.value, limit.reason) == (7, Reason.STALE)
    layout = of.get_object_details("layout", {}, EvaluationContext("u-1"))
    assert (layout.value, layout.reason, layout.variant) == ({"cols": 3}, Reason.STALE, "1")
    missing = of.get_boolean_details("nope", True, german)
    assert (missing.reason, missing.error_code) == (Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)

    server.start()
    stale_at = next(i for i, (k, _) in enumerate(events) if k == ProviderEvent.PROVIDER_STALE)
    wait_for(lambda: any(k == ProviderEvent.PROVIDER_READY for k, _ in events[stale_at:]), 10.0)
    assert of.get_provider_status() == ProviderStatus.READY
    assert of.get_boolean_details("checkout", False, german).reason == Reason.TARGETING_MATCH
