"""The audit log page: a sentence per entry with links, the difference line by line, filters
that live in the URL (project, environment, flag, member, action, dates), and paging; and the
same filters in the REST API."""

from __future__ import annotations

import html
import re
import time

from tests.support.api import signup


def _sentences(page: str) -> list[str]:
    # The sentence, then the time that opens the difference (its toggle holds no link).
    found = re.findall(
        r'<span class="sentence">(.*?)</span>\s*<details[^>]*>\s*<summary><time', page, flags=re.S
    )
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", s)).split()) for s in found]


def test_sentences_links_and_the_difference(live):
    ana = signup(live.url, "ana@example.com", name="Ana")
    api = f"/api/v1/orgs/{ana.org}/projects/default"
    assert ana.post(f"{api}/flags", json={"key": "new-checkout"}).status_code == 201
    env = f"{api}/flags/new-checkout/environments/production"
    assert ana.patch(env, json={"on": True}).status_code == 200
    rule = {"clauses": [{"attribute": "country", "op": "in", "values": ["DE"]}],
            "serve": {"variation": 0}}  # fmt: skip
    assert ana.patch(env, json={"rules": [rule]}).status_code == 200
    page = ana.get(f"/o/{ana.org}/audit").text
    said = _sentences(page)
    assert said[0] == "Ana changed the targeting of new-checkout in production · default"
    assert said[1] == "Ana turned new-checkout on in production · default"
    assert said[2] == "Ana created flag new-checkout · default"
    assert f'href="/o/{ana.org}/p/default/flags/new-checkout?env=production"' in page
    # The difference: the added rule's lines are marked as added, unchanged lines mostly left out.
    first = page.split('<li class="audit-entry">', 2)[1]
    added = [html.unescape(x) for x in re.findall(r'<span class="d-add">\+ ([^<]*)</span>', first)]
    assert any('"DE"' in line for line in added), first
    assert html.unescape('<span class="d-del">-   "rules": [],</span>') in html.unescape(first)
    assert '"targets"' in html.unescape(first) and '"client_side"' not in html.unescape(first)
    assert "toggled" not in said[1]  # machine names only in the detail line
    assert "<code>flag.toggled</code>" in page


def test_filters_live_in_the_url_and_page(live, clock):
    ana = signup(live.url, "ana-filters@example.com", name="Ana")
    org = ana.org
    api = f"/api/v1/orgs/{org}/projects/default"
    for i in range(55):
        assert ana.post(f"{api}/flags", json={"key": f"f-{i}"}).status_code == 201
    clock.advance(2 * 86_400)
    again = ana.http.post(
        "/api/v1/auth/login", json={"email": ana.email, "password": "correct horse"}
    )
    assert again.status_code == 200, again.text
    ana.csrf = again.json()["csrf_token"]
    assert ana.patch(f"{api}/flags/f-3/environments/staging", json={"on": True}).status_code == 200

    toggles = ana.get(f"/o/{org}/audit?action=flag.toggled").text
    assert _sentences(toggles) == ["Ana turned f-3 on in staging · default"]
    assert 'value="flag.toggled" selected' in toggles
    assert _sentences(ana.get(f"/o/{org}/audit?environment=production").text) == []
    family = _sentences(ana.get(f"/o/{org}/audit?action=flag.&flag=f-3").text)
    assert family == ["Ana turned f-3 on in staging · default", "Ana created flag f-3 · default"]
    today = time.strftime("%Y-%m-%d", time.gmtime(clock.now / 1000))
    dated = _sentences(ana.get(f"/o/{org}/audit?from={today}&to={today}").text)
    assert dated == ["Ana turned f-3 on in staging · default"]
    bad = ana.get(f"/o/{org}/audit?from=yesterday")
    assert bad.status_code in (400, 422) and "must be a date" in bad.text
    nobody = ana.get(f"/o/{org}/audit?member=someone@example.com").text
    assert "No entries match these filters." in nobody

    first = ana.get(f"/o/{org}/audit?action=flag.created").text
    assert len(_sentences(first)) == 50
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older and "action=flag.created" in html.unescape(older.group(1))
    second = ana.get(f"/o/{org}/audit{html.unescape(older.group(1))}").text
    assert len(_sentences(second)) == 5 and "Newest entries" in second

    r = ana.get(f"/api/v1/orgs/{org}/audit", params={"action": "flag.", "member": ana.email,
                                                    "since": clock.now - 60_000})  # fmt: skip
    assert r.status_code == 200
    assert [e["action"] for e in r.json()["entries"]] == ["flag.toggled"]
    assert r.json()["entries"][0]["actor_name"] == "Ana"
    wrong = ana.get(f"/api/v1/orgs/{org}/audit", params={"action": "DROP TABLE"})
    assert wrong.status_code == 422
