"""Unsaved work on a flag's page is never lost without a word: a form sent after the session
ended comes back to its author (and no one else) after logging in again; "test a context"
evaluates the form as it stands without saving it; archiving a flag that is on asks first,
and an archived flag's page says it is not served and offers to restore it."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from launchsequence.services.drafts import DRAFT_KEEP_MS
from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields

PASSWORD = "correct horse"
IDLE_SECONDS = 720 * 60 + 1  # just past the default idle expiry of a session


def _flag(user: ApiUser, key: str = "checkout", *, on: bool = False) -> str:
    api = f"/api/v1/orgs/{user.org}/projects/default/flags"
    assert user.post(api, json={"key": key, "name": key.title()}).status_code == 201
    if on:
        assert user.patch(f"{api}/{key}/environments/production", json={"on": True}).is_success
    return f"/o/{user.org}/p/default/flags/{key}"


def _config(user: ApiUser, key: str = "checkout") -> dict[str, Any]:
    api = f"/api/v1/orgs/{user.org}/projects/default/flags/{key}/environments/production"
    answer = user.get(api)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _edited_form(user: ApiUser, page: str) -> dict[str, str]:
    """The flag page's form with edits: vip-1 targeted, client keys allowed."""
    fields = form_fields(user.get(page, params={"env": "production"}).text, "rule_count")
    assert fields.get("draft_owner"), "the form carries its owner's tag"
    return {**fields, "target0": "vip-1", "client_side": "1"}


def _log_in(client: httpx.Client, email: str, answer: httpx.Response) -> httpx.Response:
    """Follow a redirect to the log-in page and log in there; the page it lands on."""
    assert answer.status_code == 303, answer.text[:300]
    login = client.get(answer.headers["location"])
    assert login.status_code == 200
    fields = form_fields(login.text, "email")
    landed = client.post(
        "/login", data={**fields, "email": email, "password": PASSWORD}, follow_redirects=True
    )
    assert landed.status_code == 200, landed.text[:300]
    return landed


def _textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea id="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match is not None, name
    return html.unescape(match.group(1))


def test_a_form_sent_after_the_session_ended_comes_back_once_after_logging_in(live, clock):
    user = signup(live.url, "author@example.com", PASSWORD)
    page = _flag(user)
    edited = _edited_form(user, page)

    clock.advance(IDLE_SECONDS)  # lunch: the session expires while the page stays open
    sent = user.http.post(page, data={**edited, "action": "save", "confirmed": "1"})
    assert sent.status_code == 303
    assert (
        sent.headers["location"].startswith("/login?next=") and "kept=1" in sent.headers["location"]
    )
    login = user.http.get(sent.headers["location"])
    assert "Your session ended before your changes were saved" in login.text

    back = _log_in(user.http, user.email, sent)
    assert "Restored your unsaved changes" in back.text
    assert _textarea(back.text, "target0") == "vip-1"
    assert re.search(r'id="cfg-client" name="client_side" value="1" checked', back.text)
    assert "data-edited" in back.text  # leaving now would warn
    # Nothing was saved behind the user's back: the edits wait for Save.
    user.csrf = form_fields(back.text, "rule_count")["csrf_token"]
    stored = _config(user)
    assert stored["client_side"] is False and stored["targets"] == []

    again = user.http.get(page, params={"env": "production"})
    assert "Restored your unsaved changes" not in again.text
    assert _textarea(again.text, "target0") == ""

    saved = user.http.post(
        page, data={**form_fields(back.text, "rule_count"), "action": "save", "confirmed": "1"}
    )
    assert saved.status_code == 303
    assert _config(user)["targets"] == [{"variation": 0, "values": ["vip-1"]}]


