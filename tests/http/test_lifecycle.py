"""Flag lifecycle: each status (new, active, launched, stale, archived, archived but still
evaluated) with a clock the test controls; the fields owner, kind and removal date through the
API, the dashboard and export/import; the usage evidence in the refusal to archive or delete a
flag still asked for; the cleanup view; the flag list's columns; and the flag page's chart,
whose numbers must equal the evaluations sent.

Counts are put into chosen hours by setting the clock and running the server's own flush
(as tests/http/test_usage.py does): a flush writes what was counted since the previous flush
into the hour that interval started in.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from launchsequence.app import create_app
from tests.http.test_dashboard_security import csrf_of
from tests.http.test_delivery import BOOL, Env, configure, make_flag, sdk, setup_env
from tests.support.live import LiveServer

DAY = 86_400
HOUR_MS = 3_600_000
APP = {"X-LaunchSequence-Application": "checkout", "X-LaunchSequence-SDK": "curl-test/1.2"}
REPORT = {"application": "batch", "instance": "i-1", "sdk": "python", "sdk_version": "9.9"}


def flush(server: LiveServer) -> None:
    app: Any = server.app
    loop = app.state.hubs.loop
    asyncio.run_coroutine_threadsafe(app.state.usage_flusher.flush(), loop).result(10)


@pytest.fixture
def server(make_settings: Callable[..., Any], clock: Any) -> Iterator[LiveServer]:
    # The flusher's own timer waits an hour: only the test's flushes write.
    live = LiveServer(create_app(make_settings(usage_flush_seconds=3600), clock=clock)).start()
    yield live
    live.stop()


@pytest.fixture
def env(server: LiveServer) -> Env:
    return setup_env(server.url, "life@example.com")


def evaluate(server: LiveServer, e: Env, flag: str, n: int, key: str = "u", **headers: str) -> None:
    """`n` evaluations of `flag` in production, counted in the hour the clock shows now."""
    flush(server)  # starts the interval now
    for _ in range(n):
        body = {"context": {"key": key}, "flags": [flag]}
        r = sdk(e.url, "/sdk/v1/evaluate", e.server_key, body, **{**APP, **headers})
        assert r.status_code == 200, r.text
    flush(server)


def later(e: Env, clock: Any, seconds: float) -> None:
    """Time passes; the session expires over days, so log in again."""
    clock.advance(seconds)
    r = e.user.http.post("/api/v1/auth/login",
                         json={"email": e.user.email, "password": "correct horse"})  # fmt: skip
    assert r.status_code == 200, r.text
    e.user.csrf = r.json()["csrf_token"]


def status(e: Env, flag: str) -> dict[str, Any]:
    r = e.user.get(f"{e.base}/flags/{flag}/lifecycle")
    assert r.status_code == 200, r.text
    return dict(r.json())


def both_envs(e: Env, flag: str, config: dict[str, Any]) -> None:
    for env_key in ("production", "staging"):
        configure(e, flag, config, env_key)


# --- the statuses ----------------------------------------------------------------------------


def test_new_then_active_then_stale_as_the_clock_moves(server, env, clock):
    make_flag(env, "beta", {**BOOL, "rules": [], "targets": [{"variation": 1, "values": ["x"]}]})
    s = status(env, "beta")
    assert s["status"] == "new" and s["reasons"] == ["never_evaluated"]
    assert s["last_evaluated"] is None
    evaluate(server, env, "beta", 3)
    s = status(env, "beta")
    assert s["status"] == "active", s
    assert "production" in s["evidence"][0]
    assert s["recent_applications"][0]["application"] == "checkout"
    assert s["recent_applications"][0]["count"] == 3
    later(env, clock, 29 * DAY)
    assert status(env, "beta")["status"] == "active"
    later(env, clock, 2 * DAY)
    s = status(env, "beta")
    assert s["status"] == "stale" and s["reasons"] == ["not_evaluated"]
    assert "not evaluated for 30 days" in s["evidence"][0]


def test_never_evaluated_for_30_days_is_stale(server, env, clock):
    make_flag(env, "forgotten")
    later(env, clock, 29 * DAY)
    assert status(env, "forgotten")["status"] == "new"
    later(env, clock, 2 * DAY)
    s = status(env, "forgotten")
    assert s["status"] == "stale" and s["reasons"] == ["never_evaluated"]


def test_temporary_flag_past_its_removal_date_is_stale_and_a_permanent_one_is_not(
    server, env, clock
):
    split = {**BOOL, "targets": [{"variation": 1, "values": ["x"]}]}
    make_flag(env, "promo", split, removal_date="2020-01-01")
    make_flag(env, "kill", split, kind="permanent", removal_date="2020-01-01")
    make_flag(env, "later", split, removal_date="2999-01-01")
    for key in ("promo", "kill", "later"):
        evaluate(server, env, key, 1)
    s = status(env, "promo")
    assert s["status"] == "stale" and s["reasons"] == ["past_removal_date"]
    assert "2020-01-01 has passed" in s["evidence"][0]
    assert status(env, "kill")["status"] == "active"
    assert status(env, "later")["status"] == "active"


def test_launched_after_serving_one_variation_everywhere_for_14_days(server, env, clock):
    make_flag(env, "rollout")
    both_envs(env, "rollout", BOOL)  # on, everyone gets variation 0 ("On"), in both
    evaluate(server, env, "rollout", 5)
    assert status(env, "rollout")["status"] == "active"  # changed just now
    later(env, clock, 15 * DAY)
    evaluate(server, env, "rollout", 4)
    s = status(env, "rollout")
    assert s["status"] == "launched", s
    assert s["launched_variation"] == 0
    assert "to everyone in every environment (production, staging)" in s["evidence"][0]
    assert "4 evaluations in the last 14 days, all “On” (variation 0)" in s["evidence"][1]
    # A rollout giving one variation all the weight serves it to everyone too.
    make_flag(env, "weighted")
    weights = [{"variation": 0, "weight": 0}, {"variation": 1, "weight": 100_000}]
    both_envs(env, "weighted", {**BOOL, "fallthrough": {"rollout": {"weights": weights}}})
    later(env, clock, 15 * DAY)
    evaluate(server, env, "weighted", 2)
    evaluate(server, env, "rollout", 1)
    assert status(env, "weighted")["launched_variation"] == 1
    # A permanent flag serving one value is doing its job: never "launched".
    r = env.user.patch(f"{env.base}/flags/rollout", json={"kind": "permanent"})
    assert r.status_code == 200, r.text
    assert status(env, "rollout")["status"] == "active"


def test_not_launched_when_environments_differ_or_counts_contradict(server, env, clock):
    make_flag(env, "split")
    configure(env, "split", BOOL, "production")
    configure(env, "split", {**BOOL, "fallthrough": {"variation": 1}}, "staging")
    make_flag(env, "contradicted")
    both_envs(env, "contradicted", BOOL)
    later(env, clock, 15 * DAY)
    evaluate(server, env, "split", 1)
    # A local-evaluation SDK reports answers of variation 1 for a flag serving 0 to everyone.
    flush(server)
    report = {**REPORT, "counts": [{"flag": "contradicted", "variation": 1, "count": 3}]}
    r = sdk(env.url, "/sdk/v1/usage", env.server_key, report)
    assert r.status_code == 202, r.text
    flush(server)
    assert status(env, "split")["status"] == "active"
    assert status(env, "contradicted")["status"] == "active"


def test_archived_but_still_evaluated_is_an_alarm_until_the_evaluations_stop(server, env, clock):
    make_flag(env, "old", BOOL)
    evaluate(server, env, "old", 2)
    later(env, clock, 8 * DAY)
    r = env.user.patch(f"{env.base}/flags/old", json={"archived": True})
    assert r.status_code == 409  # on in production
    r = env.user.patch(f"{env.base}/flags/old?force=true", json={"archived": True})
    assert r.status_code == 200, r.text
    assert status(env, "old")["status"] == "archived"
    # Code still asks for it: the server answers FLAG_NOT_FOUND, and counts it...
    evaluate(server, env, "old", 6)
    s = status(env, "old")
    assert s["status"] == "archived_evaluated", s
    assert "archived, but evaluated in the last 7 days in production" in s["evidence"][0]
    assert s["recent_applications"][0] == {**s["recent_applications"][0], "count": 6}
    # ...and a local-evaluation SDK with an old copy reports its answers, which are kept.
    flush(server)
    report = {**REPORT, "counts": [{"flag": "old", "variation": 0, "count": 9}]}
    r = sdk(env.url, "/sdk/v1/usage", env.server_key, report)
    assert r.json() == {"accepted": 9, "ignored": 0}
    flush(server)
    usage = env.user.get(f"{env.base}/flags/old/usage", params={"environment": "production"})
    [production] = usage.json()["environments"]
    assert production["total"] == 15
    later(env, clock, 8 * DAY)
    assert status(env, "old")["status"] == "archived"
    # A key no flag ever had is still not counted.
    r = sdk(env.url, "/sdk/v1/usage", env.server_key,
            {**REPORT, "counts": [{"flag": "never-was", "variation": 0, "count": 1}]})  # fmt: skip
    assert r.json() == {"accepted": 0, "ignored": 1}


# --- the refusal names the applications ------------------------------------------------------


def test_archiving_or_deleting_a_flag_evaluated_lately_names_the_applications(server, env):
    make_flag(env, "live", BOOL)
    evaluate(server, env, "live", 4)
    r = env.user.patch(f"{env.base}/flags/live", json={"archived": True})
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "flag_in_use"
    assert "evaluated 4 times in the last 7 days by checkout (production)" in error["message"]
    assert error["applications"][0]["application"] == "checkout"
    # Off everywhere, but some code still asks for it.
    configure(env, "live", {"on": False})
    r = env.user.delete(f"{env.base}/flags/live")
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "flag_evaluated"
    assert error["environments"] == ["production"]
    assert "the flag is off, but was evaluated 4 times" in error["message"]
    assert env.user.delete(f"{env.base}/flags/live?force=true").status_code == 204
    # Never evaluated and off: no question asked.
    make_flag(env, "quiet")
    assert env.user.delete(f"{env.base}/flags/quiet").status_code == 204


# --- the fields ------------------------------------------------------------------------------


def test_owner_kind_and_removal_date_through_the_api_and_the_audit_log(server, env):
    r = env.user.post(
        f"{env.base}/flags",
        json={"key": "owned", "owner": "LIFE@example.com", "kind": "permanent",
              "removal_date": "2027-03-01"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    flag = r.json()
    assert (flag["owner"], flag["kind"], flag["removal_date"]) == (
        "life@example.com", "permanent", "2027-03-01")  # fmt: skip
    r = env.user.post(f"{env.base}/flags", json={"key": "x", "owner": "stranger@example.com"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "owner"
    r = env.user.post(f"{env.base}/flags", json={"key": "x", "removal_date": "2027-02-30"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "removal_date"
    r = env.user.post(f"{env.base}/flags", json={"key": "x", "kind": "forever"})
    assert r.status_code == 422
    r = env.user.patch(f"{env.base}/flags/owned", json={"owner": None, "removal_date": None})
    assert r.status_code == 200
    assert (r.json()["owner"], r.json()["removal_date"]) == (None, None)
    assert env.user.get(f"{env.base}/flags/x").status_code == 404
    plain = env.user.post(f"{env.base}/flags", json={"key": "plain"}).json()
    assert (plain["owner"], plain["kind"], plain["removal_date"]) == (None, "temporary", None)
    org = env.base.split("/")[4]
    entries = env.user.get(f"/api/v1/orgs/{org}/audit", params={"flag": "owned"}).json()
    latest = entries["entries"][0]
    assert latest["before"]["owner"] == "life@example.com" and latest["after"]["owner"] is None


def test_export_carries_the_fields_and_old_documents_still_import(server, env):
    make_flag(env, "owned", owner="life@example.com", kind="permanent", removal_date="2027-01-01")
    document = env.user.get(f"{env.base}/export").json()
    flag = next(f for f in document["flags"] if f["key"] == "owned")
    assert (flag["owner"], flag["kind"], flag["removal_date"]) == (
        "life@example.com", "permanent", "2027-01-01")  # fmt: skip
    other = setup_env(server.url, "other@example.com")
    r = other.user.post(f"/api/v1/orgs/{other.user.org}/import", json=document)
    assert r.status_code == 200, r.text
    moved = other.user.get(f"{other.base}/flags/owned").json()
    # Not a member of the other organization: imported as no owner; the rest kept.
    assert (moved["owner"], moved["kind"], moved["removal_date"]) == (
        None, "permanent", "2027-01-01")  # fmt: skip
    for f in document["flags"]:
        for field in ("owner", "kind", "removal_date"):
            f.pop(field)
        f["key"] = f["key"] + "-old"
    r = other.user.post(f"/api/v1/orgs/{other.user.org}/import", json=document)
    assert r.status_code == 200, r.text
    old = other.user.get(f"{other.base}/flags/owned-old").json()
    assert (old["owner"], old["kind"], old["removal_date"]) == (None, "temporary", None)


# --- the dashboard ---------------------------------------------------------------------------


def _page(e: Env) -> str:
    return f"/o/{e.user.org}/p/default"


def _chart(html: str, name: str) -> dict[int, dict[int, int]]:
    """{bucket start: {variation: count}} read from the chart's SVG."""
    svg = re.search(rf'<svg[^>]*id="chart-{name}".*?</svg>', html, re.S)
    assert svg, f"no chart {name}"
    out: dict[int, dict[int, int]] = {}
    for start, v, n in re.findall(
        r'data-start="(\d+)" data-variation="(-?\d+)" data-count="(\d+)"', svg.group(0)
    ):
        out.setdefault(int(start), {})[int(v)] = int(n)
    return out


