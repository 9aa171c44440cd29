"""OpenFeature's own specification suites (its Gherkin files, as written) against a real server,
through the published Python SDK with the published OFREP provider and with our own provider.

The feature files are read from `<repo>/../shared/openfeature-spec/` (see
`tests/support/openfeature_suites.py`); the flags of its `test-flags.json` are written into the
server through the admin API. A scenario that cannot apply to a remote provider is reported as
skipped with the reason; every other one must pass. The Node providers run the same suites in
`tests/openfeature-node/`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from launchsequence_sdk import Client
from launchsequence_sdk.openfeature import LaunchSequenceProvider
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagEvaluationDetails

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.http.test_delivery import server_key
from tests.support.api import signup
from tests.support.live import LiveServer
from tests.support.openfeature_suites import load_flags, not_applicable, pickles, required, spec_dir

SPEC = spec_dir()
if SPEC is None and required():
    raise RuntimeError("../shared/openfeature-spec is missing: CI must place it beside the clone")
FLAGS: dict[str, Any] = json.loads((SPEC / "test-flags.json").read_text()) if SPEC else {}
SCENARIOS = pickles(SPEC) if SPEC else []
PROVIDERS = ("ofrep", "launchsequence")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One server for the module, holding test-flags.json; its URL and a server key."""
    data = tmp_path_factory.mktemp("openfeature-suites")
    app = create_app(Settings(data_dir=str(data), secret_key="test-secret"))
    live = LiveServer(app).start()
    try:
        user = signup(live.url, "suites@example.com")
        base = f"/api/v1/orgs/{user.org}/projects/default"
        load_flags(user, base, FLAGS)
        yield {"url": live.url, "key": server_key(user, base)}
    finally:
        live.stop()


@pytest.fixture(scope="module", params=PROVIDERS)
def client(request: pytest.FixtureRequest, server: dict[str, str]) -> Iterator[OpenFeatureClient]:
    """An OpenFeature client on the given provider, ready."""
    domain = f"suites-{request.param}"
    if request.param == "ofrep":
        key = server["key"]
        provider: Any = OFREPProvider(
            server["url"], headers_factory=lambda: {"Authorization": f"Bearer {key}"}
        )
        sdk = None
    else:
        sdk = Client(server["key"], base_url=server["url"])
        assert sdk.wait_until_ready(10)
        provider = LaunchSequenceProvider(sdk)
    api.set_provider(provider, domain)
    try:
        yield api.get_client(domain)
    finally:
        api.clear_providers()
        if sdk is not None:
            sdk.close()


def _ids() -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for feature, pickle in SCENARIOS:
        name = f"{feature}:{pickle['name']}"
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{name}#{seen[name]}" if seen[name] > 1 else name)
    return out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids())
def test_openfeature_scenario(
    request: pytest.FixtureRequest, client: OpenFeatureClient, scenario: tuple[str, dict[str, Any]]
) -> None:
    _, pickle = scenario
    reason = not_applicable(pickle, FLAGS)
    if reason is not None:
        pytest.skip(f"not applicable to a remote provider: {reason}")
    if request.node.callspec.params["client"] == "ofrep" and _bool_as_integer(pickle):
        # A defect of the published provider, not of the server: it type-checks an integer
        # with isinstance(value, int), which Python's True passes.
        pytest.xfail("openfeature-provider-ofrep 0.3.0 accepts a boolean value as an integer")
    run = Run(client)
    for step in pickle["steps"]:
        run.step(step["text"], step.get("argument", {}).get("dataTable"))


def _bool_as_integer(pickle: dict[str, Any]) -> bool:
    texts = [step["text"] for step in pickle["steps"]]
    return any('Integer-flag with key "boolean-flag"' in t for t in texts) and any(
        "TYPE_MISMATCH" in t for t in texts
    )


def test_the_suites_are_there() -> None:
    if SPEC is None:
        pytest.skip("../shared/openfeature-spec is not beside this clone")
    assert len(SCENARIOS) > 80


