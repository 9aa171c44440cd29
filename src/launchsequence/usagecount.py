"""Evaluation counts held in memory until the next flush: what the evaluation paths touch.

One `UsageCounter` per process, written on the event loop only (every SDK route and every
stream fan-out runs there), so no lock is taken on an evaluation path: a count is one dict
update. `drain()` swaps the dicts for empty ones and hands back the old ones; it is called on
the event loop too, so no count can land in a dict that was already handed over. The
flusher (`services/usage.py`) writes what it drained to the database off the event loop.

Counts are keyed (environment id, flag key, variation index, application): variation
`NO_VARIATION` (-1) is an answer without one (an error, or the caller's code default).
Applications are keyed (environment id, application, SDK name, SDK version) with the time
last seen and the instance ids reported. Both are bounded per interval (`max_keys`): past
that, further new keys are dropped and counted in `overflow` (a client cannot grow memory
without bound by inventing application names).

This module is no layer's: the SDK routes, the hubs (client streams) and the services use it,
and it imports nothing of theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "APPLICATION_HEADER",
    "INSTANCE_HEADER",
    "NO_VARIATION",
    "SDK_HEADER",
    "AppSeen",
    "Caller",
    "Drained",
    "UsageCounter",
    "caller_from_headers",
    "parse_caller",
]

#: The request headers the SDKs send: `X-LaunchSequence-SDK: <name>/<version>` (python/1.0.0,
#: js/0.1.0), `X-LaunchSequence-Application: <the host application's name>` (optional) and
#: `X-LaunchSequence-Instance: <an id per process>` (optional). Without the SDK header the
#: first product of `User-Agent` stands for the SDK (an OFREP provider, curl).
SDK_HEADER = b"x-launchsequence-sdk"
APPLICATION_HEADER = b"x-launchsequence-application"
INSTANCE_HEADER = b"x-launchsequence-instance"
_USER_AGENT = b"user-agent"

NO_VARIATION = -1
MAX_NAME = 100  # characters kept of an application name
MAX_SDK = 64  # of an SDK name or version
_CLEAN = re.compile(r"[^\x21-\x7e ]")  # printable ASCII only: names are shown and stored


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asked: the application's name ("" when it gave none) and its SDK."""

    application: str
    sdk: str
    sdk_version: str
    instance: str = ""


UNKNOWN = Caller("", "", "")


def _clean(raw: str, limit: int) -> str:
    return _CLEAN.sub("", raw).strip()[:limit]


def parse_caller(sdk: bytes, application: bytes, instance: bytes, agent: bytes) -> Caller:
    """The caller named by these header values (any may be empty)."""
    product = sdk or agent.split(b" ", 1)[0]
    name, _, version = product.decode("latin-1").partition("/")
    return Caller(
        _clean(application.decode("latin-1"), MAX_NAME),
        _clean(name, MAX_SDK),
        _clean(version, MAX_SDK),
        _clean(instance.decode("latin-1"), MAX_SDK),
    )


_NAMES = frozenset({SDK_HEADER, APPLICATION_HEADER, INSTANCE_HEADER, _USER_AGENT})
_CALLERS: dict[tuple[tuple[bytes, bytes], ...], Caller] = {}
_CALLERS_MAX = 4096


def caller_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> Caller:
    """The caller of an ASGI request's raw headers; parsed once per distinct header set."""
    raw = tuple([h for h in headers if h[0] in _NAMES])
    found = _CALLERS.get(raw)
    if found is None:
        named = dict(raw)
        sdk, app = named.get(SDK_HEADER, b""), named.get(APPLICATION_HEADER, b"")
        found = parse_caller(sdk, app, named.get(INSTANCE_HEADER, b""), named.get(_USER_AGENT, b""))
        if len(_CALLERS) >= _CALLERS_MAX:
            _CALLERS.clear()  # a flood of distinct headers: start over rather than grow
        _CALLERS[raw] = found
    return found


@dataclass(slots=True)
class AppSeen:
    """One (environment, application, SDK, version) in one interval."""

    last_seen: int  # Unix ms
    instances: set[str] = field(default_factory=set)


#: (environment id, flag key, variation, application) -> evaluations
Counts = dict[tuple[int, str, int, str], int]
#: (environment id, application, SDK name, SDK version) -> when seen and by which instances
Apps = dict[tuple[int, str, str, str], AppSeen]


@dataclass(frozen=True, slots=True)
class Drained:
    """What one interval counted."""

    counts: Counts
    apps: Apps
    overflow: int

    def per_environment(self) -> dict[int, int]:
        totals: dict[int, int] = {}
        for (env_id, _, _, _), n in self.counts.items():
            totals[env_id] = totals.get(env_id, 0) + n
        return totals


