"""Nothing the application passes makes the SDK raise after construction: every public method
of `Client`, `AsyncClient` and the OpenFeature provider answers (the default, an error reason,
an empty answer, a remover that does nothing), and test data refuses a bad flag at once
without disturbing the clients serving it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from launchsequence_sdk import AsyncClient, Client, ConfigurationError, TestData
from launchsequence_sdk.openfeature import LaunchSequenceProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

ANYONE = {"key": "u-1"}


class ExplodingDict(dict[str, Any]):
    """A dict whose reads raise: what a lazy ORM-backed context can do."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the context cannot be read")

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("the context cannot be read")


class ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("the context cannot be read")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("the context cannot be read")

    def __repr__(self) -> str:  # a stable test id, the same in every xdist worker
        return "ExplodingMapping()"

    def __len__(self) -> int:
        raise RuntimeError("the context cannot be read")


HOSTILE_CONTEXTS = [
    ExplodingDict(key="u-1"),
    ExplodingMapping(),
    None,
    42,
    ["key", "u-1"],
    {"key": 7},
    {"key": ["unhashable"]},
]


def _test_data() -> TestData:
    td = TestData()
    td.update(td.flag("banner").boolean().client_side())
    td.update(td.flag("secret").boolean())
    td.set("copy", "Buy now").set("limit", 5).set("layout", {"cols": 2})
    return td


def _every_evaluation(client: Client | AsyncClient, context: Any) -> None:
    """Every evaluation method with `context`: the default, an error, or nothing at all."""
    assert client.bool_value("banner", context, False) is False
    assert client.string_value("copy", context, "d") == "d"
    assert client.number_value("limit", context, -1) == -1
    assert client.json_value("layout", context, "d") == "d"
    for details in (
        client.bool_details("banner", context, False),
        client.string_details("copy", context, "d"),
        client.number_details("limit", context, -1),
        client.json_details("layout", context, "d"),
    ):
        assert details.reason == "ERROR" and details.error_code is not None
    assert client.all_values(context) == {}
    for only in (True, False):
        state = client.bootstrap(context, client_side_only=only)
        json.dumps(state)  # still something to render into the page
        assert state["flags"], "every flag is there, as an error"
        assert all(e.get("error_code") for e in state["flags"].values())
        assert ("secret" in state["flags"]) is (not only)


@pytest.mark.parametrize("context", HOSTILE_CONTEXTS, ids=repr)
def test_no_context_makes_an_evaluation_raise(context):
    td = _test_data()
    _every_evaluation(Client.for_test_data(td), context)
    _every_evaluation(Client(offline=True, snapshot=td.snapshot()), context)

    async def main() -> None:
        async_client = AsyncClient.for_test_data(td)
        _every_evaluation(async_client, context)
        await async_client.aclose()

    asyncio.run(main())


def test_odd_arguments_to_the_other_methods_answer_instead_of_raising(caplog):
    td = _test_data()
    client = Client.for_test_data(td)
    assert client.bool_value(["not", "a", "key"], ANYONE, True) is True  # type: ignore[arg-type]
    assert client.bool_details({}, ANYONE, True).error_code == "GENERAL"  # type: ignore[arg-type]
    # Anything but False keeps server-only flags out of a page.
    assert "secret" not in client.bootstrap(ANYONE, client_side_only=None)["flags"]  # type: ignore[arg-type]

    heard: list[str] = []
    with caplog.at_level(logging.ERROR, logger="launchsequence_sdk"):
        removers = [
            client.on_change(None),  # type: ignore[arg-type]
            client.on_change(heard.append, key=["banner"]),  # type: ignore[arg-type]
            client.on_event("not callable"),  # type: ignore[arg-type]
        ]
        assert client.wait_until_ready("soon") is True  # type: ignore[arg-type]
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 3, "each is said"
    for remove in removers:
        remove()
    client.on_change(heard.append, key="banner")
    td.update(td.flag("banner").boolean().on(False))
    assert heard == ["banner"], "the listeners that could be added still work"
    client.close()
    client.close()

    with pytest.raises(ConfigurationError):  # a constructor: it may raise, with our exception
        Client.for_test_data({"banner": True})  # type: ignore[arg-type]


def test_a_client_without_flags_answers_odd_waits_and_closes_quietly():
    client = Client("ls_srv_x", base_url="http://127.0.0.1:9", initial_reconnect_delay=0.05)
    try:
        assert client.wait_until_ready("soon") is False  # type: ignore[arg-type]
        assert client.wait_until_ready(-1) is False
        _every_evaluation_before_ready(client)
    finally:
        client.close()
        client.close()

    async def main() -> None:
        down = AsyncClient("ls_srv_x", base_url="http://127.0.0.1:9", initial_reconnect_delay=0.05)
        assert await down.wait_until_ready("soon") is False  # type: ignore[arg-type]
        _every_evaluation_before_ready(down)
        await down.start()
        await down.aclose()
        await down.aclose()

    asyncio.run(main())


def _every_evaluation_before_ready(client: Client | AsyncClient) -> None:
    for context in HOSTILE_CONTEXTS:
        assert client.bool_value("banner", context, True) is True
        assert client.json_details("banner", context, "d").error_code == "PROVIDER_NOT_READY"
        assert client.all_values(context) == {}
        assert client.bootstrap(context) == {"version": 0, "flags": {}}


def test_the_provider_never_raises():
    provider = LaunchSequenceProvider(Client.for_test_data(_test_data()))
    good = EvaluationContext("u-1")
    assert provider.resolve_boolean_details("banner", False, good).value is True
    unreadable = EvaluationContext("u-1", ExplodingMapping())  # type: ignore[arg-type]
    for context in (unreadable, "not a context", 42):
        for resolve, default in (
            (provider.resolve_boolean_details, False),
            (provider.resolve_string_details, "d"),
            (provider.resolve_integer_details, -1),
            (provider.resolve_float_details, -1.5),
            (provider.resolve_object_details, {"d": 1}),
        ):
            details = resolve("banner", default, context)  # type: ignore[operator]
            assert details.value == default
            assert (details.reason, details.error_code) == (Reason.ERROR, ErrorCode.GENERAL)
    provider.shutdown()
    provider.shutdown()


def test_a_bad_test_data_flag_is_refused_at_once_and_changes_nothing():
    td = _test_data()
    client = Client.for_test_data(td)
    version = client.version
    changed: list[str] = []
    client.on_change(changed.append)
    for mistake in (
        lambda: td.update(td.flag("banner").variations()),
        lambda: td.update(td.flag("banner").if_match("country").then(False)),  # no values
        lambda: td.update("banner"),  # type: ignore[arg-type]
        lambda: td.set(["banner"], True),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigurationError):
            mistake()
    assert client.version == version and changed == []
    assert client.bool_details("banner", ANYONE, False).reason == "STATIC"
    assert td.update(td.flag("banner").boolean().on(False)) is td
    assert changed == ["banner"] and client.bool_value("banner", ANYONE, True) is False
