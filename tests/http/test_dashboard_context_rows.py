"""Without scripts, "test a context" reads a key and attribute rows or the raw JSON, whichever
the person changed (web/context_form.py), and a rollout's bar and remainder are drawn by the
server from the numbers as typed."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields

CONFIG: dict[str, Any] = {
    "on": True,
    "off_variation": 1,
    "targets": [{"variation": 0, "values": ["vip-1"]}],
    "rules": [
        {
            "id": "adults",
            "clauses": [{"attribute": "age", "op": "gte", "values": [18]}],
            "serve": {"variation": 0},
        },
    ],
    "fallthrough": {"variation": 1},
}


def _flag(user: ApiUser) -> str:
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(api, json={"key": "checkout", "name": "Checkout"}).status_code == 201
    put = user.put(f"{api}/checkout/environments/production", json=CONFIG)
    assert put.status_code == 200, put.text
    return f"/o/{user.org}/p/default/flags/checkout"


def _value(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert match is not None, name
    return html.unescape(match.group(1))


def _textarea(page: str) -> str:
    match = re.search(r'<textarea id="ctx"[^>]*>(.*?)</textarea>', page, re.S)
    assert match is not None
    return html.unescape(match.group(1))


def _answer(page: str) -> dict[str, str]:
    lines = re.findall(r'<(?:dd|code) id="test-([a-z]+)"[^>]*>(.*?)</(?:dd|code)>', page, re.S)
    return {k: html.unescape(re.sub(r"<[^>]+>", "", v)) for k, v in lines}


def _shown(user: ApiUser, page: str) -> dict[str, str]:
    """The panel's fields as the page first shows them (what a browser sends back unchanged)."""
    text = user.get(page, params={"env": "production"}).text
    return {
        "env": "production",
        "context": _textarea(text),
        "ctx.built": _value(text, "ctx.built"),
        "ctx.rows": _value(text, "ctx.rows"),
        "ctx.key": _value(text, "ctx.key"),
    }


def test_the_rows_are_evaluated_when_only_they_changed(live):
    user = signup(live.url, "rows@example.com")
    page = _flag(user)
    shown = _shown(user, page)
    assert json.loads(shown["context"]) == {"key": "user-123"}
    rows = {
        **shown,
        "ctx.key": "u-1",
        "ctx.a0.name": "age",
        "ctx.a0.value": "42",
        "ctx.a0.type": "number",
    }
    answer = user.get(page, params=rows)
    assert _answer(answer.text)["matched"] == "Rule 1 (id adults)"
    # The panel comes back with the rows and the JSON they made, and an empty row to add one.
    assert json.loads(_textarea(answer.text)) == {"key": "u-1", "age": 42}
    assert _value(answer.text, "ctx.a0.name") == "age"
    assert _value(answer.text, "ctx.a1.name") == ""
    assert "<option selected>number</option>" in answer.text

    # A boolean or a number that is not one is said so, not guessed.
    bad = user.get(page, params={**rows, "ctx.a0.value": "forty"}).text
    assert "attribute age: &#39;forty&#39; is not a number" in bad
    bad = user.get(page, params={**rows, "ctx.a0.type": "boolean"}).text
    assert "a boolean is true or false" in bad
    # A row without a name is left out.
    blank = user.get(page, params={**rows, "ctx.a0.name": "", "ctx.key": "vip-1"}).text
    assert _answer(blank)["reason"] == "TARGETING_MATCH"


def test_edited_json_wins_over_the_rows_and_old_links_still_work(live):
    user = signup(live.url, "json@example.com")
    page = _flag(user)
    shown = _shown(user, page)
    edited = {**shown, "ctx.key": "vip-1", "context": '{"key": "u-9", "age": 30}'}
    answer = user.get(page, params=edited).text
    assert _answer(answer)["matched"] == "Rule 1 (id adults)"  # not vip-1's target
    assert _textarea(answer) == '{"key": "u-9", "age": 30}'
    assert _value(answer, "ctx.key") == "u-9"  # the rows now show it
    # A link with only the JSON (as before the rows existed).
    old = user.get(page, params={"env": "production", "context": '{"key": "vip-1"}'}).text
    assert _answer(old)["reason"] == "TARGETING_MATCH"
    # Nested parts can only be edited as JSON: the JSON opens and says so.
    nested = user.get(
        page, params={"env": "production", "context": '{"key": "u", "org": {"id": 1}, "n": 2}'}
    ).text
    assert 'id="ctx-nested"' in nested and '<details class="raw-json" open>' in nested
    assert _value(nested, "ctx.a0.name") == "n"


def test_testing_unsaved_edits_reads_the_rows_too(live):
    user = signup(live.url, "rows-post@example.com")
    page = _flag(user)
    text = user.get(page, params={"env": "production"}).text
    fields = form_fields(text, "rule_count")
    shown = _shown(user, page)
    sent = {
        **fields,
        **{k: v for k, v in shown.items() if k != "env"},
        "target0": "vip-1\nvip-2",
        "ctx.key": "vip-2",
        "action": "test",
    }
    answer = user.http.post(page, data=sent)
    assert answer.status_code == 200, answer.text[:300]
    assert _answer(answer.text)["reason"] == "TARGETING_MATCH"  # the unsaved target
    assert "With your unsaved edits" in answer.text


def test_the_server_draws_the_rollout_bar_and_what_is_left(live):
    user = signup(live.url, "bar@example.com")
    page = _flag(user)
    fields = form_fields(user.get(page, params={"env": "production"}).text, "rule_count")
    sent = {
        **fields,
        "ft.serve": "rollout",
        "ft.w0": "12.5",
        "ft.w1": "75",
        "action": "save",
        "confirmed": "1",
    }
    refused = user.http.post(page, data=sent)
    assert refused.status_code == 422
    split = refused.text.split('id="ft-split"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'<rect class="seg v\d" x="([\d.]+)" y="0" width="([\d.]+)"', split) == [
        ("0.0", "12.5"),
        ("12.5", "75"),
    ]
    assert "12.5% unassigned: must add up to 100%" in split
    saved = user.http.post(page, data={**sent, "ft.w1": "87.5"})
    assert saved.status_code == 303
    again = user.get(page, params={"env": "production"}).text
    assert "Adds up to 100%" in again.split('id="ft-split"', 1)[1].split("</div>", 1)[0]
