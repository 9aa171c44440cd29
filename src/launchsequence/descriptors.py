"""The process's open-file limit, and the share of it that streams may hold.

Every open stream holds a connection, and so a file descriptor, for hours. Were streams let
take every descriptor, the process could accept no other connection at all: no health check,
no /metrics, not the request that flips a kill switch. (Under uvloop, which uvicorn uses when
it is installed, libuv then accepts each new connection and closes it at once: the client sees
a reset and nothing is logged.) So streams get the limit less a reserve, which covers the
database connections, the listening socket, log files and the short requests that come and go.
"""

from __future__ import annotations

import logging

__all__ = [
    "FALLBACK_STREAMS",
    "RESERVE_MIN",
    "connection_limit",
    "open_file_limit",
    "raise_open_file_limit",
    "reserve",
    "stream_limit",
]

log = logging.getLogger("launchsequence")

#: Descriptors kept for everything but streams: up to 18 SQLite connections of three files each
#: (database, WAL, shared memory) or 31 PostgreSQL sockets, the process's own files, and room for
#: a few hundred short requests (health checks, the API, the dashboard, SDK polls) at once.
RESERVE_MIN = 256
#: Descriptors of the process itself within the reserve: its own files (about 20) and the
#: database connections' (at most 54 for SQLite, 32 for PostgreSQL). The rest is connections.
OWN_FILES = 96
#: The reserve's share of a large limit: short requests grow with the traffic streams bring.
RESERVE_PERCENT = 10
#: The stream limit where the platform reports no open-file limit.
FALLBACK_STREAMS = 20_000


def open_file_limit() -> int | None:
    """The soft limit on open files of this process, or None where there is none to read."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def raise_open_file_limit() -> int | None:
    """Raise the soft open-file limit to the hard one (an unprivileged process may), and return
    the soft limit now in force. A platform that refuses the hard one (macOS caps an unlimited
    hard limit lower) keeps the highest of a few lower values it accepts."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    targets = (hard,) if hard != unlimited else (1_048_576, 65_536, 10_240)
    for target in targets:
        if soft == unlimited or target <= soft:
            break  # nothing to raise
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        log.debug("raised the open-file limit from %d to %d", soft, target)
        break
    return open_file_limit()


def reserve(limit: int) -> int:
    """Descriptors kept from streams out of `limit`: a tenth, at least RESERVE_MIN, and at most
    half (a process with very few descriptors still serves some streams)."""
    return min(limit // 2, max(RESERVE_MIN, limit * RESERVE_PERCENT // 100))


def connection_limit(limit: int | None) -> int:
    """The most connections (streams included) to keep open before idle ones are closed to
    make room: the open-file `limit` less the process's own files; 0 for no limit."""
    if limit is None:
        return 0
    return max(1, limit - min(OWN_FILES, limit // 4))


def stream_limit(configured: int, limit: int | None) -> int:
    """The most streams this process serves at once: `configured` (0: as many as the
    descriptors allow), never more than the open-file `limit` less its reserve. Logs a warning
    when a configured value had to be lowered."""
    if limit is None:
        return configured or FALLBACK_STREAMS
    allowed = max(1, limit - reserve(limit))
    if configured == 0:
        return allowed
    if configured > allowed:
        log.warning(
            "LAUNCHSEQ_MAX_STREAMS=%d is more than the open-file limit (%d) allows with its "
            "reserve of %d for other connections; serving at most %d streams (raise the limit "
            "with `ulimit -n` or the container's nofile setting)",
            configured,
            limit,
            reserve(limit),
            allowed,
        )
        return allowed
    return configured
