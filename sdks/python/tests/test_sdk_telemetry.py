"""OpenTelemetry: each evaluation inside a recording span adds OpenTelemetry's
`feature_flag.evaluation` event to it, with the semantic conventions' attributes. Checked with
the real opentelemetry-sdk and its in-memory span exporter, against a live server and test data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from launchsequence_sdk import Client, ConfigurationError, TestData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sdk_env import setup_env, wait_for

NAMED = {"on": True, "off_variation": 1, "fallthrough": {"variation": 1},
         "rules": [{"id": "eu", "clauses": [{"attribute": "country", "op": "in", "values": ["DE"]}],
                    "serve": {"variation": 0}}]}  # fmt: skip


class Spans:
    """A tracer whose finished spans land in OpenTelemetry's in-memory exporter."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("tests")

    def events(self) -> list[dict[str, Any]]:
        """The attributes of every feature_flag.evaluation event of the finished spans."""
        spans: tuple[ReadableSpan, ...] = self.exporter.get_finished_spans()
        return [dict(e.attributes or {}) for s in spans for e in s.events
                if e.name == "feature_flag.evaluation"]  # fmt: skip


@pytest.fixture
def spans() -> Spans:
    return Spans()


@pytest.fixture
def td() -> TestData:
    td = TestData()
    td.update(td.flag("checkout").boolean().fallthrough(False).if_match("plan", "pro").then(True))
    td.set("layout", {"cols": 3})
    return td


@pytest.fixture
def served(live) -> Iterator[tuple[Client, Any]]:
    env = setup_env(live.url, "otel@example.com")
    env.make_flag(
        "banner",
        NAMED,
        variations=[{"value": True, "name": "shown"}, {"value": False, "name": "hidden"}],
    )
    client = Client(env.key, base_url=live.url)
    assert client.wait_until_ready(10)
    yield client, env
    client.close()


def test_an_evaluation_in_a_span_is_recorded_with_the_variant_reason_and_context(spans, served):
    client, _ = served
    with spans.tracer.start_as_current_span("GET /checkout"):
        assert client.bool_value("banner", {"key": "user-1", "country": "DE"}, False) is True
        details = client.bool_details("banner", {"key": "user-2", "country": "FR"}, True)
    assert details.value is False
    assert spans.events() == [
        {"feature_flag.key": "banner", "feature_flag.provider.name": "Launch Sequence",
         "feature_flag.result.variant": "shown", "feature_flag.result.reason": "targeting_match",
         "feature_flag.context.id": "user-1", "feature_flag.version": str(client.version)},
        {"feature_flag.key": "banner", "feature_flag.provider.name": "Launch Sequence",
         "feature_flag.result.variant": "hidden", "feature_flag.result.reason": "default",
         "feature_flag.context.id": "user-2", "feature_flag.version": str(client.version)},
    ]  # fmt: skip


def test_a_change_at_the_server_shows_in_the_next_event(spans, served):
    client, env = served
    before = client.version
    env.toggle("banner", False)
    wait_for(lambda: client.version != before, 5.0, "the change reaches the client")
    with spans.tracer.start_as_current_span("request"):
        client.bool_value("banner", {"key": "user-1", "country": "DE"}, True)
    (event,) = spans.events()
    assert event["feature_flag.result.reason"] == "disabled"
    assert event["feature_flag.result.variant"] == "hidden"
    assert event["feature_flag.version"] == str(client.version)


def test_values_are_recorded_when_asked_for(spans, td):
    client = Client(offline=True, snapshot=td.snapshot(), telemetry_values=True)
    plain = Client.for_test_data(td)
    with spans.tracer.start_as_current_span("job"):
        assert client.bool_value("checkout", {"key": "u", "plan": "pro"}, False) is True
        assert client.json_value("layout", {}, None) == {"cols": 3}
        assert plain.json_value("layout", {}, None) == {"cols": 3}
    checkout, layout, without = spans.events()
    assert checkout["feature_flag.result.value"] is True
    assert checkout["feature_flag.result.variant"] == "0"  # an unnamed variation: its index
    assert checkout["feature_flag.result.reason"] == "targeting_match"
    assert layout["feature_flag.result.value"] == '{"cols":3}'  # JSON: attributes are scalars
    assert "feature_flag.context.id" not in layout  # no key, no context id
    assert "feature_flag.result.value" not in without  # opt-in where there is a variant


