"""A subscriber that comes back with a Last-Event-ID newer than this instance has seen (it was
on another instance, which applied a write whose notification has not arrived here yet) is
not sent back to an older version: the instance reloads the environment first."""

from __future__ import annotations

from collections.abc import Callable

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.conftest import Clock
from tests.http.test_delivery import BOOL, make_flag, sdk, setup_env, stream, toggle
from tests.support.live import LiveServer


def test_a_last_event_id_ahead_of_this_instance_reloads_it_first(
    make_settings: Callable[..., Settings], clock: Clock
) -> None:
    # Two app objects on one SQLite file share no change feed: B hears nothing of A's writes,
    # as an instance whose notification is late.
    settings = make_settings()
    a = LiveServer(create_app(settings, clock=clock)).start()
    b = LiveServer(create_app(settings, clock=clock)).start()
    try:
        e = setup_env(a.url, "ahead@example.com")
        make_flag(e, "banner", BOOL)
        auth = {"Authorization": f"Bearer {e.server_key}"}
        with stream(b.url, "/sdk/v1/stream", auth) as s:  # B loads the environment now
            put = s.next_data_event()
            assert put.event == "put"
            stale = int(put.id or 0)

        toggle(e, "banner", False)  # through A: B's hub still holds `stale`
        current = sdk(a.url, "/sdk/v1/snapshot", e.server_key).json()["version"]
        assert current > stale

        with stream(b.url, "/sdk/v1/stream", {**auth, "Last-Event-ID": str(current)}) as s:
            assert s.next_event().retry is not None
            # No put of the older version: B caught up, and the client is already current.
            assert sdk(b.url, "/sdk/v1/snapshot", e.server_key).json()["version"] == current
        toggle(e, "banner", True)  # A again: B is behind once more
        with stream(b.url, "/sdk/v1/stream", {**auth, "Last-Event-ID": str(current + 1)}) as s:
            assert s.next_event().retry is not None
            assert sdk(b.url, "/sdk/v1/snapshot", e.server_key).json()["version"] == current + 1
        evaluated = sdk(b.url, "/sdk/v1/evaluate", e.server_key, {"context": {"key": "u"}})
        assert evaluated.json()["flags"]["banner"]["value"] is True
    finally:
        b.stop()
        a.stop()
