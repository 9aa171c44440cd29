"""The application's own tests: flags from TestData, no Launch Sequence server needed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from app import create_app
from fastapi.testclient import TestClient
from launchsequence_sdk import AsyncClient, TestData


@pytest.fixture
def td() -> TestData:
    td = TestData()
    td.update(
        td.flag("new-checkout").boolean().fallthrough(False).if_match("country", "DE").then(True)
    )
    return td


@pytest.fixture
def http(td: TestData) -> Iterator[TestClient]:
    with TestClient(create_app(lambda: AsyncClient.for_test_data(td))) as http:  # runs the lifespan
        yield http


def test_the_classic_checkout_by_default(http: TestClient) -> None:
    assert http.get("/", params={"user": "u1"}).json()["checkout"] == "classic"


def test_the_new_checkout_where_a_rule_says_so(http: TestClient) -> None:
    body = http.get("/", params={"user": "u1", "country": "DE"}).json()
    assert (body["checkout"], body["reason"]) == ("new", "TARGETING_MATCH")


def test_a_change_to_the_flag_is_served_at_once(td: TestData, http: TestClient) -> None:
    td.update(td.flag("new-checkout").boolean().value_for_all(True))
    assert http.get("/", params={"user": "u1"}).json()["checkout"] == "new"
