"""Fork safety: a client built before `os.fork()` streams again in the child process.

Pre-forking servers (gunicorn `--preload`, uWSGI without `lazy-apps`, Celery's prefork pool)
import the application, and so build its client, in a parent process, then fork workers. A
thread does not survive a fork: without this module each worker would keep the flags it was
born with, for ever, while claiming to be live. Every client registers here; in the child,
`os.register_at_fork` calls each one's `_after_fork()`, which takes fresh locks, marks its flags
stale and starts its stream again in that process.

The registry is process-wide because the fork hook is: it holds clients weakly, so that a
client the application drops is never kept alive by it.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Protocol

__all__ = ["Forkable", "track"]

log = logging.getLogger("launchsequence_sdk")


class Forkable(Protocol):
    def _after_fork(self) -> None:
        """Runs in the child right after a fork, before anything else there uses the client.
        Only lock-free work and starting a thread: another thread of the parent may have held
        any lock (the SDK's, logging's, a listener's) at the instant of the fork."""


_clients: weakref.WeakSet[Forkable] = weakref.WeakSet()


def track(client: Forkable) -> None:
    """Have `client._after_fork()` called in every child process forked from now on."""
    _clients.add(client)


def _after_fork_in_child() -> None:
    for client in list(_clients):
        try:
            client._after_fork()
        except Exception:  # a fork hook must never break the child: it would not start at all
            log.exception("launchsequence: could not restart a client after a fork")


if hasattr(os, "register_at_fork"):  # POSIX; there is no fork to survive elsewhere
    os.register_at_fork(after_in_child=_after_fork_in_child)
