"""The OpenAPI document at /api/v1/openapi.json describes what the admin API really answers.

Every operation under /api/v1 declares its success answer: a schema with properties (or no
body at all, for 204). Real answers, from a real server on a real SQLite file, validate against
the document as served, with every object closed (`additionalProperties: false` wherever the
document lists properties): an answer carrying a field the document does not name fails here,
as does one missing a field the document says is always there.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.live import LiveServer
from tests.support.receiver import Receiver

P = "/api/v1/orgs/{org}/projects/{project}"
ENV = P + "/environments/{env}"
FLAG = P + "/flags/{flag}"
CONFIG = FLAG + "/environments/{env}"


def closed(schema: Any) -> Any:
    """`schema` with `additionalProperties: false` on every object schema listing properties."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if isinstance(schema.get("properties"), dict) and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    return out


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def success_schema(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    response = document["paths"][path][method.lower()]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def problems(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> list[str]:
    """What in `body` breaks the document's schema for that answer (closed), as readable lines."""
    root = {
        **closed(success_schema(document, method, path, status)),
        "components": closed(document["components"]),
    }
    validator = jsonschema.Draft202012Validator(root)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    ]


class Documented:
    """A client whose every answer must match the served document: `call` checks status,
    body and (when documented) headers, and returns the body (`last` is the response)."""

    last: httpx.Response

    def __init__(self, url: str, document: dict[str, Any], **values: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.document = document
        self.values = values
        self.headers: dict[str, str] = {}

    def call(
        self,
        method: str,
        template: str,
        status: int,
        *,
        path: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """`template` is the document's path; `path` overrides some of its values."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        url = template.format(**{**self.values, **(path or {})})
        response = self.http.request(method, url, headers=headers, **kwargs)
        assert response.status_code == status, response.text
        body = response.json()
        found = problems(self.document, method, template, status, body)
        assert not found, f"{method} {template} answered outside its schema:\n" + "\n".join(found)
        declared = self.document["paths"][template][method.lower()]["responses"][str(status)]
        for name, header in declared.get("headers", {}).items():
            if header.get("required"):
                assert name in response.headers, f"{method} {template} answered without {name}"
        self.last = response
        return body

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=str(tmp_path_factory.mktemp("openapi") / "data"),
        secret_key="test-secret",
        webhook_allow_private_addresses="true",  # the webhook test's receiver is on loopback
    )
    server = LiveServer(create_app(settings)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    served = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10)
    assert served.status_code == 200
    body: dict[str, Any] = served.json()
    return body


@pytest.fixture(scope="module")
def owner(server: LiveServer, document: dict[str, Any]) -> Iterator[Documented]:
    """Signed up through the API, then calling with a personal API token."""
    client = Documented(
        server.url, document, project="default", env="production", flag="checkout", segment="beta"
    )
    me = client.call(
        "POST",
        "/api/v1/auth/signup",
        201,
        json={"email": "owner@example.com", "password": "correct horse", "name": "Owner"},
    )
    assert me["csrf_token"]
    client.values["org"] = me["organizations"][0]["key"]
    client.headers["X-CSRF-Token"] = me["csrf_token"]
    token = client.call("POST", "/api/v1/tokens", 201, json={"name": "openapi"})
    client.http.cookies.clear()
    client.headers = {"Authorization": f"Bearer {token['token']}"}
    yield client
    client.close()


def test_every_operation_declares_its_success_answer(document: dict[str, Any]) -> None:
    operations = [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]
    assert len(operations) > 40
    for method, path, operation in operations:
        label = f"{method} {path}"
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert successes, f"{label} declares no success answer"
        for status, response in successes.items():
            if status == "204":
                assert "content" not in response, f"{label} declares a body for 204"
                continue
            schema = response["content"]["application/json"]["schema"]
            assert "$ref" in schema or "properties" in schema, f"{label} {status}: {schema}"
            target = resolve(document, schema)
            assert target.get("type") == "object" and target.get("properties"), (
                f"{label} {status} has no fields: {target}"
            )


def test_configuration_answers_document_their_etag_and_if_match(
    document: dict[str, Any],
) -> None:
    item = document["paths"][CONFIG]
    for method in ("get", "put", "patch"):
        etag = item[method]["responses"]["200"]["headers"]["ETag"]
        assert etag["required"] is True
        assert jsonschema.Draft202012Validator(etag["schema"]).is_valid('"7"')
    for method in ("put", "patch"):
        headers = [p["name"] for p in item[method]["parameters"] if p["in"] == "header"]
        assert headers == ["If-Match"]
        assert "ETag" in item[method]["responses"]["412"]["headers"]


def test_me_with_a_session_and_with_a_token(owner: Documented, server: LiveServer) -> None:
    me = owner.call("GET", "/api/v1/me", 200)
    assert "csrf_token" not in me  # a token needs none
    session = Documented(server.url, owner.document)
    try:
        logged_in = session.call(
            "POST",
            "/api/v1/auth/login",
            200,
            json={"email": "owner@example.com", "password": "correct horse"},
        )
        again = session.call("GET", "/api/v1/me", 200)
        assert again["csrf_token"] == logged_in["csrf_token"]
        assert again["user"] == me["user"]
    finally:
        session.close()
    tokens = owner.call("GET", "/api/v1/tokens", 200)
    assert [t["name"] for t in tokens["tokens"]] == ["openapi"]
    assert tokens["tokens"][0]["last_used_at"] is not None


def test_flags_and_their_configuration(owner: Documented) -> None:
    segment = owner.call(
        "PUT", ENV + "/segments/{segment}", 201, json={"included": ["user-9"], "rules": []}
    )
    assert segment["key"] == "beta"
    owner.call("PUT", ENV + "/segments/{segment}", 200, json={"description": "Beta testers"})
    owner.call("GET", ENV + "/segments/{segment}", 200)
    owner.call("GET", ENV + "/segments", 200)
    flag = owner.call(
        "POST",
        P + "/flags",
        201,
        json={
            "key": "checkout",
            "type": "string",
            "tags": ["web"],
            "variations": [{"value": "old", "name": "Old"}, {"value": "new"}],
        },
    )
    assert set(flag["environments"]) == {"production", "staging"}
    config = owner.call(
        "PUT",
        CONFIG,
        200,
        json={
            "on": True,
            "off_variation": 0,
            "targets": [{"variation": 1, "values": ["user-1"]}],
            "rules": [
                {
                    "description": "Germans outside beta",
                    "clauses": [
                        {"attribute": "country", "op": "in", "values": ["DE"]},
                        {"op": "segment_match", "values": ["beta"], "negate": True},
                    ],
                    "serve": {"variation": 1},
                },
                {"serve": {"variation": 0}},
            ],
            "fallthrough": {
                "rollout": {
                    "weights": [
                        {"variation": 0, "weight": 90_000},
                        {"variation": 1, "weight": 10_000},
                    ]
                }
            },
        },
    )
    assert owner.last.headers["ETag"] == f'"{config["version"]}"'
    assert owner.call("GET", CONFIG, 200) == config
    toggled = owner.call(
        "PATCH", CONFIG, 200, json={"on": False}, headers={"If-Match": f'"{config["version"]}"'}
    )
    assert toggled["version"] == config["version"] + 1
    stale = owner.call(
        "PATCH", CONFIG, 412, json={"on": True}, headers={"If-Match": f'"{config["version"]}"'}
    )
    assert stale["error"]["code"] == "version_conflict"
    assert owner.last.headers["ETag"] == f'"{toggled["version"]}"'
    owner.call("GET", FLAG, 200)
    owner.call(
        "PATCH",
        FLAG,
        200,
        json={"variations": [{"value": "old"}, {"value": "new"}, {"value": "newest"}]},
    )
    trimmed = owner.call("DELETE", FLAG + "/variations/{index}", 200, path={"index": "2"})
    assert [v["value"] for v in trimmed["variations"]] == ["old", "new"]
    listed = owner.call("GET", P + "/flags", 200, params={"archived": "all"})
    assert [f["key"] for f in listed["flags"]] == ["checkout"]
    snapshot = owner.call("GET", ENV + "/snapshot", 200)
    assert set(snapshot["flags"]) == {"checkout"} and set(snapshot["segments"]) == {"beta"}


def test_projects_environments_and_sdk_keys(owner: Documented) -> None:
    project = owner.call(
        "POST",
        "/api/v1/orgs/{org}/projects",
        201,
        json={"key": "mobile", "name": "Mobile", "environments": [{"key": "live"}]},
    )
    [live] = project["environments"]
    assert {k["kind"]: k["key"][:7] for k in live["sdk_keys"]} == {
        "server": "ls_srv_",
        "client": "ls_cli_",
    }
    owner.call("GET", "/api/v1/orgs/{org}/projects", 200)
    owner.call("GET", P, 200)
    owner.call("PATCH", P, 200, json={"name": "Default project"})
    environments = owner.call("GET", P + "/environments", 200)
    assert [e["key"] for e in environments["environments"]] == ["production", "staging"]
    made = owner.call("POST", P + "/environments", 201, json={"key": "qa"})
    assert any(k["kind"] == "server" and "key" in k for k in made["sdk_keys"])
    owner.call("GET", ENV, 200)
    owner.call("PATCH", ENV, 200, json={"name": "Prod"})
    # Sign-up made no server key (nobody would have seen it): the first call creates it.
    owner.call("POST", ENV + "/sdk-keys", 201, json={"kind": "server"})
    rotated = owner.call(
        "POST", ENV + "/sdk-keys", 201, json={"kind": "server", "grace_seconds": 60}
    )
    assert rotated["previous_key_expires_at"] == rotated["created_at"] + 60_000
    shown = owner.call("GET", ENV, 200)
    old = [k for k in shown["sdk_keys"] if k["kind"] == "server" and k["expires_at"]]
    assert old and all("key" not in k for k in old)  # a server key is never shown again


def test_organizations_members_and_invitations(owner: Documented, server: LiveServer) -> None:
    other = httpx.post(
        f"{server.url}/api/v1/auth/signup",
        json={"email": "member@example.com", "password": "correct horse"},
        timeout=30,
    )
    assert other.status_code == 201, other.text
    owner.call("GET", "/api/v1/orgs", 200)
    owner.call("POST", "/api/v1/orgs", 201, json={"key": "second-org", "name": "Second"})
    owner.call("GET", "/api/v1/orgs/{org}", 200)
    owner.call("PATCH", "/api/v1/orgs/{org}", 200, json={"name": "Renamed"})
    member = owner.call(
        "POST",
        "/api/v1/orgs/{org}/members",
        201,
        json={"email": "member@example.com", "role": "viewer"},
    )
    owner.values["user_id"] = str(member["user_id"])
    owner.call("PATCH", "/api/v1/orgs/{org}/members/{user_id}", 200, json={"role": "admin"})
    members = owner.call("GET", "/api/v1/orgs/{org}/members", 200)
    assert sorted(m["role"] for m in members["members"]) == ["admin", "owner"]
    by_link = owner.call("POST", "/api/v1/orgs/{org}/invitations", 201, json={"role": "viewer"})
    assert by_link["email"] is None and by_link["token"] in by_link["url"]
    owner.call(
        "POST",
        "/api/v1/orgs/{org}/invitations",
        201,
        json={"role": "admin", "email": "new@example.com"},
    )
    pending = owner.call("GET", "/api/v1/orgs/{org}/invitations", 200)
    assert len(pending["invitations"]) == 2


def test_audit_pages(owner: Documented) -> None:
    owner.call("POST", P + "/flags", 201, json={"key": "audited"})
    owner.call("PATCH", CONFIG, 200, path={"flag": "audited"}, json={"on": True})
    first = owner.call("GET", "/api/v1/orgs/{org}/audit", 200, params={"flag": "audited"})
    assert [e["action"] for e in first["entries"]] == ["flag.toggled", "flag.created"]
    assert first["entries"][0]["before"]["on"] is False and first["next"] is None
    page = owner.call("GET", "/api/v1/orgs/{org}/audit", 200, params={"limit": 1})
    assert page["next"] == page["entries"][0]["id"]
    older = owner.call(
        "GET", "/api/v1/orgs/{org}/audit", 200, params={"limit": 1, "before": page["next"]}
    )
    assert older["entries"][0]["id"] < page["next"]


def test_scheduled_changes(owner: Documented) -> None:
    owner.call("POST", P + "/flags", 201, json={"key": "scheduled"})
    body = {
        "environment": "production",
        "at": "2030-01-01T00:00:00Z",
        "changes": {"on": True, "fallthrough": {"variation": 0}},
        "comment": "documented",
    }
    made = owner.call("POST", FLAG + "/schedules", 201, path={"flag": "scheduled"}, json=body)
    assert made["status"] == "pending" and made["reason"] is None
    one = {"schedule_id": str(made["id"])}
    listed = owner.call("GET", FLAG + "/schedules", 200, path={"flag": "scheduled"})
    assert [s["id"] for s in listed["schedules"]] == [made["id"]]
    owner.call("GET", P + "/schedules", 200, params={"status": "pending"})
    assert owner.call("GET", P + "/schedules/{schedule_id}", 200, path=one) == made
    edited = owner.call(
        "PATCH", P + "/schedules/{schedule_id}", 200, path=one, json={"comment": "changed"}
    )
    assert edited["comment"] == "changed"
    cancelled = owner.call("DELETE", P + "/schedules/{schedule_id}", 200, path=one)
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None


def test_comparing_copying_and_bulk_actions(owner: Documented) -> None:
    owner.call("POST", P + "/flags", 201, json={"key": "promoted"})
    rule = {"clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
            "serve": {"variation": 0}}  # fmt: skip
    staging = {"flag": "promoted", "env": "staging"}
    owner.call("PATCH", CONFIG, 200, path=staging, json={"on": True, "rules": [rule]})
    project = owner.call("GET", P + "/compare", 200, params={"from": "staging"})
    assert "promoted" in [f["key"] for f in project["flags"] if f["differs"]]
    one = owner.call("GET", FLAG + "/compare", 200, path={"flag": "promoted"})
    assert one["differing_parts"] == ["on", "rules"]
    body = {"from": "staging", "to": "production", "parts": ["rules"], "comment": "promote"}
    copied = owner.call("POST", FLAG + "/copy", 200, path={"flag": "promoted"}, json=body)
    assert copied["changed"] == ["rules"]
    bulk = {"action": "on", "flags": ["promoted", "ghost"], "environment": "production"}
    done = owner.call("POST", P + "/flags/bulk", 200, json=bulk)
    assert [r["ok"] for r in done["results"]] == [True, False]


def test_webhooks_and_their_deliveries(owner: Documented) -> None:
    receiver = Receiver().start()
    try:
        hooks = "/api/v1/orgs/{org}/webhooks"
        hook = hooks + "/{webhook_id}"
        made = owner.call(
            "POST", hooks, 201, json={"url": receiver.url + "/h", "events": ["flag.created"]}
        )
        ids = {"webhook_id": str(made["id"])}
        assert made["secret"].startswith("whsec_")
        assert owner.call("GET", hooks, 200)["webhooks"][0]["id"] == made["id"]
        assert "secret" not in owner.call("GET", hook, 200, path=ids)
        changed = owner.call("PATCH", hook, 200, path=ids, json={"format": "slack"})
        assert changed["format"] == "slack"
        owner.call("POST", P + "/flags", 201, json={"key": "announced"})
        [slack] = receiver.wait_for(lambda got: len(got) == 1)
        assert slack.json == {"text": "owner@example.com created flag `announced` in "
                                      f"{owner.values['org']}/default"}  # fmt: skip
        page: dict[str, Any] = {"deliveries": []}
        for _ in range(100):  # the answer is recorded just after it arrived
            page = owner.call("GET", hook + "/deliveries", 200, path=ids)
            if page["deliveries"][0]["status"] != "pending":
                break
            time.sleep(0.05)
        [delivery] = page["deliveries"]
        assert delivery["status"] == "succeeded" and delivery["response_status"] == 200
        again = owner.call(
            "POST",
            hook + "/deliveries/{delivery_id}/resend",
            202,
            path={**ids, "delivery_id": str(delivery["id"])},
        )
        assert again["event"] == delivery["event"] and again["status"] == "pending"
        rotated = owner.call("POST", hook + "/secret", 200, path=ids)
        assert rotated["secret"] != made["secret"]
        owner.http.request("DELETE", hook.format(org=owner.values["org"], **ids),
                           headers=owner.headers).raise_for_status()  # fmt: skip
    finally:
        receiver.stop()


def test_export_and_import(owner: Documented) -> None:
    document = owner.call("GET", P + "/export", 200)
    assert document["format"] == "launchsequence-project" and document["flags"]
    summary = owner.call(
        "POST", "/api/v1/orgs/{org}/import", 200, params={"project": "copy"}, json=document
    )
    assert summary["project_created"] is True
    assert summary["flags"]["created"] == len(document["flags"])


def test_usage_and_applications(owner: Documented, server: LiveServer) -> None:
    from tests.http.test_usage import flush

    owner.call("POST", P + "/flags", 201, json={"key": "counted"})
    made = owner.call("POST", ENV + "/sdk-keys", 201, json={"kind": "server", "grace_seconds": 0})
    for _ in range(3):
        r = httpx.post(f"{server.url}/sdk/v1/evaluate", json={"context": {"key": "u"}},
                       headers={"Authorization": f"Bearer {made['key']}",
                                "X-LaunchSequence-Application": "docs"})  # fmt: skip
        assert r.status_code == 200
    flush(server)
    usage = owner.call("GET", FLAG + "/usage", 200, path={"flag": "counted"})
    totals = {e["environment"]: e["total"] for e in usage["environments"]}
    # (Other environments made by earlier tests of this module, as `qa`, count nothing.)
    assert totals["production"] == 3 and sum(totals.values()) == 3
    owner.call("GET", FLAG + "/usage", 200, path={"flag": "counted"},
               params={"granularity": "day", "environment": "production"})  # fmt: skip
    apps = owner.call("GET", ENV + "/applications", 200)
    assert [a["application"] for a in apps["applications"]] == ["docs"]


def test_code_references(owner: Documented) -> None:
    owner.call("POST", P + "/flags", 201, json={"key": "referenced"})
    never = owner.call("GET", FLAG + "/code-refs", 200, path={"flag": "referenced"})
    assert never["scanned"] is False
    ref = {"flag": "referenced", "path": "app.py", "line": 2, "kind": "call",
           "context": {"start": 1, "lines": ["a", "b", "c"]}}  # fmt: skip
    scan = {"repository": "acme/shop", "branch": "main", "commit": "abcdef1", "refs": [ref],
            "link_template": "https://example.com/{commit}/{path}#L{line}"}  # fmt: skip
    owner.call("POST", P + "/code-refs", 200, json=scan)
    owner.call("POST", P + "/code-refs", 200, json={**scan, "branch": "b", "link_template": None})
    assert len(owner.call("GET", P + "/code-refs", 200)["scans"]) == 2
    found = owner.call("GET", FLAG + "/code-refs", 200, path={"flag": "referenced"})
    assert [r["link"] for r in found["refs"]] == ["", "https://example.com/abcdef1/app.py#L2"]
    deleted = owner.http.request(
        "DELETE",
        P.format(**owner.values) + "/code-refs",
        params={"repository": "acme/shop"},
        headers=owner.headers,
    )
    assert deleted.status_code == 204 and not deleted.content


def test_lifecycle(owner: Documented, server: LiveServer) -> None:
    from tests.http.test_usage import flush

    made = owner.call("POST", P + "/flags", 201, json={"key": "tracked", "kind": "permanent",
                                                        "removal_date": "2030-01-01"})  # fmt: skip
    assert (made["kind"], made["removal_date"], made["owner"]) == ("permanent", "2030-01-01", None)
    key = owner.call("POST", ENV + "/sdk-keys", 201, json={"kind": "server", "grace_seconds": 0})
    r = httpx.post(f"{server.url}/sdk/v1/evaluate", json={"context": {"key": "u"}},
                   headers={"Authorization": f"Bearer {key['key']}",
                            "X-LaunchSequence-Application": "docs"})  # fmt: skip
    assert r.status_code == 200
    flush(server)
    one = owner.call("GET", FLAG + "/lifecycle", 200, path={"flag": "tracked"})
    assert one["status"] == "active" and one["recent_applications"][0]["application"] == "docs"
    listed = owner.call("GET", P + "/lifecycle", 200)
    assert "tracked" in [f["key"] for f in listed["flags"]]
    owner.call("GET", P + "/lifecycle", 200, params={"cleanup": "true"})


def test_the_check_catches_an_answer_the_document_does_not_describe(
    owner: Documented,
) -> None:
    """The checks above can fail: a field the document does not name, a missing one and a
    wrong type are each reported."""
    document = owner.document
    path = FLAG
    flag = owner.call("POST", P + "/flags", 201, json={"key": "probe"})
    assert problems(document, "GET", path, 200, flag) == []
    surprise = problems(document, "GET", path, 200, {**flag, "surprise": 1})
    assert any("surprise" in p for p in surprise)
    missing = problems(
        document, "GET", path, 200, {k: v for k, v in flag.items() if k != "archived"}
    )
    assert any("archived" in p for p in missing)
    wrong = copy.deepcopy(flag)
    wrong["environments"]["production"]["version"] = "1"
    assert any(
        p.startswith("environments/production/version")
        for p in problems(document, "GET", path, 200, wrong)
    )
