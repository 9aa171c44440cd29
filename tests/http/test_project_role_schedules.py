"""A scheduled change is applied with its author's role in the project when it is due."""

from __future__ import annotations

from tests.http.test_schedules import (  # noqa: F401 - `start` is a fixture
    config_of,
    finished,
    new_flag,
    ok,
    schedule,
    start,
)
from tests.support.api import signup


def test_a_schedule_applies_by_its_author_s_role_in_the_project(start, clock):  # noqa: F811
    server = start()
    owner = signup(server.url, "owner@example.com")
    cleo = signup(server.url, "cleo@example.com")  # admin of the organization
    dev = signup(server.url, "dev@example.com")  # viewer of the organization
    org = f"/api/v1/orgs/{owner.org}"
    ids = {}
    for user, role in ((cleo, "admin"), (dev, "viewer")):
        ok(owner.post(f"{org}/members", json={"email": user.email, "role": role}), 201)
        user.org = owner.org
        ids[user.email] = ok(user.get("/api/v1/me"))["user"]["id"]
    members = f"{org}/projects/default/members"
    ok(owner.put(f"{members}/{ids[dev.email]}", json={"role": "admin"}))
    new_flag(owner, "cleos")
    new_flag(owner, "devs")
    at = clock() + 60_000
    cleos = schedule(cleo, "cleos", {"on": True}, at)
    devs = schedule(dev, "devs", {"on": True}, at)
    # Cleo is made viewer of the project before her change is due; Dev stays its admin.
    ok(owner.put(f"{members}/{ids[cleo.email]}", json={"role": "viewer"}))

    clock.advance(61)
    failed = finished(owner, cleos["id"])
    assert failed["status"] == "failed"
    assert failed["reason"] == "its author may no longer change flags in this project (viewer)"
    assert config_of(owner, "cleos")["on"] is False
    assert finished(owner, devs["id"])["status"] == "applied"
    assert config_of(owner, "devs")["on"] is True
