"""Comparing, copying and bulk actions on the dashboard, without scripts: the pages' own forms
posted as a browser would (CSRF token included), what they show, and what they refuse."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from tests.support.api import ApiUser, signup
from tests.support.forms import Form, page_forms

RULE = {
    "description": "EU customers",
    "clauses": [{"attribute": "country", "op": "in", "values": ["DE", "FR"]}],
    "serve": {"variation": 0},
}


def api(user: ApiUser) -> str:
    return f"/api/v1/orgs/{user.org}/projects/default"


def config(user: ApiUser, key: str, env: str) -> dict[str, Any]:
    got = user.get(f"{api(user)}/flags/{key}/environments/{env}")
    assert got.status_code == 200, got.text
    return dict(got.json())


def form_to(page: str, action: str) -> Form:
    [form] = [f for f in page_forms(page) if f.action.endswith(action) and f.method == "post"]
    return form


def post(user: ApiUser, url: str, pairs: list[tuple[str, str]]) -> Any:
    """A form posted as a browser posts it (a name may repeat)."""
    return user.http.post(
        url,
        content=urlencode(pairs),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def words(page: str) -> str:
    """The page's text as read: tags dropped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def setup(user: ApiUser) -> None:
    for key in ("checkout", "search"):
        assert user.post(f"{api(user)}/flags", json={"key": key}).status_code == 201
    staging = {"on": True, "rules": [RULE]}
    got = user.patch(f"{api(user)}/flags/checkout/environments/staging", json=staging)
    assert got.status_code == 200, got.text


def test_compare_pages_and_copy_a_rule_with_the_form(live):
    alice = signup(live.url, "alice@example.com")
    setup(alice)
    listing = alice.get(f"/o/{alice.org}/p/default/compare")
    assert listing.status_code == 200
    assert "1 of 2 flags differs between staging and production" in words(listing.text)
    link = f"/o/{alice.org}/p/default/flags/checkout/compare?from=staging&to=production"
    assert link in html.unescape(listing.text)

    url = f"/o/{alice.org}/p/default/flags/checkout/compare?from=staging&to=production"
    page = alice.get(url)
    assert page.status_code == 200
    shown = html.unescape(page.text)
    assert "Rule 1: EU customers" in shown and "if country is one of DE, FR" in shown
    assert 'data-part="rules" data-differs="true"' in shown
    assert 'data-part="fallthrough" data-differs="false"' in shown
    form = form_to(page.text, "/flags/checkout/compare")
    fields = dict(form.fields)
    # The parts that differ are checked; the version is production's as shown.
    assert [v for k, v in form.fields if k == "part"] == ["on", "rules"]
    assert fields["version"] == str(config(alice, "checkout", "production")["version"])

    data = [(k, v) for k, v in form.fields if k != "part"] + [("part", "rules")]
    data = [(k, "copy the EU rule" if k == "comment" else v) for k, v in data]
    # Production confirms changes: the copy asks first, naming the parts, and changes nothing.
    asked = post(alice, form.action, data)
    assert asked.status_code == 200, asked.text
    assert "Copy into Production?" in words(asked.text)
    assert "<li><code>Rules</code></li>" in asked.text
    assert config(alice, "checkout", "production")["rules"] == []
    confirm = form_to(asked.text, "/flags/checkout/compare")
    assert ("confirmed", "1") in confirm.fields and ("part", "rules") in confirm.fields
    assert dict(confirm.fields)["comment"] == "copy the EU rule"
    done = post(alice, confirm.action, confirm.fields)
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith("&copied=rules")
    after = alice.get(done.headers["location"])
    assert "Copied Rules from staging to production" in words(after.text)
    production = config(alice, "checkout", "production")
    assert [r["description"] for r in production["rules"]] == ["EU customers"]
    assert production["on"] is False
    audit = alice.get(f"/api/v1/orgs/{alice.org}/audit").json()["entries"][0]
    assert (audit["action"], audit["environment"], audit["comment"]) == (
        "flag.configured", "production", "copy the EU rule"
    )  # fmt: skip

    # The same form again, now stale: production moved since the page was drawn.
    stale = post(alice, form.action, [*data[:-1], ("part", "on"), ("confirmed", "1")])
    assert stale.status_code == 412
    assert "production changed while you were looking" in words(stale.text)
    assert config(alice, "checkout", "production")["on"] is False
    # No part checked: said so, nothing changed.
    fresh = form_to(alice.get(url).text, "/flags/checkout/compare")
    none = post(alice, fresh.action, [(k, v) for k, v in fresh.fields if k != "part"])
    assert none.status_code == 422 and "check at least one part" in none.text
    # Without the CSRF token: refused.
    forged = post(alice, fresh.action, [(k, v) for k, v in fresh.fields
                                                 if k != "csrf_token"])  # fmt: skip
    assert forged.status_code == 403
    assert config(alice, "checkout", "production")["on"] is False


