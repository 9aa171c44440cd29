"""What every service call needs: the database, the settings, the clock, and change listeners."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine

from ..config import Settings
from ..store import audit as audit_store
from ..store.db import writer
from .errors import Invalid
from .events import event_type_for, record_event

__all__ = [
    "KEY_PATTERN",
    "Actor",
    "Runtime",
    "SteadyClock",
    "check_key",
    "check_name",
    "elapsed_clock_ms",
    "record_audit",
    "with_comment",
    "wall_clock_ms",
]

log = logging.getLogger("launchsequence")

#: Keys of organizations, projects, environments, flags and segments: what URLs address.
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

#: Called after a commit with {environment id: new version} for every environment it changed.
ChangeListener = Callable[[dict[int, int]], None]

#: Called after a session ended or a membership changed: (session digests, user ids).
AccessListener = Callable[[list[str], list[int]], None]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


#: A clock that the system clock's jumps do not move; on Linux it also counts time asleep.
_ELAPSED = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def elapsed_clock_ms() -> int:
    return time.clock_gettime_ns(_ELAPSED) // 1_000_000


class SteadyClock:
    """Wall time (Unix ms) that ignores jumps of the system clock, for timing sessions.

    It answers `wall()` while the wall clock moves as `elapsed()` does, give or take `skew_ms`
    since the last reading. When the wall clock jumps further than that (set back, or forward
    without that much time passing), it goes on counting from the last reading they agreed on,
    so real time alone decides when a session ends, and rejoins the wall clock once it is back.
    """

    def __init__(self, wall: Callable[[], int], elapsed: Callable[[], int], skew_ms: int) -> None:
        self._wall = wall
        self._elapsed = elapsed
        self._skew_ms = skew_ms
        self._lock = threading.Lock()
        self._anchor = (wall(), elapsed())
        self._jumped = False

    def __call__(self) -> int:
        with self._lock:
            wall, elapsed = self._wall(), self._elapsed()
            anchor_wall, anchor_elapsed = self._anchor
            steady = anchor_wall + (elapsed - anchor_elapsed)
            if abs(wall - steady) <= self._skew_ms:
                self._anchor = (wall, elapsed)
                if self._jumped:
                    self._jumped = False
                    log.warning("the system clock agrees with elapsed time again")
                return wall
            if not self._jumped:
                self._jumped = True
                log.warning(
                    "the system clock jumped %+d s against elapsed time; sessions are timed "
                    "by elapsed time until it agrees again",
                    (wall - steady) // 1000,
                )
            self._anchor = (steady, elapsed)
            return steady


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a user, through a session or a personal API token."""

    user_id: int
    email: str
    name: str
    via: str  # "session", "token", "command" (launchseq) or "reset" (a password-reset link)
    #: Why, in their words: stored with the audit entry of every change this request makes and
    #: sent with its webhook events (see `with_comment`).
    comment: str | None = None
    #: For a session, how it signed in: "password", "second_factor" (password and TOTP or a
    #: passkey), "passkey" (alone, the device verifying its user), "sso", or None (a session
    #: from before this was kept, or not a session).
    sign_in: str | None = None


@dataclass
class Runtime:
    db: Engine
    settings: Settings
    clock: Callable[[], int] = wall_clock_ms
    #: Times sessions: the wall clock without its jumps (see SteadyClock); `clock` by default.
    session_clock: Callable[[], int] | None = None
    listeners: list[ChangeListener] = field(default_factory=list)
    key_listeners: list[Callable[[int], None]] = field(default_factory=list)
    access_listeners: list[AccessListener] = field(default_factory=list)

    @property
    def write_db(self) -> Engine:
        return writer(self.db)

    def now(self) -> int:
        return self.clock()

    def session_now(self) -> int:
        return (self.session_clock or self.clock)()

    def changed(self, versions: dict[int, int]) -> None:
        """Tell listeners (hubs, change feeds) what a committed transaction changed."""
        if versions:
            for listener in self.listeners:
                listener(versions)

    def access_changed(self, *, sessions: Sequence[str] = (), users: Sequence[int] = ()) -> None:
        """Tell listeners (open streams, change feeds) that these sessions (digests) ended or
        these users' memberships changed (after the commit), so that streams opened with
        them check their access again."""
        if sessions or users:
            for listener in self.access_listeners:
                listener(list(sessions), list(users))

    def sdk_keys_changed(self, environment_id: int) -> None:
        """Tell listeners that an environment's SDK keys changed (after the commit)."""
        for listener in self.key_listeners:
            listener(environment_id)


def check_key(value: Any, field_name: str = "key") -> str:
    if not isinstance(value, str) or KEY_PATTERN.fullmatch(value) is None:
        raise Invalid(
            "must be 1 to 64 characters: lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field=field_name,
        )
    return value


def check_name(value: Any, field: str = "name") -> str:
    """A display name (of an organization, a project, an environment, a key): 1 to 200
    characters, trimmed."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise Invalid("must be 1 to 200 characters", field=field)
    return value.strip()


#: The longest comment a change may carry.
MAX_COMMENT = 1000


def check_note(value: Any, field: str, *, limit: int = MAX_COMMENT) -> str:
    """A comment or reason a person typed (a change's comment, a request's, a rejection's
    reason, an emergency bypass's reason), stripped; "" for None. Invalid (naming `field`)
    unless text of at most `limit` characters without control characters (tabs and line
    breaks are fine): the one check for text that is logged, audited and mailed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("must be text", field=field)
    text = value.strip()
    if len(text) > limit:
        raise Invalid(f"must be at most {limit} characters", field=field)
    if any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in text):
        raise Invalid("must not hold control characters", field=field)
    return text


def with_comment(actor: Actor, comment: Any) -> Actor:
    """`actor` with the comment their request gave (stripped; empty or None: no comment).
    Invalid (field `comment`) as `check_note`."""
    if comment is None:
        return actor
    return replace(actor, comment=check_note(comment, "comment") or None)


def record_audit(
    conn: Any,
    rt: Runtime,
    *,
    org_id: int,
    actor: Actor | None,
    action: str,
    resource: str,
    project: str | None = None,
    environment: str | None = None,
    flag: str | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Write the audit entry of a change in its transaction (`conn`), with the actor's comment;
    and, when the action is one webhooks hear of (services/events.py), its event and
    deliveries in the same transaction."""
    audit_store.write_entry(
        conn,
        {
            "org_id": org_id,
            "at": rt.now(),
            "actor_id": actor.user_id if actor else None,
            "actor": actor.email if actor else "system",
            "action": action,
            "resource": resource,
            "project": project,
            "environment": environment,
            "flag": flag,
            "before": before,
            "after": after,
            "comment": actor.comment if actor else None,
        },
    )
    kind = event_type_for(action, before)
    if kind is not None:
        record_event(
            conn,
            rt,
            org_id=org_id,
            kind=kind,
            action=action,
            actor=actor,
            project=project,
            environment=environment,
            flag=flag,
            segment=resource if kind.startswith("segment.") else None,
            before=before,
            after=after,
        )
