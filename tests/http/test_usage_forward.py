"""The edge's usage forwarder against a real core behind a network that loses answers: a post
the core applied but whose answer never reached the edge is sent again unchanged and counted
once; the edge's overflow is logged even when only some of an interval's posts got through."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from launchsequence.app import create_app
from launchsequence.edge.usage_forward import UsageForwarder
from launchsequence.edge.wire import UpstreamHTTP
from launchsequence.sdk.relay_usage import MAX_COUNTS, RELAY_USAGE_PATH
from launchsequence.usagecount import UsageCounter
from tests.http.test_delivery import BOOL, make_flag, setup_env
from tests.http.test_relay_usage import production_id, relay_key
from tests.http.test_usage import counts, flush
from tests.support.live import LiveServer, serving


class LossyNetwork:
    """The core's app behind a network that, for the usage posts listed in `faults` (by
    order), either loses the core's answer ("lost": the core applied the post, the edge gets
    504) or never delivers the post ("down": 503, the core saw nothing)."""

    def __init__(self, app: Any, faults: dict[int, str]) -> None:
        self.app = app
        self.state = app.state
        self.faults = faults
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != RELAY_USAGE_PATH:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        fault = self.faults.get(len(self.bodies))
        self.bodies.append(body)

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def lose(_: Message) -> None:
            pass

        if fault == "down":
            await Response(status_code=503)(scope, replay, send)
        elif fault == "lost":
            await self.app(scope, replay, lose)
            await Response(status_code=504)(scope, replay, send)
        else:
            await self.app(scope, replay, send)


def forwarding(server: LiveServer, key: str, counter: UsageCounter, data_dir: Path) -> Any:
    """Run `steps(forwarder)` (a coroutine function) with a started forwarder."""
    forwarder = UsageForwarder(counter, key, edge_id="edge-t", data_dir=data_dir, interval=600)

    def run(steps: Callable[[UsageForwarder], Any]) -> UsageForwarder:
        async def main() -> None:
            await forwarder.start(UpstreamHTTP(server.url))  # the edge's one client
            try:
                await steps(forwarder)
            finally:
                await forwarder.stop()

        asyncio.run(main())
        return forwarder

    return run


def test_a_post_whose_answer_was_lost_is_sent_again_unchanged_and_counted_once(
    make_settings: Callable[..., Any], clock: Any, tmp_path: Path
) -> None:
    network = LossyNetwork(create_app(make_settings(), clock=clock), {0: "lost"})
    with serving(network) as server:
        e = setup_env(server.url, "lossy@example.com")
        make_flag(e, "beta", BOOL)
        key = relay_key(e)
        env_id = production_id(server.url, key)
        counter = UsageCounter()

        async def steps(forwarder: UsageForwarder) -> None:
            counter.add(env_id, "beta", 0, "shop", 30)
            assert await forwarder.forward() is False  # applied, but the answer was lost
            counter.add(env_id, "beta", 0, "shop", 4)  # counted meanwhile
            assert await forwarder.forward() is True

        forwarder = forwarding(server, key, counter, tmp_path / "edge")(steps)
        assert network.bodies[1] == network.bodies[0]  # the same post, with its id
        assert len(network.bodies) == 3
        flush(server)
        assert counts(e, "beta") == {0: 34}
        assert forwarder.forwarded == 34


def test_the_overflow_is_logged_when_only_part_of_an_interval_got_through(
    make_settings: Callable[..., Any],
    clock: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    network = LossyNetwork(create_app(make_settings(), clock=clock), {1: "down"})
    with serving(network) as server:
        e = setup_env(server.url, "overflow@example.com")
        key = relay_key(e)
        env_id = production_id(server.url, key)
        counter = UsageCounter(max_keys=MAX_COUNTS + 1)  # two posts' worth, and then some
        for i in range(MAX_COUNTS + 3):
            counter.add(env_id, f"f{i}", 0, "shop")

        async def steps(forwarder: UsageForwarder) -> None:
            with caplog.at_level(logging.WARNING, logger="launchsequence.edge"):
                assert await forwarder.forward() is False  # the first post in, not the second

        forwarding(server, key, counter, tmp_path / "edge")(steps)
        assert network.bodies[2] == network.bodies[1]  # sent again, unchanged, at the stop
        assert "2 evaluations not counted at this edge" in caplog.text
