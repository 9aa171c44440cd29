"""The first-steps checklist on a project's flag list, without scripts: each step ticked from
what the project holds (a flag, an application seen, an evaluation counted), gone once all
three are done, dismissable for the project, never shown to viewers; the partial the scripts
ask for; and the empty states of the list pages, each with the action to take."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from tests.http.test_dashboard_project_roles import team
from tests.http.test_dashboard_security import csrf_of
from tests.http.test_delivery import make_flag, sdk, setup_env
from tests.http.test_usage import flush
from tests.support.api import signup


def _done(html: str) -> dict[str, bool]:
    """Each step of the checklist in `html`: done or not."""
    return {
        step: f'class="step done" id="step-{step}"' in html
        for step in ("flag", "application", "evaluation")
    }


def test_each_step_is_ticked_from_what_the_project_holds_and_the_list_goes(live):
    e = setup_env(live.url, "steps@example.com")
    flags = f"/o/{e.user.org}/p/default/flags"
    first = e.user.get(flags).text
    assert "First steps with" in first and "0 of 3 done" in first
    assert _done(first) == {"flag": False, "application": False, "evaluation": False}
    assert f'href="/o/{e.user.org}/p/default/flags/new">Create a flag</a>' in first
    assert "This project has no flags yet." in first  # the list's own empty state

    make_flag(e, "banner")
    assert _done(e.user.get(flags).text) == {
        "flag": True,
        "application": False,
        "evaluation": False,
    }

    answered = sdk(
        live.url, "/sdk/v1/evaluate", e.server_key, {"context": {"key": "u-1"}},
        **{"X-LaunchSequence-Application": "shop"},
    )  # fmt: skip
    assert answered.status_code == 200
    # Counted, not written yet: the partial the scripts poll still waits.
    partial = e.user.get(flags, headers={"X-Partial": "first-steps"})
    assert partial.status_code == 200 and "<h1>" not in partial.text
    assert "data-first-steps-pending" in partial.text
    flush(live)
    partial = e.user.get(flags, headers={"X-Partial": "first-steps"}).text
    assert _done(partial) == {"flag": True, "application": True, "evaluation": True}
    assert "All set" in partial and "data-first-steps-pending" not in partial
    # Done: the list is gone from the page for good.
    assert 'id="first-steps"' not in e.user.get(flags).text


def test_dismissed_for_the_project_and_never_shown_to_viewers(live):
    owner = signup(live.url, "dismiss@example.com")
    viewer = signup(live.url, "viewer-steps@example.com")
    added = owner.post(
        f"/api/v1/orgs/{owner.org}/members", json={"email": viewer.email, "role": "viewer"}
    )
    assert added.status_code == 201
    flags = f"/o/{owner.org}/p/default/flags"
    assert 'id="first-steps"' not in viewer.get(flags).text
    refused = viewer.http.post(
        f"/o/{owner.org}/p/default/first-steps",
        data={"csrf_token": csrf_of(viewer.get(flags).text)},
    )
    assert refused.status_code == 403

    page = owner.get(flags).text
    assert 'id="first-steps"' in page
    dismissed = owner.http.post(
        f"/o/{owner.org}/p/default/first-steps", data={"csrf_token": csrf_of(page)}
    )
    assert dismissed.status_code == 303
    after = owner.get(dismissed.headers["location"]).text
    assert "Dismissed the first steps" in after and 'id="first-steps"' not in after

    stranger = signup(live.url, "stranger-steps@example.com")
    token = csrf_of(stranger.get(f"/o/{stranger.org}").text)
    gone = stranger.http.post(f"/o/{owner.org}/p/default/first-steps", data={"csrf_token": token})
    assert gone.status_code == 404


def test_empty_lists_say_what_to_do(live):
    user = signup(live.url, "empty@example.com")
    p = f"/o/{user.org}/p/default"
    expected = {
        f"{p}/segments": ('id="segments-empty"', "Create the first segment"),
        f"{p}/schedules": ("No scheduled changes.", "Choose a flag"),
        f"/o/{user.org}/webhooks": ('id="webhooks-empty"', "Add the first webhook"),
        f"{p}/environments/production/applications": (
            'id="applications-empty"',
            "Copy a snippet for Production",
        ),
        f"{p}/cleanup": ('id="cleanup-empty"', "The flags, newest first"),
        f"{p}/edges": ('id="edges-empty"', "Create a relay key below"),
    }
    for url, (marker, action) in expected.items():
        html = user.get(url).text
        assert marker in html, url
        assert action in html, url
    filtered = user.get(f"/o/{user.org}/audit", params={"flag": "no-such-flag"}).text
    assert re.search(
        r'No entries match these filters\. <a href="\?">Clear the filters</a>', filtered
    )


def test_the_poll_is_cheap_and_says_when_to_stop(live):
    """The partial the scripts ask for every few seconds reads little (not the whole project
    with its environments and keys), and answers 204 once the checklist is closed, so that
    they stop asking."""
    e = setup_env(live.url, "poll@example.com")
    flags = f"/o/{e.user.org}/p/default/flags"
    make_flag(e, "banner")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # What the request reads, not what the server's own tasks do meanwhile.
        if statement != "BEGIN" and not re.search(
            r"webhook_deliveries|scheduled_changes", statement
        ):
            statements.append(statement.split("\n")[0][:90])

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        partial = e.user.get(flags, headers={"X-Partial": "first-steps"})
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
    assert partial.status_code == 200 and "data-first-steps-pending" in partial.text
    assert "First steps with Default" in partial.text  # the project's name, as on the page
    assert len(statements) <= 9, "\n".join(statements)  # it was some 23

    page = e.user.get(flags).text
    dismissed = e.user.http.post(
        f"/o/{e.user.org}/p/default/first-steps", data={"csrf_token": csrf_of(page)}
    )
    assert dismissed.status_code == 303
    gone = e.user.get(flags, headers={"X-Partial": "first-steps"})
    assert gone.status_code == 204 and gone.text == ""


def test_dismissing_follows_the_role_in_the_project(live):
    """An organization admin who is a viewer of the project may not dismiss its checklist; an
    organization viewer who is admin of a project may."""
    owner, viewer, admin = team(live.url)
    o = owner.org
    page = admin.get(f"/o/{o}/p/default/flags").text
    assert 'id="first-steps"' not in page  # a viewer here: never shown
    refused = admin.http.post(f"/o/{o}/p/default/first-steps", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 403
    assert 'id="first-steps"' in owner.get(f"/o/{o}/p/default/flags").text

    page = viewer.get(f"/o/{o}/p/b/flags").text
    assert 'id="first-steps"' in page  # an admin of b
    done = viewer.http.post(f"/o/{o}/p/b/first-steps", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    assert 'id="first-steps"' not in owner.get(f"/o/{o}/p/b/flags").text
