"""Clock jumps and sessions: sessions are timed by elapsed time, so a jump of the system clock,
back or forward, ends a session neither earlier nor later than the configured skew allows, for
the idle limit and the absolute one alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.conftest import Clock
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer

IDLE = 60 * 60  # session_idle_minutes=60, in seconds
SKEW = 60  # session_clock_skew_seconds
WEEK = 7 * 24 * 3600


@pytest.fixture
def server(make_settings: Callable[..., Settings], clock: Clock) -> Iterator[LiveServer]:
    settings = make_settings(session_idle_minutes=60, session_clock_skew_seconds=SKEW)
    live = LiveServer(create_app(settings, clock=clock, elapsed=clock.elapsed)).start()
    yield live
    live.stop()


def expired(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.json()["error"]["code"] == "session_expired"


def test_a_backwards_jump_does_not_end_a_session(server: LiveServer, clock: Clock) -> None:
    user = signup(server.url, "back@example.com")
    try:
        clock.jump(-WEEK)  # a week back: before the session was created
        assert user.get("/api/v1/me").status_code == 200
        assert user.post("/api/v1/tokens", json={"name": "t"}).status_code == 201
        clock.advance(IDLE - 2 * SKEW)  # used all along, and now the clock is corrected
        clock.jump(WEEK)
        assert user.get("/api/v1/me").status_code == 200
    finally:
        user.close()


def test_a_backwards_jump_does_not_keep_a_session_alive(server: LiveServer, clock: Clock) -> None:
    user = signup(server.url, "stays-back@example.com")
    try:
        clock.jump(-WEEK)  # and the clock stays wrong
        clock.advance(IDLE - SKEW - 1)  # short of the idle limit by more than the skew: still in
        assert user.get("/api/v1/me").status_code == 200
        clock.advance(IDLE + SKEW + 1)  # past it since that use, skew included
        assert expired(user.get("/api/v1/me"))
    finally:
        user.close()


def test_a_forward_jump_does_not_end_a_session_early(server: LiveServer, clock: Clock) -> None:
    user = signup(server.url, "jump-ahead@example.com")
    try:
        clock.jump(WEEK)  # a week ahead without a week passing
        assert user.get("/api/v1/me").status_code == 200
        clock.jump(-WEEK)  # and corrected
        assert user.get("/api/v1/me").status_code == 200
    finally:
        user.close()


def test_time_passing_past_the_idle_limit_ends_it(server: LiveServer, clock: Clock) -> None:
    user = signup(server.url, "fwd@example.com")
    try:
        clock.advance(IDLE - 60)  # short of the limit: still in
        assert user.get("/api/v1/me").status_code == 200
        clock.advance(IDLE + 1)  # past it since that use
        gone = user.get("/api/v1/me")
        assert expired(gone), gone.text
        clock.jump(-(IDLE + 1))  # jumping back does not bring it back: it was deleted
        assert user.get("/api/v1/me").status_code == 401
    finally:
        user.close()


ABSOLUTE = 2 * 3600  # session_absolute_hours=2, in seconds


@pytest.fixture
def short_lived(make_settings: Callable[..., Settings], clock: Clock) -> Iterator[LiveServer]:
    settings = make_settings(
        session_idle_minutes=60, session_absolute_hours=2, session_clock_skew_seconds=SKEW
    )
    live = LiveServer(create_app(settings, clock=clock, elapsed=clock.elapsed)).start()
    yield live
    live.stop()


def _use_for(user: ApiUser, clock: Clock, seconds: int) -> None:
    """Use the session every half hour (well within the idle limit) for `seconds`."""
    step = IDLE // 2
    while seconds > 0:
        clock.advance(min(step, seconds))
        seconds -= step
        assert user.get("/api/v1/me").status_code == 200


def test_a_backwards_jump_does_not_extend_the_absolute_limit(
    short_lived: LiveServer, clock: Clock
) -> None:
    user = signup(short_lived.url, "absolute-back@example.com")
    try:
        clock.jump(-WEEK)  # the clock goes back a week and stays there
        _use_for(user, clock, ABSOLUTE - SKEW - 1)  # in use all along: still in
        clock.advance(2 * SKEW + 2)  # past the absolute limit, skew included
        assert expired(user.get("/api/v1/me"))
    finally:
        user.close()


def test_a_forward_jump_does_not_reach_the_absolute_limit_early(
    short_lived: LiveServer, clock: Clock
) -> None:
    user = signup(short_lived.url, "absolute-ahead@example.com")
    try:
        clock.jump(ABSOLUTE + 3600)  # the wall clock says the session is long past its life
        assert user.get("/api/v1/me").status_code == 200
        _use_for(user, clock, ABSOLUTE - SKEW - 1)  # real time still short of it
        clock.advance(2 * SKEW + 2)
        assert expired(user.get("/api/v1/me"))
    finally:
        user.close()
