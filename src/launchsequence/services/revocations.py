"""Ending long-lived requests when the access they were opened with ends.

A dashboard live-update stream is authorized once, when it opens, and may then stay open for
hours. `Revocations` is this process's registry of such streams, keyed by the digest of their
session and by their user. Ending a session (log-out, expiry) or changing a membership
(removal, role change) wakes the streams concerned: each checks its access again at its next
poll (a fraction of a second) and ends if it lost it.

A wake-up is never a verdict: the recheck decides, so a spurious or repeated one costs one
recheck. `Runtime.access_changed` wakes this process's streams and tells the change feed,
which wakes those of other processes (PostgreSQL); where no feed carries it, each stream's
periodic recheck (`stream_recheck_seconds`) is the bound.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

__all__ = ["Revocations", "Watch"]


class Watch:
    """One open stream's claim on a session and a user. `woken` is set (from any thread) when
    either may have lost access; the stream clears it before it rechecks."""

    __slots__ = ("session", "user_id", "woken")

    def __init__(self, session: str, user_id: int) -> None:
        self.session = session
        self.user_id = user_id
        self.woken = threading.Event()


class Revocations:
    """The open streams of this process by session digest and by user id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, set[Watch]] = {}
        self._by_user: dict[int, set[Watch]] = {}

    @contextlib.contextmanager
    def watch(self, session: str, user_id: int) -> Iterator[Watch]:
        """Register a stream for as long as the block runs."""
        entry = Watch(session, user_id)
        with self._lock:
            self._by_session.setdefault(session, set()).add(entry)
            self._by_user.setdefault(user_id, set()).add(entry)
        try:
            yield entry
        finally:
            with self._lock:
                _discard(self._by_session, session, entry)
                _discard(self._by_user, user_id, entry)

    def wake(self, sessions: Iterable[str] = (), users: Iterable[int] = ()) -> None:
        """Wake the streams of these session digests and user ids."""
        with self._lock:
            found: set[Watch] = set()
            for session in sessions:
                found.update(self._by_session.get(session, ()))
            for user_id in users:
                found.update(self._by_user.get(user_id, ()))
        for entry in found:
            entry.woken.set()


def _discard(index: dict[Any, set[Watch]], key: Hashable, entry: Watch) -> None:
    entries = index.get(key)
    if entries is not None:
        entries.discard(entry)
        if not entries:
            del index[key]
