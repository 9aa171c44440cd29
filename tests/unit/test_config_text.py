"""A configuration in words, and two compared part by part: what the comparison page and the
API's `lines` say."""

from __future__ import annotations

from launchsequence.services.config_text import compare_configs, part_lines

COLOURS = [{"value": "blue", "name": "Blue"}, {"value": "green"}, {"value": "red", "name": "Red"}]
BASE = {
    "on": True,
    "off_variation": None,
    "prerequisites": [],
    "targets": [],
    "rules": [],
    "fallthrough": {"variation": 0},
    "client_side": False,
}


def test_rules_say_their_clauses_and_what_they_serve() -> None:
    rules = [
        {
            "id": "r1",
            "clauses": [
                {"attribute": "version", "op": "semver_lt", "values": ["2.0.0"], "negate": True},
                {"attribute": "key", "op": "segment_match", "values": ["beta", "staff"]},
            ],
            "serve": {
                "rollout": {
                    "bucket_by": "org",
                    "weights": [
                        {"variation": 1, "weight": 12500},
                        {"variation": 2, "weight": 87500},
                    ],
                }
            },
        }
    ]
    assert part_lines("rules", {**BASE, "rules": rules}, COLOURS) == [
        "Rule 1",
        "    if version not semver < 2.0.0",
        "    and the context is in segment beta, staff",
        '    serve a rollout of 12.5% "green", 87.5% "red" (Red), by org',
    ]
    assert part_lines("off_variation", BASE, COLOURS) == [
        "Serve the application's own default (unset)"
    ]
    assert part_lines("fallthrough", {**BASE, "fallthrough": {"variation": 7}}, COLOURS) == [
        "Serve variation 7 (missing)"
    ]
    prerequisite = {**BASE, "prerequisites": [{"flag": "login", "variation": 0}]}
    assert part_lines("prerequisites", prerequisite, COLOURS) == [
        "login must serve its variation 0"
    ]


def test_rules_alike_but_for_their_ids_are_the_same_and_a_new_rule_is_added_lines() -> None:
    rule = {"clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
            "serve": {"variation": 2}}  # fmt: skip
    ours = {**BASE, "rules": [{**rule, "id": "a"}]}
    theirs = {**BASE, "rules": [{**rule, "id": "b"}, {**rule, "id": "c", "description": "more"}]}
    same = compare_configs(ours, {**BASE, "rules": [{**rule, "id": "b"}]}, COLOURS)
    assert not any(p["differs"] for p in same)
    parts = {p["part"]: p for p in compare_configs(ours, theirs, COLOURS)}
    assert parts["rules"]["differs"] is True
    assert [(x["kind"], x["from"], x["to"]) for x in parts["rules"]["lines"]] == [
        ("same", "Rule 1", "Rule 1"),
        ("same", "    if plan is one of pro", "    if plan is one of pro"),
        ("same", '    serve "red" (Red)', '    serve "red" (Red)'),
        ("added", None, "Rule 2: more"),
        ("added", None, "    if plan is one of pro"),
        ("added", None, '    serve "red" (Red)'),
    ]
