"""The project's own tests: flags from TestData, no Launch Sequence server needed."""

from __future__ import annotations

import pytest
from checkout import flags
from django.test import Client as HttpClient
from launchsequence_sdk import Client, TestData


@pytest.fixture
def td() -> TestData:
    td = TestData()
    td.update(td.flag("new-checkout").boolean().fallthrough(False).variation_for_key("vip", True))
    flags.use(Client.for_test_data(td))
    return td


def test_the_classic_checkout_by_default(td: TestData) -> None:
    assert HttpClient().get("/?user=u1").json()["checkout"] == "classic"


def test_the_new_checkout_for_a_targeted_user(td: TestData) -> None:
    body = HttpClient().get("/?user=vip").json()
    assert (body["checkout"], body["reason"]) == ("new", "TARGETING_MATCH")


def test_a_flag_turned_off_serves_its_off_value(td: TestData) -> None:
    td.update(td.flag("new-checkout").boolean().on(False))
    assert HttpClient().get("/?user=vip").json()["checkout"] == "classic"
