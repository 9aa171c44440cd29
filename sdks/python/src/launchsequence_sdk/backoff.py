"""Reconnection delays: exponential with jitter, reset after a long enough connection."""

from __future__ import annotations

import random
import time

__all__ = ["Backoff"]


class Backoff:
    """Delays of `initial` doubling up to `maximum`, each drawn from [half, all] of its step.

    `connected()` marks a successful connection; `next_delay()` after it starts again from
    `initial` when that connection lasted at least `reset_after` seconds.
    """

    def __init__(self, initial: float = 1.0, maximum: float = 30.0, reset_after: float = 60.0):
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self._attempt = 0
        self._connected_at: float | None = None

    def connected(self) -> None:
        self._connected_at = time.monotonic()

    def next_delay(self, at_least: float | None = None) -> float:
        """The next delay; never less than `at_least` (what the server asked for)."""
        if self._connected_at is not None:
            if time.monotonic() - self._connected_at >= self.reset_after:
                self._attempt = 0
            self._connected_at = None
        step = min(self.maximum, self.initial * (2 ** min(self._attempt, 30)))
        self._attempt += 1
        # Equal jitter: never less than half the step, so that retries still back off.
        delay = float(step / 2 + random.random() * step / 2)
        return delay if at_least is None else max(delay, at_least)
