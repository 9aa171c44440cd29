"""The tasks' own tests: flags from TestData, run in this process (no broker, no server)."""

from __future__ import annotations

import pytest
import tasks
from launchsequence_sdk import Client, TestData


@pytest.fixture
def td() -> TestData:
    td = TestData()
    td.update(
        td.flag("new-checkout").boolean().fallthrough(False).if_match("country", "DE").then(True)
    )
    tasks.use(Client.for_test_data(td))
    return td


def test_the_classic_checkout_by_default(td: TestData) -> None:
    assert tasks.checkout_for.apply(args=["u1", "FR"]).get()["checkout"] == "classic"


def test_the_new_checkout_where_a_rule_says_so(td: TestData) -> None:
    result = tasks.checkout_for.apply(args=["u1", "DE"]).get()
    assert (result["checkout"], result["reason"]) == ("new", "TARGETING_MATCH")


def test_a_change_to_the_flag_is_served_at_once(td: TestData) -> None:
    td.update(td.flag("new-checkout").boolean().value_for_all(True))
    assert tasks.checkout_for("u1")["checkout"] == "new"  # a direct call runs the task body
