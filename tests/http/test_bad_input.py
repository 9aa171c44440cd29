"""Bad input: malformed JSON, wrong types, unknown fields, oversize bodies, invalid keys, unicode
and very long strings. Each gets a clear 4xx naming the field, never a 500, and nothing is stored.

The refused cases share one server (SQLite) and one user: each case compares everything the
user can see before and after, so they need no fresh database. Cases that are accepted get their
own objects.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import launchsequence_engine as engine
import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer

ORG = "ada-example-com"
PROJECTS = f"/api/v1/orgs/{ORG}/projects"
P = f"{PROJECTS}/default"
CONFIG = f"{P}/flags/f/environments/production"
SEGMENT = f"{P}/environments/production/segments/seg"
JSON = {"Content-Type": "application/json"}
MIB = 1_048_576


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    valid: dict[str, Any]  # a body the endpoint would accept; never sent as is


ENDPOINTS = {
    "create flag": Endpoint("POST", f"{P}/flags", {"key": "new-flag"}),
    "create project": Endpoint("POST", PROJECTS, {"key": "p2", "name": "Project 2"}),
    "create environment": Endpoint("POST", f"{P}/environments", {"key": "qa"}),
    "put config": Endpoint(
        "PUT", CONFIG, {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}}
    ),
    "patch config": Endpoint("PATCH", CONFIG, {"on": True}),
    "put segment": Endpoint("PUT", SEGMENT, {"included": ["someone-new"]}),
    "rotate sdk key": Endpoint("POST", f"{P}/environments/production/sdk-keys", {"kind": "server"}),
    "create token": Endpoint("POST", "/api/v1/tokens", {"name": "ci"}),
    "sign-up": Endpoint(
        "POST", "/api/v1/auth/signup", {"email": "new@example.com", "password": "long enough"}
    ),
}

ANY = object()  # the field is not checked


@dataclass(frozen=True)
class Case:
    endpoint: str
    name: str
    body: Any = None  # sent as JSON (json.dumps: NaN and big integers allowed through)
    raw: bytes | None = None  # sent as is, as application/json
    status: int = 422
    code: str = "invalid"
    field: Any = ANY  # str: must be this; None: must be absent
    path: str | None = None  # instead of the endpoint's
    headers: tuple[tuple[str, str], ...] = ()
    chunked: bool = False


def with_(endpoint: str, **changes: Any) -> dict[str, Any]:
    return {**ENDPOINTS[endpoint].valid, **changes}


def generic_cases() -> Iterator[Case]:
    """What every JSON endpoint must refuse the same way."""
    for name, endpoint in ENDPOINTS.items():
        valid = json.dumps(endpoint.valid).encode()
        yield Case(name, "malformed json", raw=valid[:-3], status=400, code="invalid_json")
        yield Case(name, "trailing garbage", raw=valid + b"}", status=400, code="invalid_json")
        yield Case(
            name, "single quotes", raw=valid.replace(b'"', b"'"), status=400, code="invalid_json"
        )
        yield Case(name, "NaN", raw=b'{"x": NaN}', status=400, code="invalid_json")
        yield Case(
            name, "lone surrogate", raw=b'{"name": "\\ud800"}', status=400, code="invalid_json"
        )
        yield Case(name, "not utf-8", raw=b'{"name": "\xff"}', status=400, code="invalid_json")
        yield Case(name, "json array", body=[endpoint.valid], field=None)
        yield Case(name, "json string", body="hello", field=None)
        yield Case(name, "json null", raw=b"null", field=None)
        yield Case(name, "json number", raw=b"42", field=None)
        yield Case(name, "empty body", raw=b"", field=None)
        yield Case(name, "unknown field", body=with_(name, bogus=1), field="bogus")
        yield Case(
            name,
            "text/plain body",
            raw=valid,
            headers=(("Content-Type", "text/plain"),),
            status=422,
            field=None,
        )
        big = with_(name, padding="x" * (MIB + 10))
        yield Case(name, "over 1 MiB", body=big, status=413, code="payload_too_large", field=None)
        yield Case(
            name,
            "over 1 MiB, streamed",
            body=big,
            chunked=True,
            status=413,
            code="payload_too_large",
            field=None,
        )


def key_cases(endpoint: str, name_field: str = "name", name_limit: int = 200) -> Iterator[Case]:
    for label, key in [
        ("key with a space", "Bad Key"),
        ("empty key", ""),
        ("65-char key", "k" * 65),
        ("non-ascii key", "ä"),
        ("key starting with a dash", "-x"),
        ("key with a slash", "a/b"),
        ("numeric key", 5),
        ("null key", None),
    ]:
        yield Case(endpoint, label, body=with_(endpoint, key=key), field="key")
    yield Case(
        endpoint,
        f"{name_limit + 1}-char name",
        body=with_(endpoint, **{name_field: "n" * (name_limit + 1)}),
        field=name_field,
    )
    yield Case(endpoint, "numeric name", body=with_(endpoint, **{name_field: 7}), field=name_field)


def rule(*clauses: dict[str, Any], serve: Any = None) -> dict[str, Any]:
    return {"clauses": list(clauses), "serve": serve or {"variation": 0}}


def rollout(*weights: tuple[int, Any]) -> dict[str, Any]:
    return {"rollout": {"weights": [{"variation": v, "weight": w} for v, w in weights]}}


def config_cases(endpoint: str) -> Iterator[Case]:
    """Wrong types (refused by the request models) and configurations the engine refuses."""

    def case(name: str, field_: Any, **body: Any) -> Case:
        return Case(endpoint, name, body=with_(endpoint, **body), field=field_)

    yield case("on as a string", "on", on="yes")
    yield case("on as null", "on", on=None)
    yield case("on as 1", "on", on=1)
    yield case("off_variation as a string", "off_variation", off_variation="1")
    yield case("off_variation as a float", "off_variation", off_variation=1.0)
    yield case("off_variation out of range", "off_variation", off_variation=2)
    yield case("off_variation negative", "off_variation", off_variation=-1)
    yield case("off_variation beyond 64 bits", "off_variation", off_variation=2**70)
    yield case("fallthrough out of range", "fallthrough.variation", fallthrough={"variation": 7})
    yield case("fallthrough empty", "fallthrough", fallthrough={})
    yield case(
        "fallthrough with both",
        "fallthrough",
        fallthrough={"variation": 0, **rollout((0, 100_000))},
    )
    yield case(
        "weight as a float",
        "fallthrough.rollout.weights[0].weight",
        fallthrough=rollout((0, 1.5), (1, 99_998.5)),
    )
    yield case(
        "weight over the maximum",
        "fallthrough.rollout.weights[0].weight",
        fallthrough=rollout((0, 100_001)),
    )
    yield case(
        "weights not summing to 100000",
        "fallthrough.rollout.weights",
        fallthrough=rollout((0, 50_000), (1, 40_000)),
    )
    yield case(
        "rollout variation out of range",
        "fallthrough.rollout.weights[1].variation",
        fallthrough=rollout((0, 50_000), (2, 50_000)),
    )
    yield case(
        "lt with a string",
        "rules[0].clauses[0].values[0]",
        rules=[rule({"attribute": "age", "op": "lt", "values": ["old"]})],
    )
    yield case(
        "semver_lt with a non-version",
        "rules[0].clauses[0].values[0]",
        rules=[rule({"attribute": "v", "op": "semver_lt", "values": ["one.two"]})],
    )
    yield case(
        "unknown operator",
        "rules[0].clauses[0].op",
        rules=[rule({"attribute": "a", "op": "matches", "values": ["x"]})],
    )
    yield case(
        "clause without values",
        "rules[0].clauses[0].values",
        rules=[rule({"attribute": "a", "op": "in", "values": []})],
    )
    yield case(
        "unknown segment",
        "rules[0].clauses[0].values[0]",
        rules=[rule({"op": "segment_match", "values": ["no-such-segment"]})],
    )
    yield case(
        "rule serving out of range",
        "rules[1].serve.variation",
        rules=[rule(), rule(serve={"variation": 2})],
    )
    yield case(
        "rule with a float in a rollout",
        "rules[0].serve.rollout.weights[0].weight",
        rules=[rule(serve=rollout((0, 0.5)))],
    )
    yield case("unknown field in a rule", "rules[0].bogus", rules=[{**rule(), "bogus": True}])
    yield case("rules as an object", "rules", rules={"0": rule()})
    yield case(
        "duplicate rule id",
        "rules[1].id",
        rules=[{**rule(), "id": "r1"}, {**rule(), "id": "r1"}],
    )
    yield case(
        "duplicate target key",
        "targets[1].values[0]",
        targets=[{"variation": 0, "values": ["ada"]}, {"variation": 1, "values": ["ada"]}],
    )
    yield case(
        "target variation out of range",
        "targets[0].variation",
        targets=[{"variation": 5, "values": ["ada"]}],
    )
    yield case(
        "empty target key", "targets[0].values[0]", targets=[{"variation": 0, "values": [""]}]
    )
    yield case(
        "10,001 target keys",
        "targets[0].values",
        targets=[{"variation": 0, "values": [f"user-{i}" for i in range(10_001)]}],
    )
    yield case("client_side as a string", "client_side", client_side="true")


def specific_cases() -> Iterator[Case]:
    yield from key_cases("create flag")
    flag = "create flag"
    yield Case(
        flag,
        "10,001-char description",
        body=with_(flag, description="d" * 10_001),
        field="description",
    )
    yield Case(flag, "unknown type", body=with_(flag, type="integer"), field="type")
    yield Case(flag, "tags as a string", body=with_(flag, tags="a,b"), field="tags")
    yield Case(flag, "tag with a space", body=with_(flag, tags=["a b"]), field="tags[0]")
    yield Case(
        flag, "client_side as a string", body=with_(flag, client_side="yes"), field="client_side"
    )
    yield Case(
        flag, "no variations", body=with_(flag, type="string", variations=[]), field="variations"
    )
    yield Case(
        flag, "string flag without variations", body=with_(flag, type="string"), field="variations"
    )
    yield Case(
        flag,
        "number flag with a string value",
        body=with_(flag, type="number", variations=[{"value": "1"}, {"value": 2}]),
        field="variations[0].value",
    )
    yield Case(
        flag,
        "off default as a string",
        body=with_(flag, defaults={"off_variation": "1"}),
        field="defaults.off_variation",
    )
    yield Case(
        flag,
        "on default out of range",
        body=with_(flag, defaults={"on_variation": 2}),
        field="defaults.on_variation",
    )
    yield Case(
        flag,
        "json null variation",
        body=with_(flag, type="json", variations=[{"value": None}]),
        field="variations[0]",  # the null is dropped before the service sees it
    )

    yield from key_cases("create project")
    project = "create project"
    yield Case(project, "empty name", body=with_(project, name=""), field="name")
    yield Case(project, "missing name", body={"key": "p2"}, field="name")
    yield Case(
        project,
        "bad environment key",
        body=with_(project, environments=[{"key": "Prod"}]),
        field="environments[0].key",
    )
    yield Case(
        project,
        "duplicate environment keys",
        body=with_(project, environments=[{"key": "a"}, {"key": "a"}]),
        field="environments",
    )
    yield Case(
        project,
        "existing project key",
        body=with_(project, key="default"),
        status=409,
        code="key_taken",
        field=None,
    )

    yield from key_cases("create environment")
    yield Case(
        "create environment",
        "existing environment key",
        body={"key": "production"},
        status=409,
        code="key_taken",
        field=None,
    )

    yield from config_cases("put config")
    yield Case(
        "put config",
        "missing on",
        body={"off_variation": 1, "fallthrough": {"variation": 0}},
        field="on",
    )
    yield Case(
        "put config",
        "missing fallthrough",
        body={"on": True, "off_variation": 1},
        field="fallthrough",
    )
    yield from config_cases("patch config")

    segment = "put segment"
    yield Case(segment, "name of 201 chars", body=with_(segment, name="n" * 201), field="name")
    yield Case(
        segment,
        "10,001-char description",
        body=with_(segment, description="d" * 10_001),
        field="description",
    )
    yield Case(
        segment, "included as a string", body=with_(segment, included="ada"), field="included"
    )
    yield Case(
        segment, "included with a number", body=with_(segment, included=[1]), field="included[0]"
    )
    yield Case(
        segment,
        "10,001 included keys",
        body=with_(segment, included=[f"u{i}" for i in range(10_001)]),
        field="included",
    )
    yield Case(
        segment,
        "lt with a string",
        body=with_(
            segment, rules=[{"clauses": [{"attribute": "age", "op": "lt", "values": ["x"]}]}]
        ),
        field="rules[0].clauses[0].values[0]",
    )
    yield Case(
        segment,
        "unknown field in a rule",
        body=with_(segment, rules=[{"clauses": [], "serve": {"variation": 0}}]),
        field="rules[0].serve",
    )
    for label, key in [
        ("key with a space", "Bad%20Key"),
        ("non-ascii key", "%C3%A4"),
        ("65-char key", "s" * 65),
    ]:
        yield Case(
            segment,
            f"new segment, {label}",
            body={},
            path=f"{P}/environments/production/segments/{key}",
            field="key",
        )

    rotate = "rotate sdk key"
    yield Case(rotate, "unknown kind", body={"kind": "admin"}, field="kind")
    yield Case(rotate, "missing kind", body={}, field="kind")
    yield Case(
        rotate, "grace as a float", body=with_(rotate, grace_seconds=1.5), field="grace_seconds"
    )
    yield Case(
        rotate, "grace as a string", body=with_(rotate, grace_seconds="60"), field="grace_seconds"
    )
    yield Case(
        rotate, "negative grace", body=with_(rotate, grace_seconds=-1), field="grace_seconds"
    )
    yield Case(
        rotate,
        "grace over 7 days",
        body=with_(rotate, grace_seconds=7 * 86400 + 1),
        field="grace_seconds",
    )

    token = "create token"
    yield Case(token, "empty name", body={"name": ""}, field="name")
    yield Case(token, "blank name", body={"name": "   "}, field="name")
    yield Case(token, "name of 101 chars", body={"name": "t" * 101}, field="name")
    yield Case(token, "numeric name", body={"name": 5}, field="name")
    yield Case(token, "missing name", body={}, field="name")

    up = "sign-up"
    yield Case(up, "not an email", body=with_(up, email="not-an-email"), field="email")
    yield Case(up, "email as a number", body=with_(up, email=5), field="email")
    yield Case(up, "7-char password", body=with_(up, password="x" * 7), field="password")
    yield Case(up, "257-char password", body=with_(up, password="x" * 257), field="password")
    yield Case(up, "password as a number", body=with_(up, password=12345678), field="password")
    yield Case(up, "name of 201 chars", body=with_(up, name="n" * 201), field="name")
    yield Case(up, "missing password", body={"email": "new@example.com"}, field="password")
    yield Case(
        up, "taken email", body=with_(up, email="ADA@example.com"), status=409, code="email_taken"
    )


CASES = [*generic_cases(), *specific_cases()]


# --- the shared server -----------------------------------------------------------------------


@dataclass
class Api:
    server: LiveServer
    user: ApiUser
    #: The state after the last refused case, while no accepted case has run since: the next
    #: refused case starts from it instead of reading it again.
    known: dict[str, Any] | None = None


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One SQLite server and one user for the refused cases: a flag `f` in production with a
    target, a segment `seg`, and an API token."""
    data: Path = tmp_path_factory.mktemp("bad-input")
    app = create_app(Settings(data_dir=str(data), secret_key="test-secret"))
    server = LiveServer(app).start()
    user = signup(server.url, "ada@example.com")
    assert user.org == ORG
    for method, path, body in [
        ("POST", f"{P}/flags", {"key": "f"}),
        ("PATCH", CONFIG, {"targets": [{"variation": 0, "values": ["bob"]}]}),
        ("PUT", SEGMENT, {"included": ["ada"]}),
        ("POST", "/api/v1/tokens", {"name": "existing"}),
    ]:
        response = user.request(method, path, json=body)
        assert response.status_code in (200, 201), response.text
    yield Api(server, user)
    user.close()
    server.stop()


