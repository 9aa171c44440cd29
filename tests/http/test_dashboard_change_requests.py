"""Change requests on the dashboard, as a browser without scripts uses it: the environments
page's protection settings, "Request change" on a protected environment's flag page (and its
switch), the project's list, a request's page with its diff and the buttons each member may
press, every form with its CSRF token."""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields, page_forms


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def setup(url: str) -> tuple[ApiUser, ApiUser, ApiUser, str]:
    alice = signup(url, "alice@example.com")
    bob = signup(url, "bob@example.com")
    vic = signup(url, "vic@example.com")
    for user, role in ((bob, "admin"), (vic, "viewer")):
        ok(
            alice.post(
                f"/api/v1/orgs/{alice.org}/members", json={"email": user.email, "role": role}
            ),
            201,
        )
    ok(
        alice.post(f"/api/v1/orgs/{alice.org}/projects/default/flags", json={"key": "checkout"}),
        201,
    )
    return alice, bob, vic, f"/o/{alice.org}/p/default"


def config(user: ApiUser, org: str) -> dict[str, Any]:
    path = f"/api/v1/orgs/{org}/projects/default/flags/checkout/environments/production"
    return ok(user.get(path))  # type: ignore[no-any-return]


def test_protect_an_environment_on_its_page(live):
    alice, _, vic, base = setup(live.url)
    page = alice.get(f"{base}/environments").text
    fields = form_fields(page, "settings_form")
    assert fields["env"] == "production" and "csrf_token" in fields
    sent = alice.http.post(
        f"{base}/environments", data={**fields, "protected": "1", "required_approvals": "2"}
    )
    assert sent.status_code == 303, sent.text
    shown = alice.get(sent.headers["location"]).text
    assert "Saved the settings of the environment <code>production</code>" in shown
    assert "protected: 2 approvals" in shown
    env = ok(alice.get(f"/api/v1/orgs/{alice.org}/projects/default/environments/production"))
    assert env["protected"] is True and env["required_approvals"] == 2
    # A bad number is shown beside the field; without the CSRF token nothing changes.
    bad = alice.http.post(f"{base}/environments", data={**fields, "required_approvals": "0"})
    assert bad.status_code == 422 and "required_approvals must be a whole number" in bad.text
    forged = alice.http.post(
        f"{base}/environments", data={**{k: v for k, v in fields.items() if k != "csrf_token"}}
    )
    assert forged.status_code == 403
    # Viewers see no settings form, and cannot post one.
    assert "settings_form" not in vic.get(f"{base}/environments").text
    refused = vic.http.post(f"{base}/environments", data={**fields, "csrf_token": vic.csrf})
    assert refused.status_code == 403
    env = ok(alice.get(f"/api/v1/orgs/{alice.org}/projects/default/environments/production"))
    assert env["protected"] is True and env["required_approvals"] == 2


def test_an_admin_cannot_lift_protection_on_the_page(live):
    alice, bob, _, base = setup(live.url)
    env_path = f"/api/v1/orgs/{alice.org}/projects/default/environments/production"
    ok(alice.patch(env_path, json={"protected": True, "required_approvals": 2}))
    shown = form_fields(bob.get(f"{base}/environments").text, "settings_form")
    assert shown["protected"] == "1"
    fields = {k: v for k, v in shown.items() if k != "protected"}  # the box unticked
    for sent in ({"required_approvals": "2"}, {"protected": "1", "required_approvals": "1"}):
        refused = bob.http.post(f"{base}/environments", data={**fields, **sent})
        assert refused.status_code == 403, refused.text
        assert "only an owner of the organization may lift" in refused.text
    env = ok(alice.get(env_path))
    assert env["protected"] is True and env["required_approvals"] == 2
    raised = bob.http.post(
        f"{base}/environments", data={**fields, "protected": "1", "required_approvals": "3"}
    )
    assert raised.status_code == 303, raised.text
    lifted = alice.http.post(
        f"{base}/environments",
        data={**{k: v for k, v in form_fields(alice.get(f"{base}/environments").text,
                                              "settings_form").items() if k != "protected"},
              "required_approvals": "1"},
    )  # fmt: skip
    assert lifted.status_code == 303, lifted.text
    env = ok(alice.get(env_path))
    assert env["protected"] is False and env["required_approvals"] == 1


