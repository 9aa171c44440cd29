"""Leases: work one instance does for all (the webhook sender), held by one holder at a time.

A lease is a row `(name, holder, expires_at)`. `acquire` takes it when it is free or expired, or
renews it for its holder, in one conditional UPDATE: of instances racing for it, exactly one
gets it (PostgreSQL re-checks the condition on the row the winner committed; SQLite runs one
write at a time). A holder that dies stops renewing, and another takes over once it expires.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, or_, update

from .atomic import insert_unless_taken
from .tables import leases

__all__ = ["acquire", "release"]


def acquire(conn: Connection, name: str, holder: str, *, now: int, ttl_ms: int) -> bool:
    """Whether `holder` holds lease `name` until `now + ttl_ms` (taken or renewed)."""
    insert_unless_taken(
        conn, insert(leases).values(name=name, holder=holder, expires_at=now + ttl_ms)
    )
    result = conn.execute(
        update(leases)
        .where(
            leases.c.name == name,
            or_(leases.c.holder == holder, leases.c.expires_at <= now),
        )
        .values(holder=holder, expires_at=now + ttl_ms)
    )
    return result.rowcount == 1


def release(conn: Connection, name: str, holder: str) -> None:
    """Give the lease up (at a clean stop), so that another instance need not wait for it."""
    conn.execute(
        update(leases).where(leases.c.name == name, leases.c.holder == holder).values(expires_at=0)
    )
