"""A full server answers new streams 503 with `Retry-After`: the client waits at least that
long before it asks again (whatever its own backoff says), then connects once a slot is free.
Both the thread and the asyncio client; against the real server on loopback."""

from __future__ import annotations

import asyncio
import time

import httpx
from launchsequence_sdk import AsyncClient, Client
from launchsequence_sdk.protocol import parse_retry_after
from sdk_env import BOOL, setup_env, wait_for

from launchsequence.app import create_app
from tests.support.live import LiveServer

ANYONE = {"key": "u-1"}


def refused(url: str) -> float:
    """Streams the server refused at its limit so far."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith('launchseq_stream_refused_total{limit="total"}'):
            return float(line.rpartition(" ")[2])
    return 0.0


def full_server(make_settings, clock) -> LiveServer:  # type: ignore[no-untyped-def]
    return LiveServer(create_app(make_settings(max_streams=1), clock=clock)).start()


def test_the_client_waits_for_retry_after_before_reconnecting(make_settings, clock):
    live = full_server(make_settings, clock)
    try:
        env = setup_env(live.url, "full@example.com")
        env.make_flag("banner", BOOL)
        auth = {"Authorization": f"Bearer {env.key}"}
        with httpx.Client(timeout=10) as http:
            holder = http.stream("GET", f"{live.url}/sdk/v1/stream", headers=auth)
            held = holder.__enter__()  # the one slot, taken
            assert held.status_code == 200
            try:
                # Its own backoff would retry within a tenth of a second.
                with Client(env.key, base_url=live.url, initial_reconnect_delay=0.1,
                            max_reconnect_delay=0.2) as client:  # fmt: skip
                    assert client.wait_until_ready(5)  # the snapshot: not a stream
                    wait_for(lambda: refused(live.url) == 1, 5.0, "the stream refused")
                    time.sleep(3)  # under the 5 s the server asks for at least
                    assert refused(live.url) == 1
                    holder.__exit__(None, None, None)
                    env.toggle("banner", False)
                    # Connects once Retry-After (5 to 15 s) has passed, and catches up.
                    wait_for(lambda: client.bool_value("banner", ANYONE, True) is False,
                             20.0, "connected after Retry-After")  # fmt: skip
                    assert refused(live.url) == 1
            finally:
                holder.__exit__(None, None, None)
    finally:
        live.stop()


def test_the_async_client_waits_for_retry_after_too(make_settings, clock):
    live = full_server(make_settings, clock)
    try:
        env = setup_env(live.url, "full-async@example.com")
        env.make_flag("banner", BOOL)
        auth = {"Authorization": f"Bearer {env.key}"}

        async def scenario() -> None:
            stream_url = f"{live.url}/sdk/v1/stream"
            async with (
                httpx.AsyncClient(timeout=10) as http,
                http.stream("GET", stream_url, headers=auth) as held,  # the one slot
            ):
                assert held.status_code == 200
                async with AsyncClient(env.key, base_url=live.url, initial_reconnect_delay=0.1,
                                       max_reconnect_delay=0.2) as client:  # fmt: skip
                    assert await client.wait_until_ready(5)
                    deadline = time.monotonic() + 5
                    while await asyncio.to_thread(refused, live.url) < 1:
                        assert time.monotonic() < deadline, "the stream was not refused"
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(3)  # under the 5 s the server asks for at least
                    assert await asyncio.to_thread(refused, live.url) == 1

        asyncio.run(scenario())
    finally:
        live.stop()


def test_retry_after_is_read_as_seconds_or_a_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("99999999") == 3600.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