class UsageCounter:
    """The process's counts; see the module's docstring for the threading contract."""

    def __init__(self, *, enabled: bool = True, max_keys: int = 200_000) -> None:
        self.enabled = enabled
        self.max_keys = max_keys
        self.counts: Counts = {}
        self.apps: Apps = {}
        self.overflow = 0
        self.max_instances = 1000  # instance ids kept per application and interval
        #: Keys of the archived flags of each environment (set off the evaluation path: by
        #: the flusher at the core, from the relay stream's `env` events at an edge): their
        #: FLAG_NOT_FOUND answers are counted (variation -1), so that an archived flag some
        #: code still asks for shows as evaluated. No other unknown key is counted.
        self.archived: dict[int, frozenset[str]] = {}

    # --- the evaluation paths ----------------------------------------------------------------

    def add(
        self, env_id: int, flag: str, variation: int | None, application: str, n: int = 1
    ) -> None:
        key = (env_id, flag, NO_VARIATION if variation is None else variation, application)
        counts = self.counts
        found = counts.get(key)
        if found is not None:
            counts[key] = found + n
        elif len(counts) < self.max_keys:
            counts[key] = n
        else:
            self.overflow += n

    def add_results(self, env_id: int, application: str, results: Iterable[Any]) -> None:
        """Count engine results (anything with `key` and `variation`); FLAG_NOT_FOUND is not
        counted (a key nobody defined would grow the table without bound), except for the
        keys of archived flags (`archived`)."""
        if not self.enabled:
            return
        counts = self.counts
        for r in results:
            variation = r.variation
            key = (env_id, r.key, NO_VARIATION if variation is None else variation, application)
            found = counts.get(key)
            if found is not None:
                counts[key] = found + 1
            elif r.error_code != "FLAG_NOT_FOUND" or r.key in self.archived.get(env_id, ()):
                self.add(env_id, r.key, variation, application)

    def add_values(self, env_id: int, application: str, values: Mapping[str, Any]) -> None:
        """Count the client answers `{flag key: {"variation": ..., ...}}` that were sent."""
        if not self.enabled:
            return
        add = self.add
        for key, value in values.items():
            add(env_id, key, value.get("variation"), application)

    def seen(self, env_id: int, caller: Caller, now: int) -> None:
        """Note that `caller` asked in this environment at `now` (Unix ms)."""
        if not self.enabled:
            return
        key = (env_id, caller.application, caller.sdk, caller.sdk_version)
        found = self.apps.get(key)
        if found is None:
            if len(self.apps) >= self.max_keys:
                return
            found = self.apps[key] = AppSeen(now)
        elif now > found.last_seen:
            found.last_seen = now
        if caller.instance and len(found.instances) < self.max_instances:
            found.instances.add(caller.instance)

    def add_seen(
        self, key: tuple[int, str, str, str], last_seen: int, instances: Iterable[str]
    ) -> None:
        """Merge an (environment, application, SDK, version) another process saw (an edge's
        forwarded interval): the later time last seen, the union of the instance ids."""
        if self.enabled:
            self._merge_seen(key, last_seen, instances)

    def _merge_seen(
        self, key: tuple[int, str, str, str], last_seen: int, instances: Iterable[str]
    ) -> None:
        """Merge within the bounds: `max_keys` applications, `max_instances` ids each."""
        found = self.apps.get(key)
        if found is None:
            if len(self.apps) >= self.max_keys:
                return
            found = self.apps[key] = AppSeen(last_seen)
        elif last_seen > found.last_seen:
            found.last_seen = last_seen
        for instance in instances:
            if len(found.instances) >= self.max_instances:
                break
            found.instances.add(instance)

    # --- the flusher -------------------------------------------------------------------------

    def drain(self) -> Drained:
        """Everything counted since the last drain; the counter starts empty again."""
        drained = Drained(self.counts, self.apps, self.overflow)
        self.counts, self.apps, self.overflow = {}, {}, 0
        return drained

    def restore(self, drained: Drained) -> None:
        """Put back what a failed flush could not write (the database was away), so that it
        is written with the next interval's counts instead of being lost. The bounds hold as
        when counting: `max_keys` counts and applications (the rest goes to `overflow`),
        `max_instances` instance ids per application."""
        for (env_id, flag, variation, app), n in drained.counts.items():
            self.add(env_id, flag, variation, app, n)
        for key, seen in drained.apps.items():  # within the bounds, as when first counted
            self._merge_seen(key, seen.last_seen, seen.instances)
        self.overflow += drained.overflow