def state(user: ApiUser) -> dict[str, Any]:
    """Everything the user can see that any of these endpoints could change (every change to a
    project, flag or segment also writes an audit entry; environment versions are in the
    project list)."""
    config = user.get(CONFIG)
    audit = user.get(f"/api/v1/orgs/{ORG}/audit", params={"limit": 1}).json()
    return {
        "projects": user.get(PROJECTS).json(),
        "flags": user.get(f"{P}/flags", params={"archived": "all"}).json(),
        "config": (config.headers["etag"], config.json()),
        "snapshot": user.get(f"{P}/environments/production/snapshot").json(),
        "segments": user.get(f"{P}/environments/production/segments").json(),
        "tokens": user.get("/api/v1/tokens").json(),
        "audit": [entry["id"] for entry in audit["entries"]],
    }


def send(user: ApiUser, case: Case) -> httpx.Response:
    endpoint = ENDPOINTS[case.endpoint]
    path = case.path or endpoint.path
    content = case.raw if case.raw is not None else json.dumps(case.body).encode()
    headers = {**JSON, **dict(case.headers)}
    if case.endpoint != "sign-up":
        headers["X-CSRF-Token"] = user.csrf
        http = user.http
    else:
        http = httpx.Client(base_url=user.base_url, timeout=30)  # no session: a new visitor
    try:
        if case.chunked:
            pieces = [content[i : i + 65_536] for i in range(0, len(content), 65_536)]
            return http.request(endpoint.method, path, content=iter(pieces), headers=headers)
        return http.request(endpoint.method, path, content=content, headers=headers)
    finally:
        if http is not user.http:
            http.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.endpoint}: {c.name}" for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(api: Api, case: Case):
    before, api.known = api.known or state(api.user), None
    response = send(api.user, case)

    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == case.code, error
    assert isinstance(error["message"], str) and error["message"], error
    if case.field is None:
        assert "field" not in error, error
    elif case.field is not ANY:
        assert error.get("field") == case.field, error
    assert "set-cookie" not in response.headers

    after = state(api.user)
    assert after == before
    api.known = after
    if case.endpoint == "sign-up" and isinstance(case.body, dict) and case.status != 409:
        # No account was made: adding its email as a member finds nobody.
        probe = api.user.post(
            f"/api/v1/orgs/{ORG}/members",
            json={"email": str(case.body.get("email")), "role": "viewer"},
        )
        assert probe.status_code in (404, 422), probe.text