def test_request_approve_and_apply_with_forms(live):
    alice, bob, vic, base = setup(live.url)
    ok(
        alice.patch(
            f"/api/v1/orgs/{alice.org}/projects/default/environments/production",
            json={"protected": True},
        )
    )
    flag_page = f"{base}/flags/checkout?env=production"
    shown = alice.get(flag_page).text
    assert "Request change to production" in shown and "Save changes to production" not in shown
    assert "Request turning it on" in shown  # the switch proposes, too
    fields = form_fields(shown, "prereq_rows")  # the configuration's form
    # Nothing changed: nothing to request.
    same = alice.http.post(flag_page, data={**fields, "action": "request"})
    assert same.status_code == 422 and "change something first" in same.text
    # The form changes targeting (on/off is the switch's, below): serve the other variation.
    served = fields["ft.serve"]
    other = "0" if served == "1" else "1"
    sent = alice.http.post(
        flag_page,
        data={
            **fields,
            "ft.serve": other,
            "action": "request",
            "request_comment": "launch <b>now</b>",
        },
    )
    assert sent.status_code == 303, sent.text
    request_url = sent.headers["location"].split("?")[0]
    assert config(alice, alice.org)["fallthrough"] == {"variation": int(served)}

    page = alice.get(sent.headers["location"]).text
    assert "It needs approval by someone else" in page
    removed = re.findall(r'<span class="d-del">([^<]*)</span>', page)
    added = re.findall(r'<span class="d-add">([^<]*)</span>', page)
    assert any("&#34;variation&#34;: " + served in line for line in removed), removed
    assert any("&#34;variation&#34;: " + other in line for line in added), added
    assert "launch &lt;b&gt;now&lt;/b&gt;" in page  # escaped
    buttons = {b for f in page_forms(page) for b in f.buttons}
    assert ("action", "approve") not in buttons and ("action", "apply") not in buttons
    assert ("action", "cancel") in buttons

    # Vic (viewer) sees the request and no button; a forged approval is refused.
    viewer_page = vic.get(request_url).text
    assert not [
        f for f in page_forms(viewer_page) if f.method == "post" and "change-requests" in f.action
    ]
    forged = vic.http.post(
        request_url, data={"csrf_token": vic.csrf, "action": "approve", "revision": "1"}
    )
    assert forged.status_code == 403

    # Bob approves with the page's form, which names the revision he read.
    bob_page = bob.get(request_url).text
    approve = form_fields(bob_page, "revision")
    assert approve["revision"] == "1"
    done = bob.http.post(request_url, data={**approve, "action": "approve"})
    assert done.status_code == 303 and "done=approve" in done.headers["location"]
    page = alice.get(request_url).text
    assert 'id="request-state">approved<' in page and "bob@example.com" in page

    # Alice applies it now.
    apply = form_fields(page, "apply_at")
    assert apply["when"] == "now"
    applied = alice.http.post(request_url, data={**apply, "action": "apply"})
    assert applied.status_code == 303, applied.text
    assert config(alice, alice.org)["fallthrough"] == {"variation": int(other)}
    page = alice.get(applied.headers["location"]).text
    assert "Applied." in page and 'id="request-state">applied<' in page

    listed = alice.get(f"{base}/change-requests").text
    assert 'data-state="applied"' in listed and "Change the default rule" in listed
    only_open = alice.get(f"{base}/change-requests?state=open").text
    assert "No change requests open." in only_open


def test_the_switch_of_a_protected_environment_opens_a_request(live):
    alice, bob, _, base = setup(live.url)
    ok(
        alice.patch(
            f"/api/v1/orgs/{alice.org}/projects/default/environments/production",
            json={"protected": True},
        )
    )
    page = alice.get(f"{base}/flags/checkout?env=production").text
    fields = form_fields(page, "request")  # the switch's form
    assert fields["request"] == "1"
    sent = alice.http.post(
        f"{base}/toggle",
        data={**fields, "toggle": "checkout production 1", "request_comment": "go"},
    )
    assert sent.status_code == 303 and "/change-requests/" in sent.headers["location"]
    [made] = ok(bob.get(f"/api/v1/orgs/{alice.org}/projects/default/change-requests"))[
        "change_requests"
    ]
    assert made["changes"] == {"on": True} and made["comment"] == "go"
    assert config(alice, alice.org)["on"] is False


def test_the_flag_page_lists_its_waiting_requests_only(live):
    """Closed requests are on the project's list, not on the flag's page, which shows the
    newest ten waiting ones (with their approvals) and links to the rest."""
    alice, bob, _, base = setup(live.url)
    api = f"/api/v1/orgs/{alice.org}/projects/default"
    ok(alice.patch(f"{api}/environments/production", json={"protected": True}))

    def request(comment: str) -> int:
        body = {"flag": "checkout", "environment": "production", "changes": {"on": True},
                "comment": comment}  # fmt: skip
        return int(ok(alice.post(f"{api}/change-requests", json=body), 201)["id"])

    waiting = [request(f"waiting {i}") for i in range(11)]
    closed = request("cancelled one")  # the newest
    ok(alice.post(f"{api}/change-requests/{closed}/cancel"))
    ok(bob.post(f"{api}/change-requests/{waiting[-1]}/approve"))
    shown = alice.get(f"{base}/flags/checkout?env=production").text
    section = shown.split('id="flag-requests"')[1].split("</section>")[0]
    listed = [int(x) for x in re.findall(r"/change-requests/(\d+)\"", section)]
    assert listed == waiting[::-1][:10]  # newest first, the oldest waiting one left out
    assert "cancelled one" not in section and "status-cancelled" not in section
    assert "status-approved" in section and "1 of 1 approvals" in section
