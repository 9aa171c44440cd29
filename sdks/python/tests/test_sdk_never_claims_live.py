"""A client that is not receiving updates says so, whatever its host: reason STALE, `is_stale`,
the OpenFeature provider's status, a log line. Each host mode against the real server: a
connection that goes silent, a stream thread that cannot read, a closed client, an asyncio loop
that ends, a forked process, a refused key. (Pre-forking servers: `test_sdk_prefork.py`.)"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Iterator

import pytest
from launchsequence_sdk import STALE, AsyncClient, Client
from launchsequence_sdk.openfeature import LaunchSequenceProvider
from openfeature import api
from openfeature.provider import ProviderStatus
from relay import Relay
from sdk_env import BOOL, setup_env, wait_for

from launchsequence.app import create_app
from tests.support.live import LiveServer

ANYONE = {"key": "u-1"}


@pytest.fixture
def quick(make_settings, clock) -> Iterator[LiveServer]:
    """The server with a heartbeat every second, so that a 2.5 s read timeout keeps a live
    stream open and notices a silent one soon."""
    server = LiveServer(create_app(make_settings(sse_heartbeat_seconds=1), clock=clock)).start()
    yield server
    server.stop()


@pytest.fixture
def provider_status() -> Iterator[object]:
    yield lambda: api.get_client().get_provider_status()
    api.shutdown()


def reason(client: Client | AsyncClient) -> str:
    return client.bool_details("banner", ANYONE, False).reason


def test_a_silent_connection_turns_stale_everywhere(quick, provider_status, caplog):
    env = setup_env(quick.url, "silent-relay@example.com")
    env.make_flag("banner", BOOL)
    relay = Relay(quick.port)
    client = Client(env.key, base_url=relay.url, read_timeout=2.5, initial_reconnect_delay=0.05,
                    max_reconnect_delay=0.2)  # fmt: skip
    try:
        api.set_provider_and_wait(LaunchSequenceProvider(client))
        assert (reason(client), client.is_stale, provider_status()) == (
            "STATIC", False, ProviderStatus.READY)  # fmt: skip
        time.sleep(3.0)  # heartbeats keep a quiet stream live past the read timeout
        assert (reason(client), client.is_stale) == ("STATIC", False)

        with caplog.at_level(logging.INFO, logger="launchsequence_sdk"):
            relay.silence()  # open, and carrying nothing: no heartbeat gets through
            wait_for(lambda: provider_status() == ProviderStatus.STALE, 8.0, "provider STALE")
            assert (reason(client), client.is_stale) == (STALE, True)
            assert client.bool_value("banner", ANYONE, False) is True, "the last value"
            assert any("connection to the server failed" in r.getMessage() for r in caplog.records)

            relay.resume()
            wait_for(lambda: provider_status() == ProviderStatus.READY, 10.0, "provider READY")
            assert (reason(client), client.is_stale) == ("STATIC", False)
        env.toggle("banner", False)
        wait_for(lambda: client.bool_value("banner", ANYONE, True) is False, 2.0, "live again")
    finally:
        client.close()
        relay.close()


def test_a_stream_thread_that_cannot_read_is_stale_after_the_read_timeout(quick):
    env = setup_env(quick.url, "stuck@example.com")
    env.make_flag("banner", BOOL)
    env.make_flag("other", BOOL)
    release = threading.Event()
    with Client(env.key, base_url=quick.url, read_timeout=2.0) as client:
        assert client.wait_until_ready(5)
        # A listener that does not return holds the stream thread: nothing reads the stream,
        # and nothing could tell anyone. The client must still not claim to be current.
        client.on_change(lambda key: release.wait(30), key="other")
        env.toggle("other", False)
        try:
            wait_for(lambda: client.is_stale, 6.0, "stale once the server's silence is too long")
            assert reason(client) == STALE
        finally:
            release.set()
        wait_for(lambda: not client.is_stale, 5.0, "current again once the thread reads")
        assert reason(client) == "STATIC"


def test_a_closed_client_is_stale(live):
    env = setup_env(live.url, "closed@example.com")
    env.make_flag("banner", BOOL)
    client = Client(env.key, base_url=live.url)
    assert client.wait_until_ready(5) and not client.is_stale
    client.close()
    assert (client.is_stale, reason(client), client.bool_value("banner", ANYONE, False)) == (
        True, STALE, True)  # fmt: skip


def test_an_asyncio_client_whose_loop_ended_is_stale_until_a_loop_runs_it(
    live, provider_status, caplog
):
    env = setup_env(live.url, "loops@example.com")
    env.make_flag("banner", BOOL)

    async def start() -> AsyncClient:
        client = AsyncClient(env.key, base_url=live.url)
        assert await client.wait_until_ready(5)
        api.set_provider(LaunchSequenceProvider(client))
        assert (reason(client), client.is_stale) == ("STATIC", False)
        return client

    with caplog.at_level(logging.INFO, logger="launchsequence_sdk"):
        client = asyncio.run(start())  # asyncio.run cancels the stream's task as it returns
    assert (reason(client), client.is_stale, provider_status()) == (
        STALE, True, ProviderStatus.STALE)  # fmt: skip
    assert any("event loop" in r.getMessage() for r in caplog.records), "the log says so"

    async def resume() -> None:
        await client.start()  # the next loop streams it again
        for _ in range(500):
            if not client.is_stale:
                break
            await asyncio.sleep(0.01)
        assert (reason(client), provider_status()) == ("STATIC", ProviderStatus.READY)
        await asyncio.to_thread(env.toggle, "banner", False)
        for _ in range(100):
            if client.bool_value("banner", ANYONE, True) is False:
                break
            await asyncio.sleep(0.01)
        assert client.bool_details("banner", ANYONE, True).reason == "DISABLED"
        await client.aclose()
        assert client.is_stale

    asyncio.run(resume())


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_a_forked_child_is_stale_until_its_own_stream_is_open(server, kind):
    env = setup_env(server.url, f"fork-{kind}@example.com")
    env.make_flag("banner", BOOL)
    if kind == "threads":
        client: Client | AsyncClient = Client(env.key, base_url=server.url)
        assert client.wait_until_ready(5)
    else:
        client = AsyncClient(env.key, base_url=server.url)
        assert asyncio.run(client.wait_until_ready(5))  # its loop ends: stale, and parked
    from_child, to_parent = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, wait for the toggle, report again; never return
        code = 1
        try:
            os.close(from_child)
            os.close(go_write)

            def say(**facts: object) -> None:
                os.write(to_parent, (json.dumps(facts) + "\n").encode())

            say(at_fork=reason(client), stale=client.is_stale)

            async def follow() -> None:
                if isinstance(client, AsyncClient):
                    await client.start()
                for _ in range(1000):
                    if not client.is_stale:
                        break
                    await asyncio.sleep(0.01)
                say(live=reason(client), stale=client.is_stale)
                os.read(go_read, 1)  # the parent toggled
                for _ in range(300):
                    if client.bool_value("banner", ANYONE, True) is False:
                        break
                    await asyncio.sleep(0.01)
                say(after=reason(client))

            asyncio.run(follow())
            code = 0
        finally:
            os._exit(code)
    os.close(to_parent)
    os.close(go_read)
    try:
        lines = os.fdopen(from_child)
        at_fork = json.loads(lines.readline())
        if kind == "asyncio":  # (a thread may have its own stream open already: no race here)
            assert at_fork == {"at_fork": STALE, "stale": True}, "until its next start()"
        assert json.loads(lines.readline()) == {"live": "STATIC", "stale": False}
        env.toggle("banner", False)
        os.write(go_write, b"x")
        assert json.loads(lines.readline()) == {"after": "DISABLED"}
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        if isinstance(client, Client):
            client.close()


def test_a_refused_key_says_so_everywhere(live, provider_status, caplog):
    env = setup_env(live.url, "refused-everywhere@example.com")
    env.make_flag("banner", BOOL)
    client = Client(env.key, base_url=live.url, initial_reconnect_delay=0.05)
    api.set_provider_and_wait(LaunchSequenceProvider(client))
    with caplog.at_level(logging.INFO, logger="launchsequence_sdk"):
        env.rotate_key()
        wait_for(lambda: provider_status() == ProviderStatus.ERROR, 5.0, "provider ERROR")
    assert (reason(client), client.is_stale, client.is_ready) == (STALE, True, False)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "refused" in errors[0]
