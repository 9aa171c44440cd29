"""Flag usage: every evaluation the server answers, and every count an SDK reports, shows in
the usage API exactly once after a flush; counts survive a clean restart; reports are
bounded, validated and rate limited; the applications that asked are listed.

The flush is the server's own (`UsageFlusher.flush`, run on the server's event loop as its
timer runs it), called by the test instead of waiting for the interval.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from launchsequence.app import create_app
from tests.http.test_delivery import BOOL, Env, make_flag, sdk, setup_env, stream, toggle
from tests.support.live import LiveServer

N = 7
APP = {"X-LaunchSequence-Application": "checkout", "X-LaunchSequence-SDK": "curl-test/1.2"}


def flush(server: LiveServer) -> None:
    app: Any = server.app
    loop = app.state.hubs.loop
    asyncio.run_coroutine_threadsafe(app.state.usage_flusher.flush(), loop).result(10)


def usage(e: Env, flag: str, **params: Any) -> dict[str, Any]:
    r = e.user.get(f"{e.base}/flags/{flag}/usage", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def counts(e: Env, flag: str, env: str = "production") -> dict[int | None, int]:
    """{variation: evaluations} of a flag in an environment, over the last 24 hours."""
    out: dict[int | None, int] = {}
    for entry in usage(e, flag, environment=env)["environments"]:
        for bucket in entry["buckets"]:
            for v in bucket["variations"]:
                out[v["variation"]] = out.get(v["variation"], 0) + v["count"]
    return out


@pytest.fixture
def server(make_settings: Callable[..., Any], clock: Any) -> Iterator[LiveServer]:
    live = LiveServer(create_app(make_settings(), clock=clock)).start()
    yield live
    live.stop()


@pytest.fixture
def env(server: LiveServer) -> Env:
    e = setup_env(server.url, "usage@example.com")
    make_flag(e, "beta", BOOL, client_side=True)
    make_flag(e, "dark", {**BOOL, "on": False}, client_side=True)
    return e


# --- what the server answers ---------------------------------------------------------------


def test_server_evaluations_count_exactly_once_per_flag_answered(server, env):
    for _ in range(N):
        r = sdk(env.url, "/sdk/v1/evaluate", env.server_key, {"context": {"key": "u"}}, **APP)
        assert r.status_code == 200
    sdk(env.url, "/sdk/v1/evaluate", env.server_key, {"context": {"key": "u"}, "flags": ["beta"]})
    assert counts(env, "beta") == {}  # nothing is written before a flush
    flush(server)
    assert counts(env, "beta") == {0: N + 1}
    assert counts(env, "dark") == {1: N}
    answer = usage(env, "beta")
    production = next(x for x in answer["environments"] if x["environment"] == "production")
    assert production["total"] == N + 1
    assert production["last_evaluated"] is not None
    staging = next(x for x in answer["environments"] if x["environment"] == "staging")
    assert staging == {"environment": "staging", "last_evaluated": None, "total": 0,
                       "buckets": []}  # fmt: skip


def test_client_evaluations_and_ofrep_single_and_bulk_are_counted(server, env):
    for _ in range(N):
        r = sdk(env.url, "/sdk/v1/client/evaluate", env.client_key, {"context": {"key": "u"}})
        assert r.status_code == 200
    for _ in range(N):
        r = sdk(env.url, "/ofrep/v1/evaluate/flags/beta", env.client_key,
                {"context": {"targetingKey": "u"}})  # fmt: skip
        assert r.status_code == 200
        r = sdk(env.url, "/ofrep/v1/evaluate/flags", env.server_key,
                {"context": {"targetingKey": "u"}})  # fmt: skip
        assert r.status_code == 200
    # A flag nobody defined is not counted (it would grow the table without bound).
    r = sdk(env.url, "/ofrep/v1/evaluate/flags/nope", env.client_key, {"context": {}})
    assert r.status_code == 404
    flush(server)
    assert counts(env, "beta") == {0: 3 * N}
    assert counts(env, "dark") == {1: 2 * N}


def next_named(s: Any) -> Any:
    for _ in range(10):  # the retry hint and heartbeats come as events without a name
        event = s.next_event()
        if event.event is not None:
            return event
    raise AssertionError("no named event")


def test_client_stream_values_sent_are_counted(server, env):
    context = base64.urlsafe_b64encode(json.dumps({"key": "u"}).encode()).decode().rstrip("=")
    path = f"/sdk/v1/client/stream?key={env.client_key}&context={context}&application=web"
    with stream(env.url, path) as s:
        assert s.status == 200
        put = next_named(s)
        assert put.event == "put"
        toggle(env, "beta", False)  # beta's value changes: one patch with beta
        patch = next_named(s)
        assert patch.event == "patch"
        assert set(patch.data["flags"]) == {"beta"}
        apps = env.user.get(f"{env.base}/environments/production/applications").json()
        assert apps["open_streams"] == 1
    flush(server)
    assert counts(env, "beta") == {0: 1, 1: 1}  # the put, then the patch
    assert counts(env, "dark") == {1: 1}  # the put only: its value did not change


# --- what SDKs report --------------------------------------------------------------------


def report(e: Env, key: str, entries: list[dict[str, Any]], **fields: Any) -> httpx.Response:
    body = {"application": "billing", "instance": "i-1", "sdk": "python", "sdk_version": "9.9",
            "counts": entries, **fields}  # fmt: skip
    return sdk(e.url, "/sdk/v1/usage", key, body)


def test_reports_are_added_to_the_counts(server, env):
    r = report(env, env.server_key, [{"flag": "beta", "variation": 0, "version": 1, "count": N},
                                     {"flag": "beta", "variation": None, "count": 2},
                                     {"flag": "gone", "variation": 0, "count": 5}])  # fmt: skip
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": N + 2, "ignored": 5}
    flush(server)
    assert counts(env, "beta") == {0: N, None: 2}
    apps = env.user.get(f"{env.base}/environments/production/applications").json()
    assert [(a["application"], a["sdk"], a["sdk_version"], a["instances"])
            for a in apps["applications"]] == [("billing", "python", "9.9", 1)]  # fmt: skip


def test_client_keys_may_not_report_usage(server, env):
    r = report(env, env.client_key, [{"flag": "beta", "variation": 0, "count": 1}])
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ([{"flag": "beta", "variation": 0, "count": 0}], 400, "invalid_usage"),
        ([{"flag": "beta", "variation": -3, "count": 1}], 400, "invalid_usage"),
        ([{"flag": "beta", "variation": 0, "count": 1, "extra": 1}], 400, "invalid_usage"),
        ([{"flag": "", "variation": 0, "count": 1}], 400, "invalid_usage"),
        ("nope", 400, "invalid_usage"),
        ([{"flag": "beta", "variation": 0, "count": 1}] * 2001, 413, "too_many_entries"),
    ],
)
def test_malformed_reports_answer_stable_codes(server, env, body, status, code):
    r = report(env, env.server_key, body)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)


def test_oversized_and_unparsable_reports(server, env):
    auth = {"Authorization": f"Bearer {env.server_key}"}
    big = b'{"sdk": "python", "counts": []' + b" " * 300_000 + b"}"  # valid, but over 256 KiB
    r = httpx.post(env.url + "/sdk/v1/usage", content=big, headers=auth)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large")
    r = httpx.post(env.url + "/sdk/v1/usage", content=b"{nope", headers=auth)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_json")
    r = report(env, env.server_key, [], sdk="")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_usage")


def test_reports_are_rate_limited_per_key(make_settings, clock):
    app = create_app(make_settings(usage_posts_per_minute=3), clock=clock)
    live = LiveServer(app).start()
    try:
        e = setup_env(live.url, "limits@example.com")
        make_flag(e, "beta", BOOL)
        answers = [report(e, e.server_key, [{"flag": "beta", "variation": 0, "count": 1}])
                   for _ in range(4)]  # fmt: skip
        assert [r.status_code for r in answers] == [202, 202, 202, 429]
        assert answers[-1].json()["error"]["code"] == "rate_limited"
        assert int(answers[-1].headers["Retry-After"]) >= 1
        flush(live)
        assert counts(e, "beta") == {0: 3}
    finally:
        live.stop()


# --- lifetime ----------------------------------------------------------------------------


def test_counts_not_yet_flushed_are_written_at_a_clean_shutdown(make_settings, clock):
    settings = make_settings()
    first = LiveServer(create_app(settings, clock=clock)).start()
    e = setup_env(first.url, "restart@example.com")
    make_flag(e, "beta", BOOL)
    for _ in range(N):
        sdk(e.url, "/sdk/v1/evaluate", e.server_key, {"context": {"key": "u"}, "flags": ["beta"]})
    first.stop()  # no flush was due: the shutdown writes them
    second = LiveServer(create_app(settings, clock=clock)).start()
    try:
        moved = Env(second.url, e.user, e.base, e.server_key, e.client_key)
        e.user.http.base_url = httpx.URL(second.url)
        assert counts(moved, "beta") == {0: N}
    finally:
        second.stop()


def test_counting_off_counts_nothing(make_settings, clock):
    live = LiveServer(create_app(make_settings(usage_counting="false"), clock=clock)).start()
    try:
        e = setup_env(live.url, "off@example.com")
        make_flag(e, "beta", BOOL)
        sdk(e.url, "/sdk/v1/evaluate", e.server_key, {"context": {"key": "u"}})
        r = report(e, e.server_key, [{"flag": "beta", "variation": 0, "count": 4}])
        assert r.status_code == 202
        assert r.json() == {"accepted": 0, "ignored": 0}
        flush(live)
        assert counts(e, "beta") == {}
    finally:
        live.stop()


# --- reading -----------------------------------------------------------------------------


def test_usage_by_the_day_and_bad_intervals(server, env, clock):
    sdk(env.url, "/sdk/v1/evaluate", env.server_key, {"context": {"key": "u"}})
    flush(server)
    day = usage(env, "beta", granularity="day", environment="production")
    [production] = day["environments"]
    assert [b["size"] for b in production["buckets"]] == ["day"]
    assert production["total"] == 1
    bad = env.user.get(f"{env.base}/flags/beta/usage", params={"from": 10, "to": 5})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid")
    bad = env.user.get(f"{env.base}/flags/beta/usage", params={"granularity": "minute"})
    assert bad.status_code == 422
    missing = env.user.get(f"{env.base}/flags/nope/usage")
    assert missing.status_code == 404


def test_applications_page_lists_what_asked(server, env):
    sdk(env.url, "/sdk/v1/evaluate", env.server_key, {"context": {"key": "u"}}, **APP)
    report(env, env.server_key, [{"flag": "beta", "variation": 0, "count": 1}])
    flush(server)
    page = env.user.get(f"/o/{env.user.org}/p/default/environments/production/applications")
    assert page.status_code == 200, page.text[-2000:]
    assert "checkout" in page.text and "curl-test" in page.text and "1.2" in page.text
    assert "billing" in page.text and "python" in page.text


def relogin(e: Env) -> None:
    r = e.user.http.post("/api/v1/auth/login",
                         json={"email": e.user.email, "password": "correct horse"})  # fmt: skip
    assert r.status_code == 200, r.text
    e.user.csrf = r.json()["csrf_token"]


def test_upkeep_folds_old_hours_into_days_then_deletes_them(server, env, clock):
    sdk(env.url, "/sdk/v1/evaluate", env.server_key, {"context": {"key": "u"}, "flags": ["beta"]})
    flush(server)
    evaluated = clock()
    flusher = server.app.state.usage_flusher
    assert flusher.upkeep() == (0, 0)  # nothing is old yet
    clock.advance(32 * 86_400)
    assert flusher.upkeep() == (1, 0)
    relogin(env)  # a month passed: the session expired
    [production] = usage(env, "beta", environment="production", granularity="hour",
                         **{"from": evaluated - 86_400_000})["environments"]  # fmt: skip
    assert [(b["size"], b["total"]) for b in production["buckets"]] == [("day", 1)]
    clock.advance(400 * 86_400)
    assert flusher.upkeep() == (0, 1)
    relogin(env)
    assert counts(env, "beta") == {}


def test_prometheus_counts_per_environment_and_the_service_api_for_lifecycle(server, env):
    for _ in range(N):
        sdk(env.url, "/sdk/v1/evaluate", env.server_key, {"context": {"key": "u"}}, **APP)
    flush(server)
    metrics = httpx.get(f"{env.url}/metrics").text
    line = next(
        m for m in metrics.splitlines() if m.startswith("launchseq_flag_evaluations_total{")
    )
    assert 'environment="production"' in line and "flag=" not in line
    assert float(line.rsplit(" ", 1)[1]) == 2 * N  # beta and dark
    usage_service = server.app.state.services.usage
    hubs = server.app.state.hubs
    [env_id] = list(hubs.loaded())
    last = usage_service.last_evaluated([env_id])
    assert set(last) == {(env_id, "beta"), (env_id, "dark")}
    [app] = usage_service.applications_for_flag([env_id], "beta", since=0)
    assert (app["application"], app["count"]) == ("checkout", N)
    [bucket] = usage_service.variation_counts(env_id, "dark", 0, 2**53)
    assert bucket["variations"] == {1: N}