def test_bulk_form_on_the_flag_list_reports_each_flag(live):
    alice = signup(live.url, "alice@example.com")
    setup(alice)
    page = alice.get(f"/o/{alice.org}/p/default/flags?tag=&q=")
    assert 'form="bulk-form"' in page.text
    form = form_to(page.text, "/p/default/bulk")
    fields = [(k, v) for k, v in form.fields if k not in ("action", "comment")]
    sent = [*fields, ("action", "on:production"), ("flag", "checkout"), ("flag", "ghost"),
            ("comment", "launch")]  # fmt: skip
    # Production confirms changes: a page names the flags and the environment first, and
    # nothing changes until it is confirmed.
    asked = post(alice, form.action, sent)
    assert asked.status_code == 200, asked.text
    assert "Turn 2 flags on in Production?" in words(asked.text)
    assert "<li><code>checkout</code></li>" in asked.text
    assert "<li><code>ghost</code></li>" in asked.text
    assert config(alice, "checkout", "production")["on"] is False
    confirm = form_to(asked.text, "/p/default/bulk")
    assert ("confirmed", "1") in confirm.fields and dict(confirm.fields)["comment"] == "launch"
    result = post(alice, confirm.action, confirm.fields)
    assert result.status_code == 200, result.text
    text = words(result.text)
    assert "Turn on in Production: 1 flag done, 1 refused" in text
    assert 'data-flag="ghost" data-ok="false"' in result.text and "no such flag" in text
    assert config(alice, "checkout", "production")["on"] is True
    assert f'href="/o/{alice.org}/p/default/flags?tag=&amp;q="' in result.text  # back, as it was

    none = post(alice, form.action, [*fields, ("action", "archive")])
    assert none.status_code == 422 and "select one or more flags" in none.text
    forged = post(alice, form.action, [(k, v) for k, v in sent if k != "csrf_token"])
    assert forged.status_code == 403

    # A viewer sees neither checkboxes nor the form, and a post of it is refused.
    bob = signup(live.url, "bob@example.com")
    invite = {"email": "bob@example.com", "role": "viewer"}
    assert alice.post(f"/api/v1/orgs/{alice.org}/members", json=invite).status_code == 201
    viewer_page = bob.get(f"/o/{alice.org}/p/default/flags")
    assert viewer_page.status_code == 200 and "bulk-form" not in viewer_page.text
    token = dict(page_forms(viewer_page.text)[0].fields)["csrf_token"]
    refused = post(
        bob,
        f"/o/{alice.org}/p/default/bulk",
        [("csrf_token", token), ("action", "off:production"), ("flag", "checkout")],
    )
    assert refused.status_code == 403
    assert config(alice, "checkout", "production")["on"] is True

    # Someone of another organization: its project answers 404, asked or confirmed, with its
    # flags unchanged (exactly as a project that does not exist).
    carol = signup(live.url, "carol@example.com")
    theirs = dict(page_forms(carol.get(f"/o/{carol.org}/p/default/flags").text)[0].fields)
    for extra in ([], [("confirmed", "1")]):
        for action in ("off:production", "off:staging", "archive"):
            gone = post(
                carol,
                f"/o/{alice.org}/p/default/bulk",
                [("csrf_token", theirs["csrf_token"]), ("action", action),
                 ("flag", "checkout"), *extra],
            )  # fmt: skip
            assert gone.status_code == 404, (action, extra)
    missing = post(
        carol,
        "/o/no-such-org/p/default/bulk",
        [("csrf_token", theirs["csrf_token"]), ("action", "archive"), ("flag", "checkout")],
    )
    assert missing.status_code == 404
    assert config(alice, "checkout", "production")["on"] is True
    assert alice.get(f"{api(alice)}/flags/checkout").json()["archived"] is False


def test_the_copy_form_and_header_follow_the_project_role(live):
    """Dev, a viewer of the organization made admin of the project, gets the copy form and
    the project's links on the comparison and change-request pages; Cleo, an admin of the
    organization made viewer of the project, does not."""
    alice = signup(live.url, "alice@example.com")
    setup(alice)
    org = f"/api/v1/orgs/{alice.org}"
    users = {}
    for email, role in (("dev@example.com", "viewer"), ("cleo@example.com", "admin")):
        users[email] = signup(live.url, email)
        added = alice.post(f"{org}/members", json={"email": email, "role": role})
        assert added.status_code == 201, added.text
    ids = {m["email"]: m["user_id"] for m in alice.get(f"{org}/members").json()["members"]}
    for email, role in (("dev@example.com", "admin"), ("cleo@example.com", "viewer")):
        got = alice.put(f"{api(alice)}/members/{ids[email]}", json={"role": role})
        assert got.status_code == 200, got.text
    base = f"/o/{alice.org}/p/default"
    pages = [f"{base}/flags/checkout/compare?from=staging&to=production", f"{base}/compare",
             f"{base}/change-requests"]  # fmt: skip
    dev, cleo = users["dev@example.com"], users["cleo@example.com"]
    compare = dev.get(pages[0]).text
    assert 'id="copy-form"' in compare
    assert 'id="copy-form"' not in cleo.get(pages[0]).text
    for page in pages:
        shown, hidden = dev.get(page).text, cleo.get(page).text
        assert " · admin" in words(shown) and f'href="{base}/settings"' in shown, page
        assert " · viewer" in words(hidden) and f'href="{base}/settings"' not in hidden, page
