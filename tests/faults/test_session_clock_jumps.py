"""Clock jumps and sessions: a jump back never ends a session; a jump forward past the idle
limit does, and one short of it does not. Sessions are judged by the server's clock alone."""

from __future__ import annotations

from tests.conftest import Clock
from tests.support.api import signup
from tests.support.live import LiveServer

IDLE = 720 * 60  # the default session_idle_minutes, in seconds


def test_a_backwards_jump_does_not_end_a_session(live: LiveServer, clock: Clock) -> None:
    user = signup(live.url, "back@example.com")
    try:
        clock.advance(-7 * 24 * 3600)  # a week back: before the session was created
        assert user.get("/api/v1/me").status_code == 200
        assert user.post("/api/v1/tokens", json={"name": "t"}).status_code == 201
        clock.advance(7 * 24 * 3600)  # and corrected again
        assert user.get("/api/v1/me").status_code == 200
    finally:
        user.close()


def test_a_forward_jump_past_the_idle_limit_ends_it(live: LiveServer, clock: Clock) -> None:
    user = signup(live.url, "fwd@example.com")
    try:
        clock.advance(IDLE - 60)  # short of the limit: still in
        assert user.get("/api/v1/me").status_code == 200
        clock.advance(IDLE + 1)  # past it since that use
        gone = user.get("/api/v1/me")
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "session_expired", (
            gone.text
        )
        clock.advance(-(IDLE + 1))  # jumping back does not bring it back: it was deleted
        assert user.get("/api/v1/me").status_code == 401
    finally:
        user.close()
