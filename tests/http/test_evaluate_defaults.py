"""`POST /sdk/v1/evaluate` with the caller's defaults, and contexts as JavaScript writes them."""

from __future__ import annotations

import launchsequence_engine as engine

from tests.http.test_delivery import HTTP, configure, make_flag, sdk, setup_env


def test_defaults_check_the_flags_type_and_fill_a_code_default(live):
    e = setup_env(live.url, "defaults@example.com")
    make_flag(e, "beta", {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}})
    make_flag(
        e, "layout", {"on": True, "off_variation": 0, "fallthrough": {"variation": 0}},
        type="json",
        variations=[{"value": {"columns": 3}, "name": "grid"}, {"value": [], "name": "none"}],
    )  # fmt: skip
    make_flag(e, "dark", {"on": False, "off_variation": None, "fallthrough": None})
    body = {"context": {"key": "u1"}, "flags": ["beta", "layout", "dark"],
            "defaults": {"beta": "yes", "layout": "text", "dark": True}}  # fmt: skip
    r = sdk(live.url, "/sdk/v1/evaluate", e.server_key, body)
    assert r.status_code == 200, r.text
    flags = r.json()["flags"]
    assert flags["beta"]["reason"] == "ERROR" and flags["beta"]["error_code"] == "TYPE_MISMATCH"
    assert flags["beta"]["value"] == "yes" and flags["beta"]["variation"] is None
    assert flags["layout"]["value"] == {"columns": 3} and flags["layout"]["reason"] == "STATIC"
    assert flags["dark"] == {
        **flags["dark"],
        "value": True,
        "variation": None,
        "reason": "DISABLED",
    }

    without = sdk(live.url, "/sdk/v1/evaluate", e.server_key, {**body, "defaults": None}).json()
    assert without["flags"]["beta"]["value"] is True and without["flags"]["dark"]["value"] is None
    bad = sdk(live.url, "/sdk/v1/evaluate", e.server_key, {**body, "defaults": ["beta"]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"


def test_a_lone_surrogate_in_a_context_is_bucketed_as_the_engine_does(live):
    e = setup_env(live.url, "surrogate@example.com")
    weights = [{"variation": 0, "weight": 50_000}, {"variation": 1, "weight": 50_000}]
    make_flag(
        e,
        "split",
        {"on": True, "off_variation": 1, "fallthrough": {"rollout": {"weights": weights}}},
    )
    configure(e, "split", {"on": True})
    raw = b'{"context": {"key": "user-\\udc00-7"}, "flags": ["split"]}'
    auth = {"Authorization": f"Bearer {e.server_key}", "Content-Type": "application/json"}
    r = HTTP.post(f"{live.url}/sdk/v1/evaluate", content=raw, headers=auth)
    assert r.status_code == 200, r.text
    got = r.json()["flags"]["split"]
    assert got["reason"] == "SPLIT"
    snapshot = sdk(live.url, "/sdk/v1/snapshot?schema=2", e.server_key).json()
    local = engine.evaluate(engine.compile(snapshot), "split", {"key": "user-\udc00-7"})
    assert got["variation"] == local.variation
    nan = b'{"context": {"key": NaN, "x": "\\ud800"}}'
    broken = HTTP.post(f"{live.url}/sdk/v1/evaluate", content=nan, headers=auth)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
