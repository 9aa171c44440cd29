"""Export and import of a project (`GET .../export`, `POST /orgs/{org}/import`, and the
`launchseq export` / `import` commands): a project moved to another organization serves exactly
what it served, rollout buckets included; a bad document writes nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import launchsequence_engine as engine

from tests.http.test_cli import create_user, run
from tests.support.api import ApiUser, signup

ENVS = ("production", "staging")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def build(user: ApiUser) -> str:
    """A project `shop` with flags of every type, targets, rules with segments and rollouts,
    client-side flags and an archived flag; its base path."""
    org = f"/api/v1/orgs/{user.org}"
    ok(
        user.post(
            f"{org}/projects",
            json={
                "key": "shop",
                "name": "Shop",
                "environments": [{"key": e, "name": e.title()} for e in ENVS],
            },
        ),
        201,
    )
    base = f"{org}/projects/shop"
    beta = {
        "name": "Beta testers",
        "description": "opted in",
        "included": ["user-1", "user-2"],
        "excluded": ["user-3"],
        "rules": [{"id": "r1", "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}]}],
    }
    ok(user.put(f"{base}/environments/production/segments/beta", json=beta), 201)
    staff = {
        "rules": [
            {"clauses": [{"attribute": "email", "op": "ends_with", "values": ["@shop.test"]}]},
        ]
    }
    ok(user.put(f"{base}/environments/production/segments/staff", json=staff), 201)
    ok(user.put(f"{base}/environments/staging/segments/beta", json={"included": ["qa"]}), 201)

    flags = [
        {"key": "checkout", "name": "New checkout", "tags": ["web", "team:pay"]},
        {
            "key": "banner",
            "type": "string",
            "description": "Home page banner",
            "variations": [
                {"value": "none", "name": "None"},
                {"value": "sale"},
                {"value": "holiday", "name": "Holiday"},
            ],
            "defaults": {"on_variation": 1, "off_variation": 0},
        },
        {
            "key": "limit",
            "type": "number",
            "variations": [{"value": 10}, {"value": 20.5}, {"value": 30}],
        },
        {
            "key": "theme",
            "type": "json",
            "variations": [{"value": {"color": "red"}}, {"value": {"color": "blue", "n": [1]}}],
            "client_side": True,
        },
        {"key": "retired", "name": "Retired"},
    ]
    for flag in flags:
        ok(user.post(f"{base}/flags", json=flag), 201)
    split = {
        "rollout": {
            "weights": [{"variation": 0, "weight": 30_000}, {"variation": 1, "weight": 70_000}]
        }
    }
    configs: dict[tuple[str, str], Any] = {
        ("checkout", "production"): {
            "on": True,
            "off_variation": 1,
            "targets": [{"variation": 0, "values": ["vip-1"]}, {"variation": 1, "values": ["x"]}],
            "rules": [
                {
                    "id": "staff",
                    "description": "staff see it",
                    "clauses": [{"op": "segment_match", "values": ["staff"]}],
                    "serve": {"variation": 0},
                },
                {
                    "clauses": [
                        {"op": "segment_match", "values": ["beta"]},
                        {"attribute": "country", "op": "in", "values": ["DE"], "negate": True},
                    ],
                    "serve": split,
                },
            ],
            "fallthrough": split,
        },
        ("checkout", "staging"): {
            "on": True,
            "off_variation": 1,
            "rules": [
                {
                    "clauses": [{"op": "segment_match", "values": ["beta"]}],
                    "serve": {"variation": 0},
                }
            ],
            "fallthrough": {"variation": 1},
        },
        ("banner", "production"): {
            "on": True,
            "off_variation": 0,
            "rules": [
                {
                    "clauses": [{"attribute": "country", "op": "in", "values": ["FR", "DE"]}],
                    "serve": {"variation": 2},
                }
            ],
            "fallthrough": {
                "rollout": {
                    "bucket_by": "org",
                    "weights": [
                        {"variation": 0, "weight": 50_000},
                        {"variation": 1, "weight": 25_000},
                        {"variation": 2, "weight": 25_000},
                    ],
                }
            },
        },
        ("limit", "production"): {
            "on": True,
            "off_variation": 0,
            "rules": [
                {
                    "clauses": [{"attribute": "version", "op": "semver_gt", "values": ["2.0.0"]}],
                    "serve": {"variation": 2},
                }
            ],
            "fallthrough": {"rollout": {"weights": [{"variation": 1, "weight": 100_000}]}},
            "client_side": True,
        },
        ("theme", "staging"): {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}},
        ("retired", "production"): {"on": True, "off_variation": 1, "fallthrough": split},
    }
    for (key, env), config in configs.items():
        ok(user.put(f"{base}/flags/{key}/environments/{env}", json=config))
    ok(user.patch(f"{base}/flags/retired", params={"force": "true"}, json={"archived": True}))
    return base


def without_versions(snapshot: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(snapshot)
    del out["version"]
    for item in (*out["flags"].values(), *out["segments"].values()):
        del item["version"]
    return out


CONTEXTS = [
    {"key": f"user-{i}", "org": f"org-{i % 7}", "country": c, "plan": p, "version": v, "email": e}
    for i, (c, p, v, e) in enumerate(
        [
            (c, p, v, e)
            for c in ("DE", "FR", "US")
            for p in ("pro", "free")
            for v in ("1.0.0", "2.1.0")
            for e in ("a@shop.test", "b@else.test")
        ]
        * 3
    )
] + [{"key": "vip-1"}, {"key": "x"}, {"key": "qa"}]


def evaluations(snapshot: dict[str, Any]) -> list[tuple[Any, ...]]:
    compiled = engine.compile(snapshot)
    return [
        (key, ctx["key"], r.value, r.variation, r.reason, r.rule_id)
        for key in sorted(snapshot["flags"])
        for ctx in CONTEXTS
        for r in [engine.evaluate(compiled, key, ctx)]
    ]


def flag_keys(user: ApiUser, base: str) -> list[str]:
    return [f["key"] for f in ok(user.get(f"{base}/flags?archived=all"))["flags"]]


def test_round_trip_to_another_organization_serves_the_same(live_any_db):
    url = live_any_db.url
    alice = signup(url, "alice@example.com")
    bob = signup(url, "bob@example.com")
    a_base = build(alice)
    document = ok(alice.get(f"{a_base}/export"))
    assert document["format"] == "launchsequence-project" and document["version"] == 1
    assert document["project"] == {"key": "shop", "name": "Shop"}
    text = json.dumps(document)
    assert "ls_srv_" not in text and "ls_cli_" not in text, "no SDK keys"
    assert all(len(f["salt"]) >= 8 for f in document["flags"])
    assert "version" not in document["flags"][0]["environments"]["production"]

    summary = ok(bob.post(f"/api/v1/orgs/{bob.org}/import", json=document))
    assert summary["project_created"] is True
    assert summary["flags"] == {"created": 5, "updated": 0, "unchanged": 0}
    assert summary["segments"] == {"created": 3, "updated": 0, "unchanged": 0}
    b_base = f"/api/v1/orgs/{bob.org}/projects/shop"

    for env in ENVS:
        a_snap = ok(alice.get(f"{a_base}/environments/{env}/snapshot"))
        b_snap = ok(bob.get(f"{b_base}/environments/{env}/snapshot"))
        assert without_versions(b_snap) == without_versions(a_snap), env
        assert evaluations(b_snap) == evaluations(a_snap), env
    # Rollouts really split the sample (so equal buckets mean something).
    prod = ok(bob.get(f"{b_base}/environments/production/snapshot"))
    served = {r[3] for r in evaluations(prod) if r[0] == "checkout" and r[4] == "SPLIT"}
    assert served == {0, 1}
    assert ok(bob.get(f"{b_base}/export")) == document
    assert ok(bob.get(f"{b_base}/flags/retired"))["archived"] is True

    audit = ok(bob.get(f"/api/v1/orgs/{bob.org}/audit", params={"limit": 500}))["entries"]
    actions = [e["action"] for e in audit]
    assert actions.count("flag.imported") == 5 and actions.count("segment.imported") == 3
    assert all("salt" not in json.dumps(e["after"]) for e in audit)

    # Importing the same document again changes nothing, not even a version.
    before = {e: ok(bob.get(f"{b_base}/environments/{e}/snapshot")) for e in ENVS}
    again = ok(bob.post(f"/api/v1/orgs/{bob.org}/import", json=document))
    assert again["flags"] == {"created": 0, "updated": 0, "unchanged": 5}
    assert {e: ok(bob.get(f"{b_base}/environments/{e}/snapshot")) for e in ENVS} == before

    # Under another key, and an update of an existing project: configs replaced, versions bumped.
    copied = ok(bob.post(f"/api/v1/orgs/{bob.org}/import?project=shop-copy", json=document))
    assert copied["project"] == "shop-copy" and copied["project_created"] is True
    changed = copy.deepcopy(document)
    changed["flags"][0]["environments"]["production"]["on"] = False
    changed["flags"][0]["name"] = "Renamed"
    changed["environments"].append({"key": "qa", "name": "QA"})
    updated = ok(bob.post(f"/api/v1/orgs/{bob.org}/import", json=changed))
    assert updated["environments_created"] == ["qa"]
    assert updated["flags"]["updated"] == 1
    after = ok(bob.get(f"{b_base}/environments/production/snapshot"))
    assert after["version"] > before["production"]["version"]
    assert after["flags"]["banner"]["on"] is False
    qa = ok(bob.get(f"{b_base}/environments/qa/snapshot"))
    assert set(qa["flags"]) == {"banner", "checkout", "limit", "theme"}


def test_a_bad_flag_among_good_ones_writes_nothing(live_any_db):
    url = live_any_db.url
    alice = signup(url, "alice@example.com")
    bob = signup(url, "bob@example.com")
    document = ok(alice.get(f"{build(alice)}/export"))
    ok(bob.post(f"/api/v1/orgs/{bob.org}/import", json=document))
    b_org = f"/api/v1/orgs/{bob.org}"
    b_base = f"{b_org}/projects/shop"

    def everything() -> Any:
        return (
            ok(bob.get(f"{b_org}/projects")),
            ok(bob.get(f"{b_base}/flags?archived=all")),
            [ok(bob.get(f"{b_base}/environments/{e}/snapshot")) for e in ENVS],
            ok(bob.get(f"{b_org}/audit", params={"limit": 500})),
        )

    before = everything()
    bad = copy.deepcopy(document)
    bad["flags"][0]["name"] = "Changed"  # a good change, before the bad flag
    bad["flags"].insert(2, {"key": "fresh", "name": "New and fine"})
    bad["segments"]["production"].append({"key": "new-segment", "included": ["z"]})
    limit = next(f for f in bad["flags"] if f["key"] == "limit")
    limit["environments"]["staging"] = {
        "on": True,
        "off_variation": 0,
        "fallthrough": {"variation": 0},
        "rules": [
            {"clauses": [{"op": "segment_match", "values": ["nope"]}], "serve": {"variation": 7}}
        ],
    }
    bad["flags"].append({"key": "after", "name": "After the bad one"})
    for target in ("", "?project=brand-new"):
        answer = bob.post(f"{b_org}/import{target}", json=bad)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert "'limit'" in error["message"] and "'staging'" in error["message"], error
        index = bad["flags"].index(limit)
        assert error["field"].startswith(f"flags[{index}].environments.staging.rules[0]"), error
    assert everything() == before
    assert flag_keys(bob, b_base) == sorted(f["key"] for f in document["flags"])

    # A bad segment: named with its environment and field.
    bad = copy.deepcopy(document)
    bad["segments"]["staging"].append(
        {"key": "odd", "rules": [{"clauses": [{"op": "lt", "attribute": "n", "values": ["x"]}]}]}
    )
    error = ok(bob.post(f"{b_org}/import", json=bad), 422)["error"]
    assert "'odd'" in error["message"] and "'staging'" in error["message"], error
    assert error["field"].startswith("segments.staging[1].rules[0]"), error

    # Strict shapes, and documents that are not exports.
    cases = [
        ({**document, "format": "something-else"}, "format"),
        ({**document, "version": 2}, "version"),
        ({**document, "version": True}, "version"),
        ({**document, "extra": 1}, "extra"),
        ({**document, "environments": [{"key": "Bad Key"}]}, "environments[0].key"),
    ]
    unknown = copy.deepcopy(document)
    unknown["flags"][1]["environments"]["production"]["rules"][0]["colour"] = "red"
    cases.append((unknown, "flags[1].environments.production.rules[0].colour"))
    wrong_type = copy.deepcopy(document)
    wrong_type["flags"][1]["variations"][0]["value"] = 3
    cases.append((wrong_type, "flags[1].variations[0].value"))
    salted = copy.deepcopy(document)
    salted["flags"][0]["salt"] = "has spaces"
    cases.append((salted, "flags[0].salt"))
    undeclared = copy.deepcopy(document)
    undeclared["flags"][0]["environments"]["qa"] = undeclared["flags"][0]["environments"]["staging"]
    cases.append((undeclared, "flags[0].environments.qa"))
    for doc, field in cases:
        error = ok(bob.post(f"{b_org}/import", json=doc), 422)["error"]
        assert error["field"] == field, (field, error)
    retyped = copy.deepcopy(document)
    retyped["flags"][1]["type"] = "string"
    retyped["flags"][1]["variations"] = [{"value": "a"}, {"value": "b"}]
    error = ok(bob.post(f"{b_org}/import", json=retyped), 422)["error"]
    assert error["field"] == "flags[1].type" and "boolean" in error["message"], error
    assert everything() == before


def test_roles_and_isolation(live):
    url = live.url
    alice = signup(url, "alice@example.com")
    viewer = signup(url, "viewer@example.com")
    outsider = signup(url, "outsider@example.com")
    org = f"/api/v1/orgs/{alice.org}"
    ok(alice.post(f"{org}/members", json={"email": viewer.email, "role": "viewer"}), 201)
    base = build(alice)
    document = ok(viewer.get(f"{base}/export"))
    assert document == ok(alice.get(f"{base}/export"))

    refused = viewer.post(f"{org}/import?project=other", json=document)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only"
    assert [p["key"] for p in ok(alice.get(f"{org}/projects"))["projects"]] == ["default", "shop"]

    for answer in (
        outsider.get(f"{base}/export"),
        outsider.post(f"{org}/import", json=document),
        alice.get(f"{org}/projects/nope/export"),
    ):
        assert answer.status_code == 404, answer.text


def test_commands_export_and_import_through_files(tmp_path):
    data = tmp_path / "data"
    for email in ("ann@example.com", "ben@example.com"):
        create_user(email, "passw0rd!", data_dir=data)
    source = {
        "format": "launchsequence-project",
        "version": 1,
        "project": {"key": "app", "name": "App"},
        "environments": [{"key": "live", "name": "Live"}, {"key": "test", "name": "Test"}],
        "flags": [
            {
                "key": "dark-mode",
                "salt": "fixedsalt0001",
                "environments": {
                    "live": {
                        "on": True,
                        "off_variation": 1,
                        "rules": [
                            {
                                "id": "b",
                                "clauses": [{"op": "segment_match", "values": ["beta"]}],
                                "serve": {"variation": 0},
                            }
                        ],
                        "fallthrough": {
                            "rollout": {
                                "weights": [
                                    {"variation": 0, "weight": 50_000},
                                    {"variation": 1, "weight": 50_000},
                                ]
                            }
                        },
                    }
                },
            },
            {"key": "copy", "type": "string", "variations": [{"value": "a"}, {"value": "b"}]},
        ],
        "segments": {"live": [{"key": "beta", "included": ["u1"]}]},
    }
    handmade = tmp_path / "handmade.json"
    handmade.write_text(json.dumps(source))
    done = run("import", "--email", "ann@example.com", "--org", "ann", str(handmade), data_dir=data)
    assert "imported project app (created)" in done.stdout and "2 created" in done.stdout

    printed = run(
        "export", "--email", "ann@example.com", "--org", "ann", "--project", "app", data_dir=data
    )
    exported = json.loads(printed.stdout)
    assert [f["key"] for f in exported["flags"]] == ["copy", "dark-mode"]
    assert exported["flags"][1]["salt"] == "fixedsalt0001"
    assert exported["flags"][1]["environments"]["test"]["on"] is False
    out = tmp_path / "app.json"
    run(
        "export",
        *("--email", "ann@example.com", "--org", "ann", "--project", "app"),
        *("--output", str(out)),
        data_dir=data,
    )
    assert json.loads(out.read_text()) == exported

    moved = run(
        "import",
        *("--email", "ben@example.com", "--org", "ben", "--project", "moved", str(out)),
        data_dir=data,
    )
    assert "imported project moved (created)" in moved.stdout
    again = run(
        "export", "--email", "ben@example.com", "--org", "ben", "--project", "moved", data_dir=data
    )
    assert json.loads(again.stdout) == {**exported, "project": {"key": "moved", "name": "App"}}

    # Failures: one line on stderr naming the problem, exit 1, nothing written.
    broken = copy.deepcopy(exported)
    broken["flags"][0]["environments"]["live"]["off_variation"] = 5
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(broken))
    failures = [
        (
            ("--email", "ben@example.com", "--org", "ben", "--project", "moved", str(bad_file)),
            ["'copy'", "'live'", "flags[0].environments.live.off_variation"],
        ),
        (("--email", "ben@example.com", "--org", "ann", str(out)), ["no such organization"]),
        (("--email", "nobody@example.com", "--org", "ben", str(out)), ["no user"]),
        (
            ("--email", "ben@example.com", "--org", "ben", str(tmp_path / "missing.json")),
            ["cannot read"],
        ),
        (
            ("--email", "ben@example.com", "--org", "ben", str(data / "secret_key")),
            ["not valid JSON"],
        ),
    ]
    for args, expected in failures:
        result = run("import", *args, data_dir=data, check=False)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith("launchseq: "), result.stderr
        assert "Traceback" not in result.stderr
        for text in expected:
            assert text in result.stderr, (text, result.stderr)
    still = run(
        "export", "--email", "ben@example.com", "--org", "ben", "--project", "moved", data_dir=data
    )
    assert json.loads(still.stdout) == json.loads(again.stdout)