def test_someone_else_logging_in_on_that_browser_does_not_get_the_draft(live, clock):
    author = signup(live.url, "first@example.com", PASSWORD)
    other = signup(live.url, "second@example.com", PASSWORD)
    added = author.post(
        f"/api/v1/orgs/{author.org}/members", json={"email": other.email, "role": "admin"}
    )
    assert added.status_code == 201, added.text
    page = _flag(author)
    edited = _edited_form(author, page)

    clock.advance(IDLE_SECONDS)
    sent = author.http.post(page, data={**edited, "action": "save", "confirmed": "1"})
    assert "kept=1" in sent.headers["location"]
    # The other member logs in on the same browser (same cookies) and opens the same page.
    theirs = _log_in(author.http, other.email, sent)
    theirs = author.http.get(page, params={"env": "production"})
    assert theirs.status_code == 200
    assert "Restored your unsaved changes" not in theirs.text
    assert "vip-1" not in theirs.text


def test_a_forged_owner_tag_or_a_form_without_its_token_is_not_kept(live, clock):
    user = signup(live.url, "forger@example.com", PASSWORD)
    page = _flag(user)
    edited = _edited_form(user, page)
    clock.advance(IDLE_SECONDS)

    user_id, _, signature = edited["draft_owner"].partition(".")
    forged = {**edited, "draft_owner": f"{int(user_id) + 1}.{signature}"}
    for form in (forged, {**edited, "csrf_token": "nope"}):
        sent = user.http.post(page, data={**form, "action": "save", "confirmed": "1"})
        assert sent.status_code == 303
        assert "kept=1" not in sent.headers["location"]
        assert "launchseq_draft" not in sent.headers.get("set-cookie", "")


def test_a_draft_not_taken_back_within_its_time_is_gone(live, clock):
    user = signup(live.url, "late@example.com", PASSWORD)
    page = _flag(user)
    edited = _edited_form(user, page)
    clock.advance(IDLE_SECONDS)
    sent = user.http.post(page, data={**edited, "action": "save", "confirmed": "1"})
    assert "kept=1" in sent.headers["location"]

    clock.advance(DRAFT_KEEP_MS / 1000 + 60)
    back = _log_in(user.http, user.email, sent)
    assert "Restored your unsaved changes" not in back.text
    assert _textarea(back.text, "target0") == ""


def _panel(page: str) -> dict[str, str]:
    lines = re.findall(r'<(?:dd|code) id="test-([a-z]+)"[^>]*>(.*?)</(?:dd|code)>', page, re.S)
    return {k: re.sub(r"<[^>]+>", "", v) for k, v in lines}


def test_testing_a_context_evaluates_the_unsaved_form_and_keeps_every_edit(live):
    user = signup(live.url, "tester@example.com", PASSWORD)
    page = _flag(user, on=True)
    before = _config(user)["version"]
    edited = _edited_form(user, page)

    answer = user.http.post(page, data={**edited, "action": "test", "context": '{"key": "vip-1"}'})
    assert answer.status_code == 200, answer.text[:300]
    panel = _panel(answer.text)
    assert (panel["value"], panel["reason"]) == ("true", "TARGETING_MATCH")
    assert "With your unsaved edits (not saved)" in answer.text
    assert _textarea(answer.text, "target0") == "vip-1"
    assert _textarea(answer.text, "ctx") == '{"key": "vip-1"}'
    assert "data-edited" in answer.text
    assert _config(user)["version"] == before and _config(user)["targets"] == []

    # The stored configuration (no targets) answers otherwise: the panel did use the edits.
    stored = user.get(page, params={"env": "production", "context": '{"key": "vip-1"}'})
    assert _panel(stored.text)["reason"] == "STATIC"

    # A form the engine would refuse is not evaluated, and comes back as typed.
    bad = {**edited, "ft.serve": "rollout", "ft.w0": "30", "ft.w1": "30"}
    refused = user.http.post(page, data={**bad, "action": "test", "context": '{"key": "u"}'})
    assert refused.status_code == 422
    assert "Not evaluated:" in refused.text
    assert _textarea(refused.text, "target0") == "vip-1"
    assert _config(user)["version"] == before


