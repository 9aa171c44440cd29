"""The application's own tests: flags from TestData, no Launch Sequence server needed."""

from __future__ import annotations

import pytest
from app import create_app
from flask.testing import FlaskClient
from launchsequence_sdk import Client, TestData


@pytest.fixture
def td() -> TestData:
    td = TestData()
    td.update(
        td.flag("new-checkout").boolean().fallthrough(False).if_match("country", "DE").then(True)
    )
    return td


@pytest.fixture
def http(td: TestData) -> FlaskClient:
    app = create_app(Client.for_test_data(td))
    return app.test_client()


def test_the_classic_checkout_by_default(http: FlaskClient) -> None:
    assert http.get("/?user=u1&country=FR").json["checkout"] == "classic"


def test_the_new_checkout_where_a_rule_says_so(http: FlaskClient) -> None:
    body = http.get("/?user=u1&country=DE").json
    assert (body["checkout"], body["reason"]) == ("new", "TARGETING_MATCH")


def test_a_change_to_the_flag_is_served_at_once(td: TestData, http: FlaskClient) -> None:
    td.update(td.flag("new-checkout").boolean().value_for_all(True))
    assert http.get("/?user=u1&country=FR").json["checkout"] == "new"