def test_every_endpoint_has_refused_cases():
    covered = {case.endpoint for case in CASES}
    assert covered == set(ENDPOINTS)
    assert len(CASES) > 150


# --- accepted edge cases ---------------------------------------------------------------------


def test_unicode_and_long_strings_that_fit_are_stored_exactly(api: Api):
    user, api.known = api.user, None
    name = "Größe 🚀 名前 — ‮ test"
    description = "é" * 10_000
    created = user.post(
        f"{P}/flags", json={"key": "unicode-flag", "name": name, "description": description}
    )
    assert created.status_code == 201, created.text[:300]
    flag = user.get(f"{P}/flags/unicode-flag").json()
    assert flag["name"] == name
    assert flag["description"] == description

    string_flag = user.post(
        f"{P}/flags",
        json={
            "key": "greeting",
            "type": "string",
            "variations": [{"value": "héllo 👋"}, {"value": "こんにちは", "name": "日本語"}],
        },
    )
    assert string_flag.status_code == 201, string_flag.text
    snapshot = user.get(f"{P}/environments/production/snapshot").json()
    values = [v["value"] for v in snapshot["flags"]["greeting"]["variations"]]
    assert values == ["héllo 👋", "こんにちは"]

    project = user.post(PROJECTS, json={"key": "p-unicode", "name": "Ünïcödé ✓" * 20})
    assert project.status_code == 201, project.text
    assert project.json()["name"] == "Ünïcödé ✓" * 20  # exactly 200 characters

    segment = user.put(
        f"{P}/environments/staging/segments/beta",
        json={"name": "Bêta 🧪", "description": "x" * 10_000, "included": ["ü", "👤"]},
    )
    assert segment.status_code == 201, segment.text[:300]
    assert segment.json()["included"] == ["ü", "👤"]


