"""`AsyncClient` against the real server: ready, values, live updates, close."""

from __future__ import annotations

import asyncio

from launchsequence_sdk import PROVIDER_NOT_READY, AsyncClient, TestData
from sdk_env import BOOL, make_catalog, setup_env

ANYONE = {"key": "u-1", "country": "US"}


def test_async_client_basics(live):
    env = setup_env(live.url, "async@example.com")
    make_catalog(env)
    env.make_flag("banner", BOOL)

    async def main() -> None:
        async with AsyncClient(env.key, base_url=live.url) as client:
            assert client.bool_details("banner", ANYONE, False).error_code in (
                PROVIDER_NOT_READY, None)  # fmt: skip
            assert await client.wait_until_ready(5)
            assert client.bool_value("checkout", {"key": "vip-1"}, False) is True
            assert client.number_value("limit", {"key": "u-3"}, 0) == 7
            assert client.json_value("layout", ANYONE, None) == {"cols": 3}
            assert client.string_details("theme", ANYONE, "").reason == "SPLIT"
            assert client.bootstrap({"key": "vip-1"})["flags"]["checkout"]["value"] is True

            changed = asyncio.Event()
            client.on_change(lambda key: changed.set(), key="banner")
            await asyncio.to_thread(env.toggle, "banner", False)
            await asyncio.wait_for(changed.wait(), 1.0)
            assert client.bool_value("banner", ANYONE, True) is False
        assert client._stream is not None and client._stream._task is not None
        assert client._stream._task.done(), "aclose ends the streaming task"

    asyncio.run(main())


def test_async_client_refused_key_and_unreachable(live):
    async def main() -> None:
        refused = AsyncClient("ls_srv_wrong", base_url=live.url)
        assert await refused.wait_until_ready(5) is False
        await refused.aclose()

        down = AsyncClient("ls_srv_x", base_url="http://127.0.0.1:9", initial_reconnect_delay=0.05)
        assert await down.wait_until_ready(0.2) is False
        assert down.string_value("x", ANYONE, "d") == "d"
        await down.aclose()

    asyncio.run(main())


def test_async_client_with_test_data():
    td = TestData().set("banner", True)

    async def main() -> None:
        client = AsyncClient.for_test_data(td)
        assert await client.wait_until_ready(0)
        assert client.bool_value("banner", ANYONE, False) is True
        td.set("banner", False)
        assert client.bool_value("banner", ANYONE, True) is False
        await client.aclose()

    asyncio.run(main())
