"""The dashboard: each project's "recently changed flags" lists flags only (not key rotations,
environment renames or segments), newest first, each flag once."""

from __future__ import annotations

import re

from tests.support.api import signup


def _recent(page: str) -> list[tuple[str, str, bool]]:
    """(flag key, what happened, linked) per line of the first project's recent flags."""
    section = page.split("<h3>Recently changed flags</h3>", 1)[1].split("</section>", 1)[0]
    lines = re.findall(r"<li>(<a [^>]*>|<code>)([^<]+)</(?:a|code)> <span class=\"action\">(\w+)",
                       section)  # fmt: skip
    return [(key, action, opening.startswith("<a")) for opening, key, action in lines]


def test_recently_changed_lists_flag_changes_only_each_flag_once(live):
    user = signup(live.url, "home@example.com")
    home = f"/o/{user.org}"
    assert "No flag changed yet." in user.get(home).text

    project = f"/api/v1/orgs/{user.org}/projects/default"
    for key in ("alpha", "bravo", "charlie", "delta", "gone"):
        assert user.post(f"{project}/flags", json={"key": key, "name": key}).status_code == 201
    toggle = f"{project}/flags/alpha/environments/production"
    assert user.patch(toggle, json={"on": True}).status_code == 200
    assert user.delete(f"{project}/flags/gone").status_code == 204
    assert user.patch(toggle, json={"on": False}).status_code == 200
    # Newer than every flag change, and none of them a flag change.
    rotated = user.post(f"{project}/environments/production/sdk-keys", json={"kind": "server"})
    assert rotated.status_code == 201
    renamed = user.patch(f"{project}/environments/staging", json={"name": "Pre-production"})
    assert renamed.status_code == 200
    segment = user.put(
        f"{project}/environments/production/segments/testers", json={"name": "Testers"}
    )
    assert segment.status_code in (200, 201), segment.text

    page = user.get(home).text
    assert _recent(page) == [
        ("alpha", "toggled", True),
        ("gone", "deleted", False),
        ("delta", "created", True),
        ("charlie", "created", True),
        ("bravo", "created", True),
    ]
    assert f'href="/o/{user.org}/p/default/flags/alpha?env=production"' in page
    assert "4 flags" in page
