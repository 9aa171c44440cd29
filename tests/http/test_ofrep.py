"""OFREP (/ofrep/v1) through the real published OpenFeature SDK and OFREP provider, and the raw
protocol shapes: single and bulk evaluation, ETags, and the bulk event stream.

What the Python OFREP provider (openfeature-provider-ofrep 0.3.0) does with numbers: it checks
the JSON value's Python type against the requested flag type. `get_float_details` accepts a
value that JSON decodes as a float (1.5, and 3.0, which the store keeps as written) and answers
TYPE_MISMATCH (with the caller's default) for one that decodes as an int (2); that value works
through `get_integer_details`, which in turn refuses 1.5. A number flag meant for
`get_float_*` should therefore keep a fractional part or be written as `3.0`. (2 and 2.0
are one value to the server: a flag cannot have both as variations.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from tests.http.test_delivery import HTTP, Env, configure, make_flag, setup_env, stream, toggle

BOOL = {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}}


def provision(url: str, email: str) -> Env:
    """An environment with one flag of each type, all client-side except `server-only`."""
    e = setup_env(url, email)
    make_flag(
        e,
        "beta",
        {"on": True, "off_variation": 1,
         "rules": [{"id": "eu", "clauses": [{"attribute": "country", "op": "in",
                                             "values": ["DE"]}], "serve": {"variation": 0}}],
         "fallthrough": {"variation": 1}},
        client_side=True,
    )  # fmt: skip
    make_flag(e, "dark", {**BOOL, "on": False}, client_side=True)
    make_flag(
        e,
        "theme",
        {"on": True, "off_variation": 0,
         "fallthrough": {"rollout": {"weights": [{"variation": 0, "weight": 50_000},
                                                 {"variation": 1, "weight": 50_000}]}}},
        type="string",
        variations=[{"value": "light", "name": "Light"}, {"value": "dark", "name": "Dark"}],
        client_side=True,
    )  # fmt: skip
    make_flag(
        e,
        "ratio",
        {"on": True, "off_variation": 0, "fallthrough": {"variation": 0},
         "targets": [{"variation": 1, "values": ["int-user"]},
                     {"variation": 2, "values": ["float-user"]}]},
        type="number",
        variations=[{"value": 1.5, "name": "half"}, {"value": 2, "name": "two"},
                    {"value": 3.0, "name": "three-point-oh"}],
        client_side=True,
    )  # fmt: skip
    make_flag(
        e,
        "layout",
        BOOL,
        type="json",
        variations=[{"value": {"columns": 3, "cards": ["news", "weather"]}, "name": "grid"},
                    {"value": {"columns": 1}, "name": "list"}],
        client_side=True,
    )  # fmt: skip
    make_flag(e, "server-only", BOOL)
    return e


@pytest.fixture
def openfeature_domains() -> Iterator[list[str]]:
    domains: list[str] = []
    yield domains
    api.clear_providers()


def client_for(url: str, key: str, domain: str, domains: list[str]) -> Any:
    provider = OFREPProvider(url, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
    api.set_provider(provider, domain=domain)
    domains.append(domain)
    return api.get_client(domain)


def test_the_openfeature_ofrep_provider_evaluates_every_type(live, openfeature_domains):
    e = provision(live.url, "of@example.com")
    of = client_for(live.url, e.server_key, "server", openfeature_domains)
    de = EvaluationContext(targeting_key="user-1", attributes={"country": "DE"})
    us = EvaluationContext(targeting_key="user-1", attributes={"country": "US"})

    matched = of.get_boolean_details("beta", False, de)
    assert (matched.value, matched.variant, matched.reason) == (True, "On", Reason.TARGETING_MATCH)
    assert matched.error_code is None
    assert matched.flag_metadata == {"ruleId": "eu", "ruleIndex": 0}
    default = of.get_boolean_details("beta", True, us)
    assert (default.value, default.variant, default.reason) == (False, "Off", Reason.DEFAULT)
    off = of.get_boolean_details("dark", True, us)
    assert (off.value, off.variant, off.reason) == (False, "Off", Reason.DISABLED)

    themes = set()
    for i in range(16):
        ctx = EvaluationContext(targeting_key=f"user-{i}")
        theme = of.get_string_details("theme", "none", ctx)
        assert theme.reason == Reason.SPLIT and theme.error_code is None
        assert (theme.value, theme.variant) in {("light", "Light"), ("dark", "Dark")}
        themes.add(theme.value)
    assert themes == {"light", "dark"}

    half = of.get_float_details("ratio", 0.0, us)
    assert (half.value, half.variant, half.reason) == (1.5, "half", Reason.DEFAULT)
    float_user = EvaluationContext(targeting_key="float-user")
    three = of.get_float_details("ratio", 0.0, float_user)
    assert (three.value, three.variant) == (3.0, "three-point-oh")
    assert three.reason == Reason.TARGETING_MATCH and type(three.value) is float
    int_user = EvaluationContext(targeting_key="int-user")
    two = of.get_integer_details("ratio", 0, int_user)
    assert (two.value, two.variant, two.reason) == (2, "two", Reason.TARGETING_MATCH)
    assert type(two.value) is int
    # The provider's FLOAT check wants a JSON float: an integral value is a type mismatch...
    as_float = of.get_float_details("ratio", 9.5, int_user)
    assert (as_float.value, as_float.error_code) == (9.5, ErrorCode.TYPE_MISMATCH)
    # ...and the INTEGER check refuses a fractional one.
    as_int = of.get_integer_details("ratio", 7, us)
    assert (as_int.value, as_int.error_code) == (7, ErrorCode.TYPE_MISMATCH)

    layout = of.get_object_details("layout", {}, us)
    assert layout.value == {"columns": 3, "cards": ["news", "weather"]}
    assert (layout.variant, layout.reason) == ("grid", Reason.STATIC)
    wrong_type = of.get_boolean_details("theme", False, us)
    assert (wrong_type.value, wrong_type.error_code) == (False, ErrorCode.TYPE_MISMATCH)

    missing = of.get_boolean_details("no-such-flag", True, us)
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    assert missing.reason == Reason.ERROR
    # The key is optional: only a step that needs it (theme's rollout by key) answers
    # TARGETING_KEY_MISSING.
    keyless = of.get_boolean_details("beta", False, EvaluationContext(attributes={"country": "DE"}))
    assert (keyless.value, keyless.reason) == (True, Reason.TARGETING_MATCH)
    assert keyless.error_code is None
    no_context = of.get_string_details("theme", "fallback")
    assert no_context.value == "fallback"
    assert no_context.error_code == ErrorCode.TARGETING_KEY_MISSING
    server_only = of.get_boolean_details("server-only", False, us)
    assert (server_only.value, server_only.reason) == (True, Reason.STATIC)

    # A client key: client-side flags as before, any other flag does not exist for it.
    browser = client_for(live.url, e.client_key, "browser", openfeature_domains)
    assert browser.get_boolean_details("beta", False, de).value is True
    hidden = browser.get_boolean_details("server-only", False, us)
    assert (hidden.value, hidden.error_code) == (False, ErrorCode.FLAG_NOT_FOUND)

    # A wrong key: the caller's default, never an exception.
    stranger = client_for(live.url, "ls_srv_wrong", "stranger", openfeature_domains)
    refused = stranger.get_boolean_details("beta", True, de)
    assert (refused.value, refused.reason) == (True, Reason.ERROR)
    assert refused.error_code == ErrorCode.GENERAL


def ofrep(url: str, path: str, key: str, body: Any, **headers: str) -> httpx.Response:
    headers["Authorization"] = f"Bearer {key}"
    return HTTP.post(f"{url}/ofrep/v1{path}", json=body, headers=headers)


def test_ofrep_single_flag_shapes(live):
    e = provision(live.url, "shapes@example.com")
    de = {"context": {"targetingKey": "user-1", "country": "DE"}}

    ok = ofrep(live.url, "/evaluate/flags/beta", e.server_key, de)
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"
    assert ok.json() == {"key": "beta", "reason": "TARGETING_MATCH", "variant": "On",
                         "value": True, "metadata": {"ruleId": "eu", "ruleIndex": 0}}  # fmt: skip
    layout = ofrep(live.url, "/evaluate/flags/layout", e.server_key, de).json()
    grid = {"columns": 3, "cards": ["news", "weather"]}
    assert layout == {
        "key": "layout", "reason": "STATIC", "variant": "grid", "value": grid, "metadata": {}
    }  # fmt: skip

    missing = ofrep(live.url, "/evaluate/flags/no-such-flag", e.server_key, de)
    assert missing.status_code == 404
    body = missing.json()
    assert body["key"] == "no-such-flag" and body["errorCode"] == "FLAG_NOT_FOUND"
    assert isinstance(body["errorDetails"], str) and "value" not in body
    hidden = ofrep(live.url, "/evaluate/flags/server-only", e.client_key, de)
    assert hidden.status_code == 404 and hidden.json() == {**body, "key": "server-only"}

    keyless = ofrep(live.url, "/evaluate/flags/beta", e.server_key, {"context": {"country": "DE"}})
    assert keyless.status_code == 200 and keyless.json()["value"] is True
    for context, code in [  # theme buckets by the key: it needs one
        ({"country": "DE"}, "TARGETING_KEY_MISSING"),
        ({"targetingKey": ""}, "TARGETING_KEY_MISSING"),
        ({"targetingKey": 42}, "INVALID_CONTEXT"),
        ([], "INVALID_CONTEXT"),
        ("user-1", "INVALID_CONTEXT"),
    ]:
        r = ofrep(live.url, "/evaluate/flags/theme", e.server_key, {"context": context})
        assert r.status_code == 400, (context, r.text)
        assert r.json()["errorCode"] == code, context
        assert r.json()["key"] == "theme" and r.json()["errorDetails"]
    broken = HTTP.post(f"{live.url}/ofrep/v1/evaluate/flags/beta", content=b"{nope",
                       headers={"Authorization": f"Bearer {e.server_key}"})  # fmt: skip
    assert broken.status_code == 400 and broken.json()["errorCode"] == "PARSE_ERROR"
    unauthorized = ofrep(live.url, "/evaluate/flags/beta", "ls_srv_wrong", de)
    assert unauthorized.status_code == 401


def test_ofrep_bulk_etag_and_event_stream(live):
    e = provision(live.url, "bulk@example.com")
    ctx = {"context": {"targetingKey": "user-1", "country": "DE"}}

    first = ofrep(live.url, "/evaluate/flags", e.server_key, ctx)
    assert first.status_code == 200
    body = first.json()
    flags = {f["key"]: f for f in body["flags"]}
    assert set(flags) == {"beta", "dark", "theme", "ratio", "layout", "server-only"}
    assert flags["beta"] == {
        "key": "beta", "reason": "TARGETING_MATCH", "variant": "On", "value": True,
        "metadata": {"ruleId": "eu", "ruleIndex": 0},
    }  # fmt: skip
    assert flags["dark"]["reason"] == "DISABLED"
    [event_stream] = body["eventStreams"]
    assert event_stream["type"] == "sse"
    request_uri = event_stream["endpoint"]["requestUri"]
    assert request_uri.startswith("/ofrep/v1/events?token=")
    assert e.server_key not in request_uri  # the token names the key's digest, not the key
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = ofrep(live.url, "/evaluate/flags", e.server_key, ctx, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = {"context": {"targetingKey": "user-1", "country": "US"}}
    cached = {"If-None-Match": etag}
    changed_context = ofrep(live.url, "/evaluate/flags", e.server_key, other, **cached)
    assert changed_context.status_code == 200 and changed_context.headers["etag"] != etag

    browser = ofrep(live.url, "/evaluate/flags", e.client_key, ctx)
    assert browser.status_code == 200
    client_side = {"beta", "dark", "theme", "ratio", "layout"}
    assert {f["key"] for f in browser.json()["flags"]} == client_side
    assert browser.headers["etag"] != etag
    browser_uri = browser.json()["eventStreams"][0]["endpoint"]["requestUri"]
    keyless = ofrep(live.url, "/evaluate/flags", e.server_key, {"context": {"country": "DE"}})
    assert keyless.status_code == 200
    answers = {f["key"]: f for f in keyless.json()["flags"]}
    assert answers["beta"]["value"] is True
    assert answers["theme"]["errorCode"] == "TARGETING_KEY_MISSING"
    assert "value" not in answers["theme"]

    with (
        stream(live.url, request_uri) as server_events,
        stream(live.url, browser_uri) as client_events,
    ):
        assert server_events.status == 200 and client_events.status == 200
        assert server_events.headers["content-type"].startswith("text/event-stream")

        toggle(e, "server-only", False)  # the server key sees it; the client key does not
        message = server_events.next_data_event()
        assert message.event in (None, "message")  # what EventSource's onmessage receives
        assert message.data["type"] == "refetchEvaluation"
        assert isinstance(message.data["etag"], str) and message.data["etag"]
        after = ofrep(live.url, "/evaluate/flags", e.server_key, ctx, **{"If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert {f["key"]: f for f in after.json()["flags"]}["server-only"]["reason"] == "DISABLED"

        configure(e, "dark", {"on": True})  # the barrier: both see this one
        barrier = client_events.next_data_event()
        assert barrier.data["type"] == "refetchEvaluation"
        assert barrier.data["etag"] != message.data["etag"]  # not the server-only change
        assert server_events.next_data_event().data == barrier.data

    tampered = request_uri[:-1] + ("0" if request_uri[-1] != "0" else "1")
    for uri in (tampered, "/ofrep/v1/events?token=", "/ofrep/v1/events"):
        with stream(live.url, uri) as refused:
            assert refused.status == 401, uri
            assert refused.json()["error"]["code"] == "unauthorized"

    # Rotating the key with no grace ends its stream token too.
    r = e.user.post(f"{e.base}/environments/production/sdk-keys",
                    json={"kind": "server", "grace_seconds": 0})  # fmt: skip
    assert r.status_code == 201
    with stream(live.url, request_uri) as expired:
        assert expired.status == 401


def test_ofrep_code_default_metadata_and_etag_of_what_the_key_sees(live, openfeature_domains):
    """An unset off variation or fallthrough answers OFREP's code default (no value), which the
    published provider turns into the caller's default; flag metadata reaches the answer and
    OpenFeature's flag metadata; the bulk ETag moves only with what that key and context get."""
    e = provision(live.url, "codedefault@example.com")
    r = e.user.patch(f"{e.base}/flags/layout", json={"metadata": {"owner": "web", "ticket": 7}})
    assert r.status_code == 200 and r.json()["metadata"] == {"owner": "web", "ticket": 7}
    configure(e, "dark", {"on": False, "off_variation": None, "fallthrough": None})
    ctx = {"context": {"targetingKey": "user-1"}}

    dark = ofrep(live.url, "/evaluate/flags/dark", e.server_key, ctx)
    assert dark.status_code == 200
    assert dark.json() == {"key": "dark", "reason": "DISABLED", "variant": None, "metadata": {}}
    configure(e, "dark", {"on": True})
    on_without_default = ofrep(live.url, "/evaluate/flags/dark", e.server_key, ctx).json()
    assert on_without_default == {
        "key": "dark", "reason": "DEFAULT", "variant": None, "metadata": {}
    }  # fmt: skip
    layout = ofrep(live.url, "/evaluate/flags/layout", e.server_key, ctx).json()
    assert layout["metadata"] == {"owner": "web", "ticket": 7}

    client = client_for(live.url, e.server_key, "code-default", openfeature_domains)
    user = EvaluationContext(targeting_key="user-1")
    details = client.get_boolean_details("dark", True, user)
    assert (details.value, details.reason, details.error_code) == (True, "DEFAULT", None)
    shown = client.get_object_details("layout", {}, user)
    assert shown.flag_metadata == {"owner": "web", "ticket": 7}

    first = ofrep(live.url, "/evaluate/flags", e.client_key, ctx)
    etag = first.headers["etag"]
    toggle(e, "server-only", False)  # a change the client key cannot see
    unseen = ofrep(live.url, "/evaluate/flags", e.client_key, ctx, **{"If-None-Match": etag})
    assert unseen.status_code == 304 and unseen.headers["etag"] == etag
    bare = ofrep(live.url, "/evaluate/flags", e.client_key, ctx, **{"If-None-Match": etag[1:-1]})
    assert bare.status_code == 304
    toggle(e, "beta", False)  # one it can
    seen = ofrep(live.url, "/evaluate/flags", e.client_key, ctx, **{"If-None-Match": etag})
    assert seen.status_code == 200 and seen.headers["etag"] != etag