def _table(html: str, name: str) -> dict[int, list[int]]:
    """{bucket start: [counts per legend entry..., total]} read from the chart's table."""
    table = re.search(
        rf'<table class="chart-table" id="usage-{name}-table">.*?</table>', html, re.S
    )
    assert table, f"no table {name}"
    rows = re.findall(r'<tr data-start="(\d+)">(.*?)</tr>', table.group(0), re.S)
    return {int(s): [int(n) for n in re.findall(r"<td>(\d+)</td>", cells)] for s, cells in rows}


def test_the_chart_draws_the_counts_sent(server, env, clock):
    make_flag(env, "beta", {**BOOL, "targets": [{"variation": 1, "values": ["vip"]}]})
    start = clock.now - clock.now % HOUR_MS
    clock.now = start - 5 * HOUR_MS + 60_000  # five hours ago
    evaluate(server, env, "beta", 7)
    evaluate(server, env, "beta", 2, key="vip")
    clock.now = start + 60_000  # this hour
    evaluate(server, env, "beta", 3)
    clock.now = start - 3 * 24 * HOUR_MS  # three days ago
    evaluate(server, env, "beta", 11, key="vip")
    clock.now = start + 120_000
    base = _page(env)
    html = env.user.get(f"{base}/flags/beta?env=production").text
    hour_chart = _chart(html, "24h")
    assert hour_chart == {start - 5 * HOUR_MS: {0: 7, 1: 2}, start: {0: 3}}
    assert _table(html, "24h") == {start - 5 * HOUR_MS: [7, 2, 9], start: [3, 0, 3]}
    day = start - start % (24 * HOUR_MS)
    week = _chart(html, "7d")
    assert sum(n for b_ in week.values() for n in b_.values()) == 7 + 2 + 3 + 11
    assert week[day - 3 * 24 * HOUR_MS] == {1: 11}
    assert sum(week.get(d, {}).get(0, 0) for d in (day, day - 24 * HOUR_MS)) == 10
    assert 'id="usage-30d" data-total="23"' in html
    assert re.search(r"On \(variation 0\): 10\b", html), "legend names the variation and total"
    assert re.search(r"Off \(variation 1\): 13\b", html)
    # Which applications ask for it, and when it was last evaluated per environment.
    assert re.search(r'<tr data-env="production"><th scope="row">Production</th><td><time', html)
    assert re.search(
        r'<tr data-env="staging"><th scope="row">Staging</th><td><span class="muted">never', html
    )
    assert "<td>checkout</td><td>production</td><td>23</td>" in html
    # Another environment's tab: its own (empty) chart.
    staging = env.user.get(f"{base}/flags/beta?env=staging").text
    assert _chart(staging, "24h") == {}
    assert "No evaluations counted in this period" in staging


