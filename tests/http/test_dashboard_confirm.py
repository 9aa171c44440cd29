"""Environments that confirm changes, without scripts and through the API: production asks by
default (new and migrated environments alike), a toggle or a save there shows a confirmation
step that changes nothing until confirmed, the comment reaches the audit log, the setting is
changed on the environments page and by PATCH, and the REST API never asks."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import command

from launchsequence.store.migrate import alembic_config
from tests.http.test_dashboard_security import csrf_of
from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields, page_forms


def _api(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default"


def _flag(user: ApiUser, key: str = "checkout") -> str:
    assert user.post(f"{_api(user)}/flags", json={"key": key, "name": "Checkout"}).is_success
    return f"/o/{user.org}/p/default/flags/{key}"


def _config(user: ApiUser, env: str = "production", key: str = "checkout") -> dict[str, Any]:
    return dict(user.get(f"{_api(user)}/flags/{key}/environments/{env}").json())


def _last_audit(user: ApiUser) -> dict[str, Any]:
    return dict(user.get(f"/api/v1/orgs/{user.org}/audit").json()["entries"][0])


def test_production_confirms_by_default_and_other_environments_do_not(live):
    user = signup(live.url, "defaults@example.com")
    envs = {e["key"]: e["confirm_changes"] for e in user.get(_api(user)).json()["environments"]}
    assert envs == {"production": True, "staging": False}
    for key, name, expected in (("prod-eu", "Production", True), ("qa", None, False),
                                ("production-2", "Prod 2", False)):  # fmt: skip
        made = user.post(f"{_api(user)}/environments", json={"key": key, "name": name})
        assert made.status_code == 201, made.text
        assert made.json()["confirm_changes"] is expected, key


def test_a_toggle_in_production_asks_first_and_keeps_the_comment(live):
    user = signup(live.url, "toggle@example.com")
    page = _flag(user)
    html = user.get(f"{page}?env=production").text
    assert 'id="cfg-on"' not in html  # one control: the switch
    [switch] = [f for f in page_forms(html) if f.action.endswith("/toggle")]
    press = {**dict(switch.fields), **dict(switch.buttons)}

    asked = user.http.post(switch.action, data={**press, "comment": "launch day"})
    assert asked.status_code == 200
    assert "Turn Checkout on in Production?</h1>" in asked.text
    assert _config(user)["on"] is False  # nothing changed yet
    # A script's request is told to ask (it then sends the form itself).
    partial = user.http.post(switch.action, data=press, headers={"X-Partial": "none"})
    assert partial.status_code == 409 and _config(user)["on"] is False

    [confirm] = [f for f in page_forms(asked.text) if f.action.endswith("/toggle")]
    fields = dict(confirm.fields)
    assert fields["confirmed"] == "1" and fields["comment"] == "launch day"  # kept
    done = user.http.post(confirm.action, data=fields)
    assert done.status_code == 303 and done.headers["location"].endswith("?env=production")
    assert _config(user)["on"] is True
    entry = _last_audit(user)
    assert (entry["action"], entry["comment"]) == ("flag.toggled", "launch day")

    # Staging does not confirm: the switch applies at once.
    staging = user.get(f"{page}?env=staging").text
    [switch] = [f for f in page_forms(staging) if f.action.endswith("/toggle")]
    at_once = user.http.post(switch.action, data={**dict(switch.fields), **dict(switch.buttons)})
    assert at_once.status_code == 303 and _config(user, "staging")["on"] is True


def test_saving_in_production_asks_first_and_keeps_the_edits(live):
    user = signup(live.url, "save@example.com")
    page = _flag(user)
    fields = form_fields(user.get(f"{page}?env=production").text, "rule_count")
    edited = {**fields, "target0": "vip-1", "comment": "for the VIP", "action": "save"}

    asked = user.http.post(page, data=edited)
    assert asked.status_code == 200
    assert "Save your changes to Production?</h2>" in asked.text
    assert re.search(r'<textarea id="target0"[^>]*>vip-1</textarea>', asked.text)
    assert _config(user)["targets"] == []  # not saved yet

    again = form_fields(asked.text, "rule_count")
    assert again["confirmed"] == "1" and again["comment"] == "for the VIP"
    saved = user.http.post(page, data={**again, "action": "save"})
    assert saved.status_code == 303, saved.text[:500]
    assert _config(user)["targets"] == [{"variation": 0, "values": ["vip-1"]}]
    entry = _last_audit(user)
    assert (entry["action"], entry["comment"]) == ("flag.configured", "for the VIP")

    # Staging saves at once.
    fields = form_fields(user.get(f"{page}?env=staging").text, "rule_count")
    at_once = user.http.post(page, data={**fields, "target0": "qa-1", "action": "save"})
    assert at_once.status_code == 303
    assert _config(user, "staging")["targets"] == [{"variation": 0, "values": ["qa-1"]}]


def test_the_setting_is_changed_on_the_environments_page_and_by_patch(live):
    user = signup(live.url, "setting@example.com")
    page = f"/o/{user.org}/p/default/environments"
    html = user.get(page).text
    assert re.search(r'id="env-confirm-production" name="confirm_changes" value="1" checked', html)
    assert not re.search(r'id="env-confirm-staging" name="confirm_changes" value="1" checked', html)
    form = form_fields(html, "settings_form")  # the first: production's
    assert form["env"] == "production"
    unticked = {k: v for k, v in form.items() if k != "confirm_changes"}
    saved = user.http.post(page, data=unticked)
    assert saved.status_code == 303
    assert "Saved the settings of the environment" in user.get(saved.headers["location"]).text
    production = user.get(f"{_api(user)}/environments/production").json()
    assert production["confirm_changes"] is False and production["name"] == "Production"
    entry = _last_audit(user)
    assert entry["action"] == "environment.updated"
    assert (entry["before"], entry["after"]) == ({"confirm_changes": True},
                                                  {"confirm_changes": False})  # fmt: skip

    # Production no longer asks: the flag page saves at once.
    flag = _flag(user)
    fields = form_fields(user.get(f"{flag}?env=production").text, "rule_count")
    assert user.http.post(flag, data={**fields, "action": "save"}).status_code == 303

    env = f"{_api(user)}/environments/staging"
    turned = user.patch(env, json={"confirm_changes": True})
    assert turned.status_code == 200 and turned.json()["confirm_changes"] is True
    renamed = user.patch(env, json={"name": "QA"})
    assert renamed.json()["name"] == "QA" and renamed.json()["confirm_changes"] is True
    for body, field in (({"confirm_changes": "yes"}, "confirm_changes"),
                        ({"name": None}, "name"), ({"protected_by": 1}, None)):  # fmt: skip
        refused = user.patch(env, json=body)
        assert refused.status_code == 422, body
        if field:
            assert field in refused.text
    assert user.get(env).json()["name"] == "QA"


def test_the_api_never_asks_and_takes_the_comment(live):
    user = signup(live.url, "api@example.com")
    _flag(user)
    toggled = user.patch(
        f"{_api(user)}/flags/checkout/environments/production",
        json={"on": True},
        headers={"X-LaunchSequence-Comment": "from CI"},
    )
    assert toggled.status_code == 200 and toggled.json()["on"] is True
    assert _last_audit(user)["comment"] == "from CI"


def test_viewers_cannot_change_the_setting(live):
    owner = signup(live.url, "owner-c@example.com")
    viewer = signup(live.url, "viewer-c@example.com")
    added = owner.post(
        f"/api/v1/orgs/{owner.org}/members", json={"email": viewer.email, "role": "viewer"}
    )
    assert added.status_code == 201
    env = f"/api/v1/orgs/{owner.org}/projects/default/environments/production"
    assert viewer.patch(env, json={"confirm_changes": False}).status_code == 403
    page = f"/o/{owner.org}/p/default/environments"
    html = viewer.get(page).text
    assert "Save settings of production" not in html
    assert "Changes here ask for confirmation." in html
    forged = viewer.http.post(
        page,
        data={
            "csrf_token": csrf_of(html),
            "action": "settings",
            "env": "production",
            "settings_form": "1",
        },
    )
    assert forged.status_code == 403
    assert owner.get(env).json()["confirm_changes"] is True


def test_the_migration_turns_it_on_for_existing_production_environments(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0011")
        conn.execute(sa.text("INSERT INTO organizations (id, key, name, created_at) "
                             "VALUES (1, 'o', 'O', 0)"))  # fmt: skip
        conn.execute(sa.text("INSERT INTO projects (id, org_id, key, name, created_at) "
                             "VALUES (1, 1, 'p', 'P', 0)"))  # fmt: skip
        for i, (key, name) in enumerate((("production", "Live"), ("live", "PRODUCTION"),
                                         ("staging", "Staging")), start=1):  # fmt: skip
            conn.execute(
                sa.text(
                    "INSERT INTO environments (id, project_id, key, name, version, "
                    "created_at) VALUES (:i, 1, :k, :n, 1, 0)"
                ),
                {"i": i, "k": key, "n": name},
            )
        command.upgrade(config, "0015")
        rows = dict(conn.execute(sa.text("SELECT key, confirm_changes FROM environments")).all())
    engine.dispose()
    assert {k: bool(v) for k, v in rows.items()} == {
        "production": True,
        "live": True,
        "staging": False,
    }


def test_saving_a_segment_in_production_asks_first_and_keeps_the_edits(live):
    user = signup(live.url, "segment-save@example.com")
    api = f"{_api(user)}/environments/production/segments"
    assert user.put(f"{api}/vips", json={"name": "VIPs"}).status_code in (200, 201)
    page = f"/o/{user.org}/p/default/segments/vips?env=production"
    html = user.get(page).text
    assert 'data-confirm-save="Production" data-flag-name="segment VIPs"' in html
    fields = form_fields(html, "rule_count")
    edited = {**fields, "included": "vip-1", "comment": "the VIP", "action": "save"}

    asked = user.http.post(page, data=edited)
    assert asked.status_code == 200
    assert "Save segment VIPs in Production?</h2>" in asked.text
    assert re.search(r'<textarea id="f-included"[^>]*>vip-1</textarea>', asked.text)
    assert user.get(f"{api}/vips").json()["included"] == []  # not saved yet

    again = form_fields(asked.text, "rule_count")
    assert again["confirmed"] == "1" and again["comment"] == "the VIP"
    saved = user.http.post(page, data={**again, "action": "save"})
    assert saved.status_code == 303, saved.text[:500]
    assert user.get(f"{api}/vips").json()["included"] == ["vip-1"]
    assert _last_audit(user)["comment"] == "the VIP"

    # Staging does not confirm: a save applies at once.
    staging = f"{_api(user)}/environments/staging/segments"
    assert user.put(f"{staging}/qa", json={"name": "QA"}).status_code in (200, 201)
    qa = f"/o/{user.org}/p/default/segments/qa?env=staging"
    fields = form_fields(user.get(qa).text, "rule_count")
    at_once = user.http.post(qa, data={**fields, "included": "qa-1", "action": "save"})
    assert at_once.status_code == 303
    assert user.get(f"{staging}/qa").json()["included"] == ["qa-1"]


def test_each_setting_keeps_its_audit_action_and_a_rename_is_environment_renamed(live):
    """One save of the settings form that renames, stops confirming and protects: one entry
    per kind of change, a rename as `environment.renamed` (as renames always were), so that
    audit filters and webhooks on it keep working; a filter by the action finds it."""
    user = signup(live.url, "actions@example.com")
    page = f"/o/{user.org}/p/default/environments"
    form = form_fields(user.get(page).text, "settings_form")
    assert form["env"] == "production"
    sent = {k: v for k, v in form.items() if k != "confirm_changes"}
    sent |= {"name": "Live", "protected": "1", "required_approvals": "2"}
    saved = user.http.post(page, data=sent)
    assert saved.status_code == 303, saved.text[:500]
    entries = user.get(f"/api/v1/orgs/{user.org}/audit").json()["entries"][:3]
    by_action = {e["action"]: (e["before"], e["after"]) for e in entries}
    assert by_action == {
        "environment.renamed": ({"name": "Production"}, {"name": "Live"}),
        "environment.updated": ({"confirm_changes": True}, {"confirm_changes": False}),
        "environment.protection_changed": (
            {"protected": False, "required_approvals": 1},
            {"protected": True, "required_approvals": 2},
        ),
    }
    renamed = user.get(f"/api/v1/orgs/{user.org}/audit", params={"action": "environment.renamed"})
    assert [e["after"] for e in renamed.json()["entries"]] == [{"name": "Live"}]

    # By the API too, and the form's own refusal of a number beside its field.
    staging = f"{_api(user)}/environments/staging"
    assert user.patch(staging, json={"name": "QA"}).status_code == 200
    assert _last_audit(user)["action"] == "environment.renamed"
    bad = user.http.post(page, data={**sent, "required_approvals": "11"})
    assert (
        bad.status_code == 422
        and "required_approvals must be a whole number from 1 to 10" in bad.text
    )