def test_a_target_list_of_10000_keys_is_accepted(api: Api):
    user, api.known = api.user, None
    assert user.post(f"{P}/flags", json={"key": "big-targets"}).status_code == 201
    path = f"{P}/flags/big-targets/environments/staging"
    keys = [f"user-{i}-ключ" for i in range(10_000)]
    response = user.patch(path, json={"targets": [{"variation": 0, "values": keys}]})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["targets"][0]["values"] == keys
    assert response.headers["etag"] == '"2"'

    too_many = user.patch(path, json={"targets": [{"variation": 0, "values": [*keys, "one-more"]}]})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["field"] == "targets[0].values"
    assert user.get(path).headers["etag"] == '"2"'


def test_numbers_beyond_64_bits_are_read_as_floats_and_served(api: Api):
    """An integer too large for 64 bits once passed validation, was stored, and then broke
    every answer that showed it (500). It is now read as a float, as JavaScript reads it."""
    user, api.known = api.user, None
    big = b"1180591620717411303424"  # 2**70
    created = user.post(
        f"{P}/flags",
        content=b'{"key": "huge", "type": "json", "variations": [{"value": {"n": '
        + big
        + b'}}, {"value": 1}]}',
        headers=JSON,
    )
    assert created.status_code == 201, created.text
    assert created.json()["variations"][0]["value"] == {"n": 2.0**70}
    path = f"{P}/flags/huge/environments/staging"
    patched = user.patch(
        path,
        content=b'{"rules": [{"clauses": [{"attribute": "n", "op": "in", "values": ['
        + big
        + b']}], "serve": {"variation": 0}}]}',
        headers=JSON,
    )
    assert patched.status_code == 200, patched.text
    assert user.get(path).status_code == 200
    assert user.get(f"{P}/flags").status_code == 200
    assert user.get(f"{P}/environments/staging/snapshot").status_code == 200