def test_flag_list_shows_status_owner_and_last_evaluated_and_sorts_by_it(server, env, clock):
    make_flag(env, "a-first", BOOL, owner="life@example.com")
    make_flag(env, "b-second", BOOL)
    make_flag(env, "c-never")
    evaluate(server, env, "b-second", 1)
    later(env, clock, 2 * 3600)
    evaluate(server, env, "a-first", 1)
    html = env.user.get(f"{_page(env)}/flags?sort=evaluated").text
    order = re.findall(r'<tr id="flag-([a-z-]+)"', html)
    assert order == ["a-first", "b-second", "c-never"]
    row = re.search(r'<tr id="flag-a-first".*?</tr>', html, re.S).group(0)
    assert 'data-status="active"' in row and "life@example.com" in row
    row = re.search(r'<tr id="flag-c-never".*?</tr>', html, re.S).group(0)
    assert 'data-status="new"' in row and ">never<" in row
    assert "Last evaluated</a>" in html


def test_cleanup_view_lists_candidates_with_evidence_and_archive_asks_first(server, env, clock):
    make_flag(env, "done", BOOL)
    both_envs(env, "done", BOOL)
    make_flag(env, "busy", {**BOOL, "targets": [{"variation": 1, "values": ["x"]}]})
    make_flag(env, "gone")
    later(env, clock, 31 * DAY)
    evaluate(server, env, "done", 3)
    evaluate(server, env, "busy", 3)
    base = _page(env)
    html = env.user.get(f"{base}/cleanup").text
    rows = dict(
        re.findall(r'<tr id="cleanup-([a-z]+)" data-flag="[a-z]+" data-status="([a-z_]+)"', html)
    )
    assert rows == {"done": "launched", "gone": "stale"}
    assert "never evaluated in the 31 days since it was created" in html
    # Archiving from the cleanup view: the flag is on and evaluated, so it asks first, naming
    # the application.
    assert 'aria-label="Archive done"' in html
    form = {"csrf_token": csrf_of(html), "env": "production", "action": "archive"}
    confirm = env.user.http.post(f"{base}/flags/done", data=form)
    assert confirm.status_code == 200
    assert "Archive it anyway" in confirm.text
    assert re.search(r"<strong>checkout</strong> in production: 3 evaluations", confirm.text)
    assert env.user.get(f"{env.base}/flags/done").json()["archived"] is False


