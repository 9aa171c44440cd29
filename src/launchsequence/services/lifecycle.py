"""A flag's lifecycle status and the evidence for it: pure, with the clock and the thresholds as
parameters (nothing here reads the database or the time).

Statuses, the first that applies wins:

- `archived_evaluated` (an alarm): archived, yet evaluated in the last `recent_days`: some
  application's code still asks for it and gets its own default.
- `archived`: archived and not evaluated lately.
- `new`: never evaluated anywhere, and created less than `stale_days` ago.
- `stale`: not evaluated anywhere for `stale_days` (or never, and created that long ago).
- `launched` (temporary flags only): in every environment the configuration serves one and
  the same variation to everyone (off with an off variation; or on with no prerequisites,
  targets or rules and a fallthrough of one variation, or a rollout giving one variation all
  the weight), no configuration changed for `launched_days`, and the counts of those days
  hold that variation only. The code can keep that value and the flag can go. A permanent
  flag serving one value is doing its job, so it is never `launched`.
- `stale` (temporary flags only): past its expected removal date (the day after that date
  has begun, UTC).
- `active`: anything else.

`evidence` is a list of sentences a person reads; `reasons` are stable codes for machines.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DAY_MS", "STATUSES", "EnvFacts", "FlagFacts", "Thresholds", "serves_everyone",
           "status"]  # fmt: skip

DAY_MS = 86_400_000
STATUSES = ("new", "active", "launched", "stale", "archived", "archived_evaluated")
#: Statuses the cleanup view lists: flags that look safe to remove (or must be looked at).
CLEANUP = ("stale", "launched", "archived_evaluated")


@dataclass(frozen=True)
class Thresholds:
    stale_days: int = 30
    launched_days: int = 14
    recent_days: int = 7


@dataclass(frozen=True)
class EnvFacts:
    """One environment's view of a flag: its key, the latest time it may have been evaluated
    there (None: never), the variation its configuration serves to everyone (None: it serves
    more than one, or the application's own default), when that configuration last changed,
    and the evaluations per variation (-1: none) of the last `launched_days`."""

    key: str
    last_evaluated: int | None
    serves: int | None
    config_changed_at: int
    counts: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagFacts:
    key: str
    kind: str  # "temporary" | "permanent"
    archived: bool
    created_at: int
    removal_date: str | None  # YYYY-MM-DD
    variation_names: tuple[str, ...]
    envs: tuple[EnvFacts, ...]


def serves_everyone(config: dict[str, Any]) -> int | None:
    """The variation a configuration serves to every context, or None if that depends on the
    context (targets, rules, prerequisites, a split rollout) or is the caller's default."""
    if not config["on"]:
        return config.get("off_variation")
    if config.get("prerequisites") or config.get("rules"):
        return None
    if any(t.get("values") for t in config.get("targets") or []):
        return None
    fallthrough = config.get("fallthrough") or {}
    if "variation" in fallthrough:
        return fallthrough["variation"]  # type: ignore[no-any-return]
    weights = [w for w in (fallthrough.get("rollout") or {}).get("weights", []) if w["weight"]]
    if len(weights) == 1:
        return weights[0]["variation"]  # type: ignore[no-any-return]
    return None


def _day(ms: int) -> str:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC).strftime("%Y-%m-%d")


def _ago(now: int, ms: int) -> str:
    days = (now - ms) // DAY_MS
    if days >= 1:
        return f"{days} day{'' if days == 1 else 's'} ago"
    hours = (now - ms) // 3_600_000
    return f"{hours} hour{'' if hours == 1 else 's'} ago" if hours >= 1 else "in the last hour"


def _name(flag: FlagFacts, variation: int) -> str:
    names = flag.variation_names
    if 0 <= variation < len(names) and names[variation]:
        return f"“{names[variation]}” (variation {variation})"
    return f"variation {variation}"


def past_removal(removal_date: str | None, now: int) -> bool:
    """True once the day after `removal_date` has begun (UTC)."""
    return bool(removal_date) and _day(now) > str(removal_date)


def status(flag: FlagFacts, now: int, t: Thresholds) -> dict[str, Any]:
    """`{"status", "reasons": [code], "evidence": [sentence], "last_evaluated": ms | None,
    "launched_variation": int | None}` of one flag at time `now`."""
    seen = [e.last_evaluated for e in flag.envs if e.last_evaluated is not None]
    last = max(seen) if seen else None
    where = [e.key for e in flag.envs if e.last_evaluated is not None]
    evaluated = (
        f"last evaluated {_ago(now, last)} ({_day(last)}, in {', '.join(where)})"
        if last is not None
        else "never evaluated"
    )
    out: dict[str, Any] = {"last_evaluated": last, "launched_variation": None}

    def done(code: str, reasons: list[str], evidence: list[str]) -> dict[str, Any]:
        return {"status": code, "reasons": reasons, "evidence": evidence, **out}

    if flag.archived:
        recent = [
            e.key
            for e in flag.envs
            if e.last_evaluated is not None and now - e.last_evaluated < t.recent_days * DAY_MS
        ]
        if recent:
            return done(
                "archived_evaluated",
                ["archived_but_evaluated"],
                [
                    f"archived, but evaluated in the last {t.recent_days} days in "
                    f"{', '.join(recent)}: some code still asks for it and gets its own default",
                    evaluated,
                ],
            )
        return done("archived", ["archived"], [f"archived; {evaluated}"])

    stale_ms = t.stale_days * DAY_MS
    if last is None:
        if now - flag.created_at < stale_ms:
            return done(
                "new", ["never_evaluated"], [f"never evaluated (created {_day(flag.created_at)})"]
            )
        return done(
            "stale",
            ["never_evaluated"],
            [f"never evaluated in the {(now - flag.created_at) // DAY_MS} days since it was "
             f"created ({_day(flag.created_at)})"],
        )  # fmt: skip
    if now - last >= stale_ms:
        return done(
            "stale", ["not_evaluated"], [f"not evaluated for {t.stale_days} days: {evaluated}"]
        )

    temporary = flag.kind != "permanent"
    if temporary:
        launched = _launched(flag, now, t)
        if launched is not None:
            variation, evidence = launched
            out["launched_variation"] = variation
            return done("launched", ["one_variation_served"], [*evidence, evaluated])
        if past_removal(flag.removal_date, now):
            return done(
                "stale",
                ["past_removal_date"],
                [f"temporary, and its expected removal date {flag.removal_date} has passed",
                 evaluated],
            )  # fmt: skip
    return done("active", ["evaluated"], [evaluated])


def _launched(flag: FlagFacts, now: int, t: Thresholds) -> tuple[int, list[str]] | None:
    """(the variation, the evidence) if every environment has served that one variation to
    everyone for `launched_days`, by configuration and by counts; else None."""
    if not flag.envs:
        return None
    served = {e.serves for e in flag.envs}
    if len(served) != 1 or None in served:
        return None
    variation = served.pop()
    assert variation is not None
    since = now - t.launched_days * DAY_MS
    if any(e.config_changed_at > since for e in flag.envs):
        return None
    total = 0
    for e in flag.envs:
        for v, n in e.counts.items():
            if n and v != variation:
                return None  # the counts contradict the configuration: someone got another
            total += n
    envs = ", ".join(e.key for e in flag.envs)
    return variation, [
        f"serves {_name(flag, variation)} to everyone in every environment ({envs}), "
        f"unchanged for {t.launched_days} days or more",
        f"{total:,} evaluations in the last {t.launched_days} days, all {_name(flag, variation)}",
    ]
