"""One budget of open streams per process, shared by every kind of stream: SDK server and
client streams, OFREP event streams and the dashboard's live updates all hold a connection
(a file descriptor) for as long as they stay open, so they all count against one limit."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from .metrics import Metrics

__all__ = ["LimitReached", "StreamSlots", "retry_after"]

log = logging.getLogger("launchsequence.streams")

#: Open streams, as a share of the limit, at which a warning is logged ...
NEAR = 0.9
#: ... and the share they must fall below before the next such warning.
CLEAR = 0.8
#: Refusals are logged at most once in this many seconds (with how many there were).
REFUSAL_LOG_SECONDS = 60.0
#: A refused stream is told to come back in 5 to 15 seconds: spread, so that the thousands
#: refused together (after a restart, say) do not all return in the same second.
RETRY_AFTER_SECONDS = (5, 15)


def retry_after() -> str:
    """The Retry-After header's value for a refused stream."""
    return str(random.randint(*RETRY_AFTER_SECONDS))


class LimitReached(Exception):
    """Too many open streams: in total ('total') or for one key or user ('key')."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which


class StreamSlots:
    """Counts the open streams of this process, in total and per owner (an SDK key's digest,
    a dashboard user), against `limit` and `per_owner`.

    Logs a warning when the open streams first reach 90 % of the limit (again only after they
    fell below 80 %), and when it refuses a stream (at most once a minute, with the count).
    Keeps the gauges `launchseq_open_streams{kind}` and `launchseq_stream_limit` current.
    Called on the event loop only.
    """

    def __init__(
        self,
        metrics: Metrics,
        limit: int,
        per_owner: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.limit = limit
        self.per_owner = per_owner
        self.clock = clock
        self.open = 0
        self._per_owner: dict[str, int] = {}
        self._near = False
        self._refused_since_log = 0
        self._refusal_logged_at: float | None = None
        metrics.stream_limit.set(limit)

    def admit(self, owner: str, kind: str) -> None:
        """Count a new stream of `kind` for `owner`, or raise LimitReached."""
        if self.open >= self.limit:
            self._refuse("total")
        if self._per_owner.get(owner, 0) >= self.per_owner:
            self._refuse("key")
        self.open += 1
        self._per_owner[owner] = self._per_owner.get(owner, 0) + 1
        self.metrics.streams.labels(kind).inc()
        if not self._near and self.open >= self.limit * NEAR:
            self._near = True
            log.warning(
                "%d of %d streams open: near the stream limit (LAUNCHSEQ_MAX_STREAMS, derived "
                "from the open-file limit); past it new streams are answered 503",
                self.open,
                self.limit,
            )

    def release(self, owner: str, kind: str) -> None:
        """The stream of `kind` that `owner` was admitted for has ended."""
        self.open -= 1
        left = self._per_owner.get(owner, 1) - 1
        if left:
            self._per_owner[owner] = left
        else:
            self._per_owner.pop(owner, None)
        self.metrics.streams.labels(kind).dec()
        if self._near and self.open < self.limit * CLEAR:
            self._near = False

    def _refuse(self, which: str) -> None:
        self.metrics.refused.labels(which).inc()
        self._refused_since_log += 1
        now = self.clock()
        last = self._refusal_logged_at
        if last is None or now - last >= REFUSAL_LOG_SECONDS:
            what = "the limit" if which == "total" else "the limit of one key or user"
            log.warning(
                "refused a stream at %s (%d of %d streams open; %d refused since the last such "
                "message): it is told to retry later",
                what,
                self.open,
                self.limit,
                self._refused_since_log,
            )
            self._refusal_logged_at = now
            self._refused_since_log = 0
        raise LimitReached(which)