# --- fuzz-ish --------------------------------------------------------------------------------

OPERATORS = sorted(engine.OPERATORS)


def random_scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            lambda: rng.randint(-3, 3),
            lambda: rng.choice([0.5, -1e308, 1e-9, 2**63, 2**70, math.nan, math.inf]),
            lambda: rng.choice(["", "ada", "1.2.3", "2024-01-01T00:00:00Z", "Ü🚀", "x" * 300]),
            lambda: rng.choice([True, False, None]),
            lambda: [rng.randint(0, 2)],
            lambda: {"variation": rng.randint(0, 2)},
        ]
    )()


def random_serve(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.4:
        return {"variation": rng.choice([0, 1, 1, 2, -1, "0", None])}
    if roll < 0.8:
        first = rng.choice([50_000, 100_000, 0, 30_000, 1.5])
        weights = [{"variation": 0, "weight": first}]
        if rng.random() < 0.8:
            weights.append({"variation": rng.choice([1, 1, 0, 2]), "weight": 100_000 - first})
        out: dict[str, Any] = {"rollout": {"weights": weights}}
        if rng.random() < 0.3:
            out["rollout"]["bucket_by"] = rng.choice(["key", "", "email", 5])
        return out
    return rng.choice([{}, [], "on", {"variation": 0, "rollout": {"weights": []}}, None])


def random_clause(rng: random.Random) -> Any:
    op = rng.choice([*OPERATORS, "nope"])
    values: list[Any]
    if op == "segment_match":
        values = [rng.choice(["seg", "seg", "missing"])]
    else:
        values = [random_scalar(rng) for _ in range(rng.randint(0, 3))]
    clause: dict[str, Any] = {"attribute": rng.choice(["key", "email", "age", "", "version"])}
    clause.update(op=op, values=values)
    if rng.random() < 0.2:
        clause["negate"] = rng.choice([True, "yes"])
    if rng.random() < 0.05:
        clause["extra"] = 1
    return clause


def random_rule(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return rng.choice(["rule", 1, None])
    out: dict[str, Any] = {
        "clauses": [random_clause(rng) for _ in range(rng.randint(0, 2))],
        "serve": random_serve(rng),
    }
    if rng.random() < 0.3:
        out["id"] = rng.choice(["r1", "r2", ""])
    return out


def random_body(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return rng.choice([[], "on", 1, None, [{"on": True}]])
    makers: dict[str, Callable[[], Any]] = {
        "on": lambda: rng.choice([True, False, False, "true", 1, None]),
        "off_variation": lambda: rng.choice([0, 1, 1, 2, -1, "1", 1.0, 2**70]),
        "client_side": lambda: rng.choice([True, False, "no"]),
        "fallthrough": lambda: random_serve(rng),
        "rules": lambda: [random_rule(rng) for _ in range(rng.randint(0, 3))],
        "targets": lambda: [
            {
                "variation": rng.choice([0, 1, 1, 3]),
                "values": rng.sample(["ada", "bob", "cy", "", "dee"], rng.randint(0, 3)),
            }
            for _ in range(rng.randint(0, 2))
        ],
    }
    chosen = rng.sample(sorted(makers), rng.randint(1, 3))
    body = {name: makers[name]() for name in chosen}
    if rng.random() < 0.05:
        body[rng.choice(["version", "bogus", "key"])] = 1
    return body


def test_random_configuration_patches_never_break_the_server(api: Api):
    user, api.known = api.user, None
    rng = random.Random(20240607)
    path = f"{P}/flags/fuzzed/environments/production"
    assert user.post(f"{P}/flags", json={"key": "fuzzed"}).status_code == 201
    current = user.get(path).json()
    outcomes: dict[int, int] = {}
    for i in range(200):
        body = random_body(rng)
        response = user.patch(path, content=json.dumps(body).encode(), headers=JSON)
        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400, 422), (i, body, response.text[:300])
        after = user.get(path)
        assert after.status_code == 200, (i, body, after.text[:300])
        if response.status_code == 200:
            assert response.json() == after.json()
            # Whatever was accepted, the engine compiles and SDKs can evaluate.
            snapshot = user.get(f"{P}/environments/production/snapshot").json()
            engine.compile(snapshot)
            current = after.json()
        else:
            assert response.json()["error"]["code"] in ("invalid", "invalid_json")
            assert after.json() == current, (i, body)
    # The generator reaches both sides: some bodies are accepted, most are refused.
    assert outcomes.get(200, 0) >= 10, outcomes
    assert outcomes.get(422, 0) >= 50, outcomes


# --- both databases --------------------------------------------------------------------------


def test_bad_input_smoke_on_both_databases(live_any_db):
    """A few of the cases above, on SQLite and on PostgreSQL, which is stricter about text."""
    user = signup(live_any_db.url, "ada@example.com")
    base = f"/api/v1/orgs/{user.org}/projects/default"
    assert user.post(f"{base}/flags", json={"key": "f"}).status_code == 201
    config = f"{base}/flags/f/environments/production"

    def snapshot() -> Any:
        return (
            user.get(f"{base}/flags").json(),
            user.get(config).json(),
            user.get(f"{base}/environments/production/snapshot").json(),
        )

    before = snapshot()
    refused: list[tuple[str, str, Any, int, str | None]] = [
        ("POST", f"{base}/flags", b'{"key": ', 400, None),
        ("POST", f"{base}/flags", {"key": "g", "bogus": 1}, 422, "bogus"),
        ("POST", f"{base}/flags", {"key": "Bad Key"}, 422, "key"),
        ("POST", f"{base}/flags", {"key": "g", "name": "n" * 201}, 422, "name"),
        ("POST", f"{base}/flags", b'{"key": "g", "name": "\\ud800"}', 400, None),
        ("PATCH", config, {"on": "yes"}, 422, "on"),
        ("PATCH", config, b'{"off_variation": NaN}', 400, None),
        (
            "PATCH",
            config,
            {"rules": [rule({"attribute": "age", "op": "lt", "values": ["x"]})]},
            422,
            "rules[0].clauses[0].values[0]",
        ),
        (
            "PATCH",
            config,
            {"fallthrough": rollout((0, 1), (1, 2))},
            422,
            "fallthrough.rollout.weights",
        ),
        ("PATCH", config, {"padding": "x" * (MIB + 1)}, 413, None),
    ]
    for method, path, body, status, field_ in refused:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = user.request(method, path, content=content, headers=JSON)
        assert response.status_code == status, (body if len(content) < 500 else path, response.text)
        assert response.json()["error"].get("field") == field_
        assert snapshot() == before

    # PostgreSQL cannot store NUL in text; on SQLite it is refused the same way: 422, and
    # nothing stored.
    nul = user.post(f"{base}/flags", json={"key": "nul", "name": "a\x00b"})
    assert nul.status_code == 422, nul.text
    assert nul.json()["error"]["code"] == "invalid"
    assert snapshot() == before