def test_details_form_sets_owner_kind_and_removal_date(server, env):
    make_flag(env, "form")
    page = f"{_page(env)}/flags/form"
    html = env.user.get(f"{page}?env=production").text
    assert 'name="removal_date"' in html and 'name="owner"' in html and 'name="kind"' in html
    form = {"csrf_token": csrf_of(html), "env": "production", "action": "details",
            "name": "Form", "description": "", "tags": "", "owner": "life@example.com",
            "kind": "permanent", "removal_date": "2027-05-01"}  # fmt: skip
    r = env.user.http.post(page, data=form)
    assert r.status_code in (200, 303), r.text
    flag = env.user.get(f"{env.base}/flags/form").json()
    assert (flag["owner"], flag["kind"], flag["removal_date"]) == (
        "life@example.com", "permanent", "2027-05-01")  # fmt: skip
    shown = env.user.get(f"{page}?env=production").text
    assert 'id="flag-owner">life@example.com<' in shown
    assert '<option value="permanent" selected>' in shown
    r = env.user.http.post(page, data={**form, "removal_date": "someday", "owner": ""})
    assert r.status_code == 422
    assert "must be a date as YYYY-MM-DD" in r.text
    assert env.user.get(f"{env.base}/flags/form").json()["owner"] == "life@example.com"
