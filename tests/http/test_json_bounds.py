"""Whatever the server accepts it can store, serve, stream, export and import again.

A `json` variation nested ~253 levels deep used to be accepted (request bodies parse up to
1,024 levels), stored, and then froze its project: flag list, export and snapshot answered 500,
and the SDKs of every environment stopped receiving changes. Every write path (REST, dashboard,
import) now refuses values beyond the bounds with 422 and a stable code, and stores nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import text as sql

from launchsequence.services import Actor, Invalid
from tests.http.test_dashboard_security import csrf_of
from tests.support.api import ApiUser, signup
from tests.support.forms import form_fields

MAX_DEPTH = 32
MAX_BYTES = 65_536


def nested(depth: int, inner: Any = 1) -> Any:
    """`inner` inside `depth` arrays: nested(2) is [[1]]."""
    value = inner
    for _ in range(depth):
        value = [value]
    return value


def base(user: ApiUser, project: str = "default") -> str:
    return f"/api/v1/orgs/{user.org}/projects/{project}"


def env_version(user: ApiUser) -> int:
    r = user.get(f"{base(user)}/environments/production/snapshot")
    assert r.status_code == 200, r.text[:300]
    return int(r.json()["version"])


def refused(answer: Any, code: str, field: str) -> None:
    assert answer.status_code == 422, answer.text[:300]
    error = answer.json()["error"]
    assert (error["code"], error.get("field")) == (code, field), error


def json_flag(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "type": "json", "variations": [{"value": value}, {"value": {"off": 1}}]}


def project_answers(user: ApiUser) -> None:
    """What froze before: the flag list, the export and the snapshot all still answer."""
    for path in ("/flags", "/export", "/environments/production/snapshot"):
        r = user.get(base(user) + path)
        assert r.status_code == 200, (path, r.text[:300])


def test_rest_writes_refuse_values_beyond_the_bounds_and_store_nothing(live_any_db):
    user = signup(live_any_db.url, "bounds@example.com")
    flags = f"{base(user)}/flags"
    version = env_version(user)

    # Creation: the 253 levels, one level over the bound, and one byte over the size.
    refused(user.post(flags, json=json_flag("deep", nested(253))), "value_too_deep",
            "variations[0].value")  # fmt: skip
    refused(user.post(flags, json=json_flag("deep", nested(MAX_DEPTH + 1))), "value_too_deep",
            "variations[0].value")  # fmt: skip
    big = {"text": "x" * (MAX_BYTES - len('{"text":""}') + 1)}
    assert len(orjson.dumps(big)) == MAX_BYTES + 1
    refused(user.post(flags, json=json_flag("big", big)), "value_too_large", "variations[0].value")
    assert user.get(f"{flags}/deep").status_code == 404
    assert user.get(f"{flags}/big").status_code == 404
    assert env_version(user) == version

    # At the bounds exactly: accepted, and served as written.
    edge = {"text": "x" * (MAX_BYTES - len('{"text":""}'))}
    assert user.post(flags, json=json_flag("edge", nested(MAX_DEPTH))).status_code == 201
    assert user.post(flags, json=json_flag("edge-size", edge)).status_code == 201
    served = user.get(f"{base(user)}/environments/production/snapshot").json()["flags"]
    assert served["edge"]["variations"][0]["value"] == nested(MAX_DEPTH)
    assert served["edge-size"]["variations"][0]["value"] == edge

    # The variations PATCH: refused, nothing changed.
    version = env_version(user)
    before = user.get(f"{flags}/edge").json()["variations"]
    patch = {"variations": [{"value": nested(300)}, {"value": {"off": 1}}]}
    refused(user.patch(f"{flags}/edge", json=patch), "value_too_deep", "variations[0].value")
    assert user.get(f"{flags}/edge").json()["variations"] == before
    assert env_version(user) == version

    # Import: refused with the place in the document; no project, no flag.
    document = user.get(f"{base(user)}/export").json()
    document["flags"].append({**json_flag("imported", {"a": nested(100)}), "environments": {}})
    answer = user.post(f"/api/v1/orgs/{user.org}/import?project=copy", json=document)
    refused(answer, "value_too_deep", f"flags[{len(document['flags']) - 1}].variations[0].value")
    assert user.get(base(user, "copy")).status_code == 404
    project_answers(user)


def test_configurations_and_segments_refuse_numbers_and_text_no_answer_could_carry(live):
    """The engine accepts any integer and any text in a clause; the dashboard once turned
    "1e300" into a 301-digit integer. Every service call that stores a configuration or a
    segment (what the REST API, the dashboard and import all call) refuses such values."""
    user = signup(live.url, "clauses@example.com")
    assert user.post(f"{base(user)}/flags", json={"key": "gate"}).status_code == 201
    services = live.app.state.services
    with services.rt.db.connect() as conn:
        user_id = conn.execute(sql("SELECT id FROM users WHERE email = :e"),
                               {"e": user.email}).scalar_one()  # fmt: skip
    actor = Actor(user_id, user.email, "", "session")
    version = env_version(user)

    def rule(value: Any) -> list[dict[str, Any]]:
        return [{"clauses": [{"attribute": "a", "op": "in", "values": ["x", value]}],
                 "serve": {"variation": 0}}]  # fmt: skip

    where = "rules[0].clauses[0].values[1]"
    for value, problem in [(10**30, "beyond 64 bits"), ("\ud800", "lone surrogate")]:
        with pytest.raises(Invalid) as caught:
            services.flags.write_config(
                actor, user.org, "default", "gate", "production", {"rules": rule(value)},
                if_match=None, replace=False,
            )  # fmt: skip
        assert (caught.value.code, caught.value.field) == ("invalid_value", where)
        assert problem in caught.value.message
        with pytest.raises(Invalid) as caught:
            services.flags.write_segment(
                actor, user.org, "default", "production", "beta", {"rules": rule(value)},
                create=True,
            )  # fmt: skip
        assert (caught.value.code, caught.value.field) == ("invalid_value", where)
    assert env_version(user) == version
    project_answers(user)


# --- the dashboard --------------------------------------------------------------------------


def test_dashboard_refuses_what_no_answer_could_carry(live):
    user = signup(live.url, "forms@example.com")
    new = f"/o/{user.org}/p/default/flags/new"
    csrf = csrf_of(user.get(new).text)

    def create(value: str) -> Any:
        form = {
            "csrf_token": csrf,
            "key": "shape",
            "name": "Shape",
            "type": "json",
            "variation_name": ["A", "B"],
            "variation_value": [value, '{"off": true}'],
            "on_variation": "0",
            "off_variation": "1",
            "action": "create",
        }
        return user.http.post(new, data=form)

    # Each of these was stored and then broke every answer about the project.
    for typed, message in [
        ("[" * 40 + "]" * 40, "nests too deep"),
        ('"\\ud800"', "not valid JSON"),  # a lone surrogate
        ("NaN", "not valid JSON"),
        ("[" * 2000 + "]" * 2000, "not valid JSON"),  # was a RecursionError: 500
    ]:
        answer = create(typed)
        assert answer.status_code == 422, (typed[:20], answer.status_code)
        assert message in answer.text, typed[:20]
        assert user.get(f"{base(user)}/flags/shape").status_code == 404
    # An integer beyond 64 bits reads as the number it is, as the API reads it.
    assert create("123456789012345678901234567890").status_code == 303
    value = user.get(f"{base(user)}/flags/shape").json()["variations"][0]["value"]
    assert value == pytest.approx(1.2345678901234568e29)

    # The variations page refuses the same way and keeps the saved values.
    page = f"/o/{user.org}/p/default/flags/shape/variations"
    fields = form_fields(user.get(page).text, "variation_value")
    answer = user.http.post(
        page,
        data={**fields, "variation_name": ["A", "B"],
              "variation_value": ["[" * 40 + "]" * 40, '{"off": true}'], "action": "save"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "nests too deep" in answer.text
    assert user.get(f"{base(user)}/flags/shape").json()["variations"][0]["value"] == value
    project_answers(user)


def test_dashboard_rule_numbers_stay_numbers_json_can_carry(live):
    """ "1e300" typed for `gt` became a 301-digit integer, stored, and no answer could write it;
    "nan" was read as a number."""
    user = signup(live.url, "numbers@example.com")
    assert user.post(f"{base(user)}/flags", json={"key": "spend"}).status_code == 201
    page = f"/o/{user.org}/p/default/flags/spend?env=production"
    added = user.http.post(
        page, data={**form_fields(user.get(page).text, "rule_count"), "action": "add-rule"}
    )
    fields = form_fields(added.text, "rule_count")
    fields |= {"r0.c0.attribute": "spend", "r0.c0.op": "gt", "r0.serve": "0"}

    answer = user.http.post(
        page, data={**fields, "r0.c0.values": "nan", "action": "save", "confirmed": "1"}
    )
    assert answer.status_code == 422
    assert "must be numbers" in answer.text

    answer = user.http.post(
        page, data={**fields, "r0.c0.values": "1e300", "action": "save", "confirmed": "1"}
    )
    assert answer.status_code == 303, answer.text[:300]
    config = user.get(f"{base(user)}/flags/spend/environments/production").json()
    assert config["rules"][0]["clauses"][0]["values"] == [1e300]
    project_answers(user)