def test_errors_are_recorded_with_their_error_type(spans, td):
    client = Client.for_test_data(td)
    not_ready = Client("ls_srv_unreachable", base_url="http://127.0.0.1:9", connect_timeout=0.2)
    with spans.tracer.start_as_current_span("request"):
        assert client.string_value("missing", {"key": "u"}, "dflt") == "dflt"
        assert client.string_value("checkout", {"key": "u"}, "dflt") == "dflt"
        assert not_ready.bool_value("checkout", {"key": "u"}, True) is True
    not_ready.close()
    missing, mismatch, early = spans.events()
    assert (missing["feature_flag.result.reason"], missing["error.type"]) == (
        "error",
        "flag_not_found",
    )
    assert missing["feature_flag.result.value"] == "dflt"  # what the application was given
    assert mismatch["error.type"] == "type_mismatch" and mismatch["error.message"]
    assert early["error.type"] == "provider_not_ready"


def test_stale_flags_are_recorded_as_stale(spans, served):
    client, _ = served
    client.close()  # nothing keeps them current any more
    with spans.tracer.start_as_current_span("request"):
        client.bool_value("banner", {"key": "u", "country": "DE"}, False)
    assert spans.events()[0]["feature_flag.result.reason"] == "stale"


def test_nothing_is_recorded_outside_a_span_or_when_turned_off(spans, td):
    client = Client.for_test_data(td)
    assert client.bool_value("checkout", {"key": "u", "plan": "pro"}, False) is True
    silent = Client(offline=True, snapshot=td.snapshot(), telemetry=False)
    with spans.tracer.start_as_current_span("request"):
        assert silent.bool_value("checkout", {"key": "u", "plan": "pro"}, False) is True
        assert silent.bool_details("checkout", {"key": "u"}, True).value is False
    assert spans.events() == []
    assert len(spans.exporter.get_finished_spans()) == 1


def test_openfeature_evaluations_are_recorded_once_each(spans, td):
    from launchsequence_sdk.openfeature import LaunchSequenceProvider
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext

    api.set_provider_and_wait(LaunchSequenceProvider(Client.for_test_data(td)), domain="otel")
    flags = api.get_client("otel")
    try:
        with spans.tracer.start_as_current_span("request"):
            context = EvaluationContext("user-9", {"plan": "pro"})
            assert flags.get_boolean_value("checkout", False, context) is True
    finally:
        api.shutdown()
    (event,) = spans.events()
    assert event["feature_flag.context.id"] == "user-9"
    assert event["feature_flag.provider.name"] == "Launch Sequence"


def test_a_bad_telemetry_option_is_refused_at_construction():
    with pytest.raises(ConfigurationError):
        Client(offline=True, telemetry="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Client(offline=True, telemetry_values=None)  # type: ignore[arg-type]


def test_without_opentelemetry_the_client_works_and_telemetry_true_is_refused():
    script = textwrap.dedent("""
        import sys
        sys.modules["opentelemetry"] = None  # as if it were not installed
        from launchsequence_sdk import Client, ConfigurationError, TestData
        td = TestData(); td.set("f", "v")
        assert Client.for_test_data(td).string_value("f", {}, "d") == "v"
        try:
            Client(offline=True, telemetry=True)
        except ConfigurationError as e:
            print("refused:", e)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "refused: telemetry=True needs opentelemetry-api" in run.stdout


def test_the_async_client_records_its_evaluations_too(spans, td):
    from launchsequence_sdk import AsyncClient

    client = AsyncClient.for_test_data(td)
    with spans.tracer.start_as_current_span("request"):
        assert client.bool_details("checkout", {"key": "u", "plan": "pro"}, False).value is True
    (event,) = spans.events()
    assert event["feature_flag.result.reason"] == "targeting_match"
    assert event["feature_flag.context.id"] == "u"
