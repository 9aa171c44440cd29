"""The flag page's "test a context" panel says what a context gets and why: the individual target
or the rule (its number, description and id) that matched, whether a rollout chose the
variation, and the error message when there is one."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from tests.support.api import ApiUser, signup

CONFIG: dict[str, Any] = {
    "on": True,
    "off_variation": 1,
    "targets": [{"variation": 0, "values": ["vip-1"]}],
    "rules": [
        {
            "id": "eu-ent",
            "description": "EU <enterprise>",
            "clauses": [{"attribute": "country", "op": "in", "values": ["DE", "FR"]}],
            "serve": {"variation": 0},
        },
        {
            "id": "beta",
            "clauses": [{"attribute": "plan", "op": "in", "values": ["beta"]}],
            "serve": {"rollout": {"weights": [{"variation": 0, "weight": 100_000}]}},
        },
    ],
    "fallthrough": {"variation": 1},
}


def _panel(user: ApiUser, context: Any, env: str = "production") -> dict[str, str]:
    """The panel's answer for `context`, by the id of each line, as text."""
    raw = context if isinstance(context, str) else json.dumps(context)
    page = user.get(f"/o/{user.org}/p/default/flags/checkout", params={"env": env, "context": raw})
    assert page.status_code == 200
    lines = re.findall(r'<(?:dd|code) id="test-([a-z]+)"[^>]*>(.*?)</(?:dd|code)>', page.text, re.S)
    return {k: html.unescape(re.sub(r"<[^>]+>", "", v)) for k, v in lines}


def test_the_panel_says_which_target_or_rule_matched_and_whether_a_rollout_chose(live):
    user = signup(live.url, "panel@example.com")
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(api, json={"key": "checkout", "name": "Checkout"}).status_code == 201
    put = user.put(f"{api}/checkout/environments/production", json=CONFIG)
    assert put.status_code == 200, put.text

    target = _panel(user, {"key": "vip-1", "country": "DE"})
    assert target["value"] == "true" and target["reason"] == "TARGETING_MATCH"
    assert target["matched"].startswith("An individual target")
    assert target["rollout"] == "No"

    rule = _panel(user, {"key": "u-1", "country": "FR"})
    assert rule["reason"] == "TARGETING_MATCH" and rule["variation"] == "On"
    assert rule["matched"] == "Rule 1 “EU <enterprise>” (id eu-ent)"
    assert rule["rollout"] == "No"

    split = _panel(user, {"key": "u-2", "plan": "beta"})
    assert split["reason"] == "SPLIT" and split["value"] == "true"
    assert split["matched"] == "Rule 2 (id beta)"
    assert split["rollout"].startswith("Yes")

    default = _panel(user, {"key": "u-3", "country": "US"})
    assert default["reason"] == "DEFAULT" and default["value"] == "false"
    assert default["matched"].startswith("No target or rule")
    assert default["rollout"] == "No"

    # The key is optional; only rule 2's rollout by key needs it.
    keyless = _panel(user, {"country": "US"})
    assert keyless["reason"] == "DEFAULT" and keyless["value"] == "false"
    missing_key = _panel(user, {"plan": "beta"})
    assert missing_key["reason"] == "ERROR (TARGETING_KEY_MISSING)"
    assert (
        missing_key["error"] == "the rollout buckets by the context's key, and the context has none"
    )

    off = _panel(user, {"key": "vip-1"}, env="staging")
    assert off["reason"] == "DISABLED"
    assert off["matched"].startswith("Nothing: the flag is off in staging")
    assert "error" not in off


def test_a_default_rule_rollout_is_said_to_have_chosen(live):
    user = signup(live.url, "panel-rollout@example.com")
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(api, json={"key": "checkout", "name": "Checkout"}).status_code == 201
    rollout = {
        "rollout": {
            "weights": [{"variation": 0, "weight": 50_000}, {"variation": 1, "weight": 50_000}]
        }
    }
    config = {**CONFIG, "targets": [], "rules": [], "fallthrough": rollout}
    assert user.put(f"{api}/checkout/environments/production", json=config).status_code == 200

    answer = _panel(user, {"key": "anyone"})
    assert answer["reason"] == "SPLIT"
    assert answer["matched"].startswith("No target or rule")
    assert answer["rollout"].startswith("Yes")