def test_archiving_a_flag_that_is_on_asks_first_naming_where_it_is_on(live):
    user = signup(live.url, "keeper@example.com", PASSWORD)
    page = _flag(user, "live-one", on=True)
    heading = user.get(page).text
    archive = {**form_fields(heading, "env"), "action": "archive"}

    asked = user.http.post(page, data=archive)
    assert asked.status_code == 200
    assert "Archive Live-One while it is on?" in asked.text
    assert re.search(r"<li><strong>production</strong>: on</li>", asked.text)
    assert "FLAG_NOT_FOUND" in asked.text
    api = f"/api/v1/orgs/{user.org}/projects/default/flags/live-one"
    assert user.get(api).json()["archived"] is False

    confirmed = user.http.post(page, data=form_fields(asked.text, "force") | {"action": "archive"})
    assert confirmed.status_code == 303
    assert user.get(api).json()["archived"] is True

    archived = user.get(page, params={"env": "production"}).text
    assert "Archived: not served to any SDK." in archived
    assert 'value="restore"' in archived
    assert "Save changes to production" not in archived
    assert re.search(r"<fieldset disabled>", archived)
    assert 'value="archive"' not in archived
    assert 'form="flag-config"' not in archived  # the panel tests what SDKs get: nothing

    restored = user.http.post(page, data={**form_fields(archived, "env"), "action": "restore"})
    assert restored.status_code == 303
    assert user.get(api).json()["archived"] is False


def test_a_flag_that_is_off_archives_in_one_click(live):
    user = signup(live.url, "quick@example.com", PASSWORD)
    page = _flag(user, "idle-one")
    archive = {**form_fields(user.get(page).text, "env"), "action": "archive"}
    assert user.http.post(page, data=archive).status_code == 303
    api = f"/api/v1/orgs/{user.org}/projects/default/flags/idle-one"
    assert user.get(api).json()["archived"] is True


def test_deleting_an_environment_or_project_names_the_flags_on_there(live):
    user = signup(live.url, "remover@example.com", PASSWORD)
    _flag(user, "live-one", on=True)
    base = f"/o/{user.org}/p/default"
    confirm = user.get(f"{base}/environments/production/delete").text
    assert "On here right now:" in confirm and "live-one" in confirm
    settings = user.get(f"{base}/settings").text
    assert re.search(r"<li><strong>production</strong>: live-one</li>", settings)
    # Typing the key below that list is the confirmation: it goes.
    fields = form_fields(confirm, "confirm_key")
    gone = user.http.post(
        f"{base}/environments/production/delete", data={**fields, "confirm_key": "production"}
    )
    assert gone.status_code == 303
    api = f"/api/v1/orgs/{user.org}/projects/default/environments/production"
    assert user.get(api).status_code == 404


def test_segment_edits_sent_after_the_session_ended_come_back_too(live, clock):
    user = signup(live.url, "segmenter@example.com", PASSWORD)
    api = f"/api/v1/orgs/{user.org}/projects/default/environments/production/segments/vips"
    assert user.put(api, json={"name": "VIPs", "included": ["a"]}).status_code in (200, 201)
    page = f"/o/{user.org}/p/default/segments/vips"
    fields = form_fields(user.get(page, params={"env": "production"}).text, "rule_count")
    assert fields.get("draft_owner")

    clock.advance(IDLE_SECONDS)
    sent = user.http.post(
        page, data={**fields, "included": "a\nb\nc", "action": "save", "confirmed": "1"}
    )
    assert "kept=1" in sent.headers["location"]
    back = _log_in(user.http, user.email, sent)
    assert "Restored your unsaved changes" in back.text
    assert _textarea(back.text, "f-included") == "a\nb\nc"
    assert "data-edited" in back.text
    user.csrf = form_fields(back.text, "rule_count")["csrf_token"]
    assert user.get(api).json()["included"] == ["a"]
