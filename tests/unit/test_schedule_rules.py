"""The rules a scheduled change applies by: how late it says it was, when a change made since
its scheduling lets it apply as a patch, the times it takes, and its check interval setting."""

from __future__ import annotations

import pytest

from launchsequence.config import load_settings
from launchsequence.services import Invalid
from launchsequence.services.schedule_runner import late_note, patch_now
from launchsequence.services.schedules import parse_time

RULES_A = [{"id": "a", "clauses": [], "serve": {"variation": 0}}]
RULES_B = [{"id": "b", "clauses": [], "serve": {"variation": 1}}]


def test_late_notes_round_down_and_start_after_a_minute() -> None:
    assert late_note(0) is None and late_note(59_999) is None
    assert late_note(60_000) == "applied 1 min late"
    assert late_note(3 * 3_600_000 + 59 * 60_000) == "applied 3 h late"
    assert late_note(50 * 3_600_000) == "applied 2 days late"


def schedule(changes: dict, base: dict, version: int = 3) -> dict:
    return {"changes": changes, "base": base, "base_version": version}


def config(version: int, **fields: object) -> dict:
    return {"version": version, "on": False, "rules": [], "fallthrough": {"variation": 0},
            **fields}  # fmt: skip


def test_a_change_applies_on_top_when_its_fields_are_untouched() -> None:
    row = schedule({"rules": RULES_A}, {"rules": []})
    assert patch_now(row, config(3)) == ({"rules": RULES_A}, "")
    # Someone turned it on and changed the default rule: not our fields.
    assert patch_now(row, config(5, on=True, fallthrough=None)) == ({"rules": RULES_A}, "")
    # Someone wrote the very rules we scheduled: nothing is undone.
    assert patch_now(row, config(4, rules=RULES_A))[0] == {"rules": RULES_A}


def test_a_change_to_its_fields_since_fails_it_with_the_fields_named() -> None:
    row = schedule({"rules": RULES_A, "on": True}, {"rules": [], "on": False})
    patch, why = patch_now(row, config(4, rules=RULES_B))
    assert patch is None
    assert why.startswith("`rules` changed since this was scheduled (version 3, now 4)")


def test_a_toggle_always_applies() -> None:
    row = schedule({"on": True}, {"on": False})
    assert patch_now(row, config(9, on=True, rules=RULES_B)) == ({"on": True}, "")


def test_times_are_unix_ms_or_iso_with_a_zone() -> None:
    assert parse_time(1_800_000_000_000) == 1_800_000_000_000
    assert parse_time("2030-01-01T00:00:00Z") == 1_893_456_000_000
    assert parse_time("2030-01-01T01:00:00+01:00") == 1_893_456_000_000
    for bad in ("2030-01-01T00:00:00", "soon", True, -5, 1.5, None):
        with pytest.raises(Invalid):
            parse_time(bad)


def test_the_check_interval_takes_a_fraction_from_the_environment() -> None:
    settings = load_settings(environ={"LAUNCHSEQ_SCHEDULE_CHECK_SECONDS": "0.25"})
    assert settings.schedule_check_seconds == 0.25
    with pytest.raises(ValueError, match="must be a number"):
        load_settings(environ={"LAUNCHSEQ_SCHEDULE_CHECK_SECONDS": "often"})