# --- steps -----------------------------------------------------------------------------------

_TYPES = {"boolean": "Boolean", "string": "String", "integer": "Integer", "float": "Float",
          "object": "Object"}  # fmt: skip


def typed(kind: str, text: str | None) -> Any:
    """A Gherkin value as OpenFeature's type `kind` (Boolean, String, Integer, Float, Object)."""
    if text is None or text == "null":
        return None
    if kind == "Boolean":
        return text == "true"
    if kind == "Integer":
        return int(text)
    if kind == "Float":
        return float(text)
    if kind == "Object":
        return json.loads(text.replace('\\"', '"'))
    return text


class Run:
    """One scenario's state: the flag asked for, the context, the last details."""

    def __init__(self, client: OpenFeatureClient) -> None:
        self.client = client
        self.kind = "String"
        self.key = ""
        self.default: Any = None
        self.context: dict[str, Any] = {}
        self.details: FlagEvaluationDetails[Any] | None = None
        self.steps: list[tuple[re.Pattern[str], Callable[..., None]]] = [
            (re.compile(p), f)
            for p, f in [
                (r"^a stable provider$", lambda: None),
                (r'^an? (\w+)-flag with key "([^"]*)" and a fallback value "(.*)"$', self.given),
                (
                    r'^a context containing a key "(\w+)", with type "(\w+)" '
                    r'and with value "(.*)"$',
                    self.attribute,
                ),
                (r'^a context containing a key "(\w+)" with null value$', self.null_attribute),
                (r"^the flag was evaluated with details$", self.evaluate),
                (r'^the resolved details value should be "(.*)"$', self.value_is),
                (r'^the reason should be "(\w+)"$', self.reason_is),
                (r'^the error-code should be "(\w+)"$', self.error_is),
                (r'^the flag key should be "(.*)"$', self.key_is),
                (r'^the variant should be "([^"]*)"$', self.variant_is),
                (r'^the provider status should be "(\w+)"$', self.status_is),
                (r"^the flag was evaluated with details asynchronously$", self.evaluate_async),
                (r"^the evaluation should complete without blocking$", lambda: None),
                (r"^the resolved metadata should contain$", self.metadata_contains),
                (r"^the resolved metadata is empty$", self.metadata_empty),
                # evaluation.feature (v1)
                (
                    r'^an? (\w+) flag with key "([^"]*)" is evaluated with (details and )?'
                    r'(?:default value "?([^"]*)"?|a null default value)$',
                    self.v1_evaluate,
                ),
                (r'^the resolved (\w+) value should be "?([^"]*)"?$', self.v1_value_is),
                (
                    r'^the resolved (\w+) details value should be "?([^",]*)"?, the variant should '
                    r'be "(\w+)", and the reason should be "(\w+)"$',
                    self.v1_details_are,
                ),
                (
                    r"^the resolved object (?:details )?value should be contain fields "
                    r'"(\w+)", "(\w+)", and "(\w+)", with values "(\w+)", "([^"]*)" '
                    r"and (\d+), respectively$",
                    self.v1_object_is,
                ),
                (
                    r'^the variant should be "(\w+)", and the reason should be "(\w+)"$',
                    self.v1_variant_reason,
                ),
                (
                    r'^a non-existent string flag with key "([^"]*)" is evaluated with details and '
                    r'a fallback value "([^"]*)"$',
                    self.v1_missing,
                ),
                (
                    r'^a string flag with key "([^"]*)" is evaluated as an integer, with details '
                    r"and a fallback value (\d+)$",
                    self.v1_as_integer,
                ),
                (r"^the default (\w+) value should be returned$", self.v1_default_returned),
                (
                    r"^the reason should indicate an error and the error code should indicate "
                    r'an? [\w ]+ with "(\w+)"$',
                    self.v1_error,
                ),
            ]
        ]

    def step(self, text: str, table: dict[str, Any] | None) -> None:
        for pattern, action in self.steps:
            match = pattern.match(text)
            if match:
                args = [g for g in match.groups()]
                if table is not None:
                    args.append([[c["value"] for c in row["cells"]] for row in table["rows"]])
                action(*args)
                return
        raise AssertionError(f"no step definition for {text!r}")

    # given / when

    def given(self, kind: str, key: str, default: str) -> None:
        self.kind, self.key, self.default = kind, key, typed(kind, default)

    def attribute(self, name: str, kind: str, value: str) -> None:
        self.context[name] = typed(kind, value)

    def null_attribute(self, name: str) -> None:
        self.context[name] = None

    def evaluate(self) -> None:
        context = EvaluationContext(attributes=dict(self.context))
        method = getattr(self.client, f"get_{self.kind.lower()}_details")
        self.details = method(self.key, self.default, context)

    def evaluate_async(self) -> None:
        context = EvaluationContext(attributes=dict(self.context))
        method = getattr(self.client, f"get_{self.kind.lower()}_details_async")
        self.details = asyncio.run(method(self.key, self.default, context))

    def status_is(self, status: str) -> None:
        assert self.client.get_provider_status().value == status

    # then

    @property
    def done(self) -> FlagEvaluationDetails[Any]:
        assert self.details is not None, "nothing was evaluated"
        return self.details

    def value_is(self, text: str) -> None:
        want = typed(self.kind, text)
        got = self.done.value
        assert got == want and type(got) is type(want), (got, want, self.done)

    def reason_is(self, reason: str) -> None:
        assert str(getattr(self.done.reason, "value", self.done.reason)) == reason, self.done

    def error_is(self, code: str) -> None:
        got = self.done.error_code
        assert str(getattr(got, "value", got)) == code, self.done

    def key_is(self, key: str) -> None:
        assert self.done.flag_key == key, self.done

    def variant_is(self, variant: str) -> None:
        assert self.done.variant == variant, self.done

    def metadata_contains(self, rows: list[list[str]]) -> None:
        metadata = dict(self.done.flag_metadata)
        for key, kind, value in rows[1:]:
            want = typed(kind, value)
            assert metadata.get(key) == want and type(metadata.get(key)) is type(want), (
                key, metadata)  # fmt: skip

    def metadata_empty(self) -> None:
        assert not self.done.flag_metadata, self.done

    # evaluation.feature (v1)

    def v1_evaluate(self, kind: str, key: str, details: str | None, default: str | None) -> None:
        self.kind, self.key = _TYPES[kind], key
        self.default = typed(self.kind, default) if default is not None else None
        if self.kind == "Object" and self.default is None:
            self.default = {}  # "a null default value": the Python SDK's object default is {}
        self.evaluate()

    def v1_value_is(self, kind: str, text: str) -> None:
        self.kind = _TYPES[kind]
        self.value_is(text)

    def v1_details_are(self, kind: str, text: str, variant: str, reason: str) -> None:
        self.v1_value_is(kind, text)
        self.variant_is(variant)
        self.reason_is(reason)

    def v1_object_is(self, a: str, b: str, c: str, va: str, vb: str, vc: str) -> None:
        value = self.done.value
        assert value == {a: va == "true", b: vb, c: int(vc)}, value

    def v1_variant_reason(self, variant: str, reason: str) -> None:
        self.variant_is(variant)
        self.reason_is(reason)

    def v1_missing(self, key: str, default: str) -> None:
        self.kind, self.key, self.default = "String", key, default
        self.evaluate()

    def v1_as_integer(self, key: str, default: str) -> None:
        self.kind, self.key, self.default = "Integer", key, int(default)
        self.evaluate()

    def v1_default_returned(self, kind: str) -> None:
        assert self.done.value == self.default, self.done

    def v1_error(self, code: str) -> None:
        self.reason_is("ERROR")
        self.error_is(code)
