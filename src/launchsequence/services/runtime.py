"""What every service call needs: the database, the settings, the clock, and change listeners."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from ..config import Settings
from ..store import audit as audit_store
from ..store.db import writer
from .errors import Invalid

__all__ = ["KEY_PATTERN", "Actor", "Runtime", "check_key", "record_audit", "wall_clock_ms"]

#: Keys of organizations, projects, environments, flags and segments: what URLs address.
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

#: Called after a commit with {environment id: new version} for every environment it changed.
ChangeListener = Callable[[dict[int, int]], None]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a user, through a session or a personal API token."""

    user_id: int
    email: str
    name: str
    via: str  # "session" or "token"


@dataclass
class Runtime:
    db: Engine
    settings: Settings
    clock: Callable[[], int] = wall_clock_ms
    listeners: list[ChangeListener] = field(default_factory=list)
    key_listeners: list[Callable[[int], None]] = field(default_factory=list)

    @property
    def write_db(self) -> Engine:
        return writer(self.db)

    def now(self) -> int:
        return self.clock()

    def changed(self, versions: dict[int, int]) -> None:
        """Tell listeners (hubs, change feeds) what a committed transaction changed."""
        if versions:
            for listener in self.listeners:
                listener(versions)

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
        },
    )
