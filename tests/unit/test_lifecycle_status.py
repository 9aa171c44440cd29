"""The lifecycle status, pure: each status and its boundaries, with `now` chosen by the test."""

from __future__ import annotations

from typing import Any

from launchsequence.services.lifecycle import (
    DAY_MS,
    EnvFacts,
    FlagFacts,
    Thresholds,
    past_removal,
    serves_everyone,
    status,
)

NOW = 1_795_953_600_000  # 2026-11-29 12:00 UTC
T = Thresholds(stale_days=30, launched_days=14, recent_days=7)


def env(
    key: str = "production",
    last: int | None = NOW - DAY_MS,
    serves: int | None = 0,
    changed: int = NOW - 20 * DAY_MS,
    counts: dict[int, int] | None = None,
) -> EnvFacts:
    return EnvFacts(key, last, serves, changed, counts if counts is not None else {0: 5})


def flag(*envs: EnvFacts, **fields: Any) -> FlagFacts:
    values: dict[str, Any] = {"key": "f", "kind": "temporary", "archived": False,
                              "created_at": NOW - 60 * DAY_MS, "removal_date": None,
                              "variation_names": ("On", "Off")}  # fmt: skip
    values.update(fields)
    return FlagFacts(envs=envs or (env(),), **values)


def test_serves_everyone():
    base = {"on": True, "off_variation": 1, "prerequisites": [], "targets": [], "rules": [],
            "fallthrough": {"variation": 0}}  # fmt: skip
    assert serves_everyone(base) == 0
    assert serves_everyone({**base, "on": False}) == 1
    assert serves_everyone({**base, "on": False, "off_variation": None}) is None
    assert serves_everyone({**base, "rules": [{"id": "r"}]}) is None
    assert serves_everyone({**base, "prerequisites": [{"flag": "x", "variation": 0}]}) is None
    assert serves_everyone({**base, "targets": [{"variation": 1, "values": ["u"]}]}) is None
    assert serves_everyone({**base, "targets": [{"variation": 1, "values": []}]}) == 0
    split = [{"variation": 0, "weight": 50_000}, {"variation": 1, "weight": 50_000}]
    assert serves_everyone({**base, "fallthrough": {"rollout": {"weights": split}}}) is None
    whole = [{"variation": 0, "weight": 0}, {"variation": 1, "weight": 100_000}]
    assert serves_everyone({**base, "fallthrough": {"rollout": {"weights": whole}}}) == 1
    assert serves_everyone({**base, "fallthrough": None}) is None


def test_each_status():
    split = env(serves=None)
    assert status(flag(split), NOW, T)["status"] == "active"
    assert status(flag(env(), env("staging")), NOW, T)["status"] == "launched"
    never = env(last=None, counts={})
    assert status(flag(never, created_at=NOW - DAY_MS), NOW, T)["status"] == "new"
    assert status(flag(never), NOW, T)["reasons"] == ["never_evaluated"]
    assert status(flag(never), NOW, T)["status"] == "stale"
    old = env(serves=None, last=NOW - 30 * DAY_MS, counts={})
    assert status(flag(old), NOW, T)["reasons"] == ["not_evaluated"]
    assert status(flag(old), NOW - 1, T)["status"] == "active"  # a millisecond earlier
    dated = flag(split, removal_date="2026-11-28")
    assert status(dated, NOW, T)["reasons"] == ["past_removal_date"]
    assert status(flag(split, removal_date="2026-11-29"), NOW, T)["status"] == "active"
    assert status(flag(split, kind="permanent", removal_date="2026-11-28"), NOW, T)[
        "status"] == "active"  # fmt: skip
    assert status(flag(env(), kind="permanent"), NOW, T)["status"] == "active"
    assert status(flag(env(), archived=True), NOW, T)["status"] == "archived_evaluated"
    quiet = env(last=NOW - 8 * DAY_MS)
    assert status(flag(quiet, archived=True), NOW, T)["status"] == "archived"


def test_launched_needs_every_environment_the_same_variation_unchanged_and_uncontradicted():
    assert status(flag(env(), env("staging", serves=1)), NOW, T)["status"] == "active"
    recent = env("staging", changed=NOW - 13 * DAY_MS)
    assert status(flag(env(), recent), NOW, T)["status"] == "active"
    contradicted = env("staging", counts={0: 5, 1: 1})
    assert status(flag(env(), contradicted), NOW, T)["status"] == "active"
    answered = status(flag(env(counts={0: 1234}), env("staging", counts={})), NOW, T)
    assert answered["launched_variation"] == 0
    assert (
        answered["evidence"][1] == "1,234 evaluations in the last 14 days, all “On” (variation 0)"
    )


def test_removal_date_passes_when_the_next_day_begins_utc():
    midnight = NOW - NOW % DAY_MS  # 2026-11-29 00:00 UTC
    assert not past_removal("2026-11-29", midnight + DAY_MS - 1)
    assert past_removal("2026-11-29", midnight + DAY_MS)
    assert not past_removal(None, NOW)
