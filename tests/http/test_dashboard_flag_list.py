"""The flag list's orders (natural by name, newest, recently changed), its "last changed"
column, and its empty states (a new project, or filters that match nothing)."""

from __future__ import annotations

import re

from tests.support.api import signup


def _keys(page: str) -> list[str]:
    return re.findall(r'<tr id="flag-[^"]+" data-flag="([^"]+)">', page)


def test_orders_and_the_last_changed_column(live, clock):
    user = signup(live.url, "list-order@example.com")
    api = f"/api/v1/orgs/{user.org}/projects/default"
    for key in ("bulk-flag-139", "bulk-flag-14", "Alpha", "bulk-flag-2"):
        assert user.post(f"{api}/flags", json={"key": key.lower()}).status_code == 201
        clock.advance(60)
    clock.advance(3600)
    toggle = user.patch(f"{api}/flags/bulk-flag-14/environments/production", json={"on": True})
    assert toggle.status_code == 200
    clock.advance(120)
    url = f"/o/{user.org}/p/default/flags"

    by_name = user.get(url).text
    assert _keys(by_name) == ["alpha", "bulk-flag-2", "bulk-flag-14", "bulk-flag-139"]
    assert 'aria-sort="ascending"' in by_name
    assert _keys(user.get(url + "?sort=created").text) == [
        "bulk-flag-2", "alpha", "bulk-flag-14", "bulk-flag-139"
    ]  # fmt: skip
    changed = user.get(url + "?sort=changed").text
    assert _keys(changed) == ["bulk-flag-14", "bulk-flag-2", "alpha", "bulk-flag-139"]
    assert 'aria-sort="descending"' in changed
    row = changed.split('data-flag="bulk-flag-14">', 1)[1].split("</tr>", 1)[0]
    assert "2 minutes ago" in row
    oldest = changed.split('data-flag="bulk-flag-139">', 1)[1].split("</tr>", 1)[0]
    assert "1 hour ago" in oldest
    # An unknown order is the default one, and the filters keep the order in their links.
    assert _keys(user.get(url + "?sort=nonsense").text) == _keys(by_name)
    filtered = user.get(url + "?q=bulk&sort=created").text
    assert _keys(filtered) == ["bulk-flag-2", "bulk-flag-14", "bulk-flag-139"]
    assert 'href="?q=bulk&amp;sort=changed"' in filtered
    api_list = user.get(f"{api}/flags").json()["flags"]
    assert all(f["changed_at"] >= f["updated_at"] for f in api_list)


def test_empty_states_say_what_to_do(live):
    user = signup(live.url, "list-empty@example.com")
    url = f"/o/{user.org}/p/default/flags"
    empty = user.get(url).text
    assert "No flags yet." in empty and "No flags match" not in empty
    assert f'href="/o/{user.org}/p/default/flags/new">Create your first flag</a>' in empty
    api = f"/api/v1/orgs/{user.org}/projects/default"
    assert user.post(f"{api}/flags", json={"key": "beta"}).status_code == 201
    nothing = user.get(url + "?q=zzz").text
    assert "No flags match these filters." in nothing and "Create your first flag" not in nothing
    assert '<a href="?">Clear the filters</a>' in nothing
