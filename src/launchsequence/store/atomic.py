"""Read, check, then write, without races: the same answer on PostgreSQL as on SQLite.

SQLite runs one write transaction at a time (`writer()` begins them IMMEDIATE), so a check made
inside one still holds when it writes. PostgreSQL runs them side by side at READ COMMITTED: two
transactions may both read "two owners", both demote one, and leave none. Each service that
checks something and then writes picks one of these patterns, all plain SQL that SQLite runs too:

1. **Lock the row that guards the rule, first**, with `lock()` (`SELECT ... FOR NO KEY UPDATE`), and
   read what the check needs only after it: at READ COMMITTED every later statement sees what
   the previous holder of the lock committed. The guards in use:

   - the organization row guards its memberships (the last owner, a member added twice);
   - the project row guards everything its environments serve: flags, configurations,
     segments, environments and SDK keys (a key taken twice, a segment deleted while a flag
     starts using it, two rotations leaving two live keys).

   Take one guard per transaction, before any other lock, so that no two writers wait on each
   other in opposite orders.

2. **Single-use rows** (invitations, one-time links, reset tokens): `take()` deletes the row
   and returns it in one statement; `claim()` marks it (`SET used_at = :now WHERE used_at IS
   NULL`) and returns it, for rows kept afterwards. Of concurrent callers exactly one gets the
   row; the others get None, as for an unknown token. Put the validity conditions (token
   digest, expiry, not yet used) in the statement itself, not in a read before it::

       row = take(conn, invitations, invitations.c.token_hash == digest(token),
                  invitations.c.expires_at > now)
       if row is None:
           raise NotFound(...)

   A check that fails afterwards (wrong email) raises, and the rollback gives the row back.

3. **Unique keys with no row to lock yet** (a generated organization key): `insert_unless_taken()`
   runs the INSERT in a SAVEPOINT and answers None when a unique constraint refused it, so
   that the caller can choose another key or raise Conflict while its transaction goes on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.dml import Insert

__all__ = ["claim", "insert_unless_taken", "is_unique_violation", "lock", "take"]

_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE for unique_violation


def lock(conn: Connection, table: Table, *where: ColumnElement[bool]) -> dict[str, Any] | None:
    """The one row matching `where`, locked until the transaction ends (PostgreSQL; SQLite's
    write transactions already exclude every other writer); None when there is none.

    Read everything the check depends on after this call, in the same transaction.
    """
    # FOR NO KEY UPDATE: it excludes the other lockers, but not the inserts of rows that refer
    # to this one (an audit entry, a membership), which would otherwise queue behind it.
    query = select(table).where(*where).with_for_update(key_share=True)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def take(conn: Connection, table: Table, *where: ColumnElement[bool]) -> dict[str, Any] | None:
    """Delete the row matching `where` and return it, in one statement: of concurrent callers
    exactly one gets it, the others None (a PostgreSQL caller that waited on the winner finds
    the row gone once the winner commits, or gets it if the winner rolled back)."""
    statement = delete(table).where(*where).returning(*table.c)
    row = conn.execute(statement).mappings().first()
    return dict(row) if row else None


def claim(
    conn: Connection, table: Table, *where: ColumnElement[bool], values: dict[str, Any]
) -> dict[str, Any] | None:
    """Set `values` on the row matching `where` and return it as updated, in one statement.

    Include in `where` the condition that `values` ends (`used_at IS NULL` with
    `values={"used_at": now}`): then exactly one of concurrent callers gets the row, as with
    `take`, and the row stays for the record.
    """
    statement = update(table).where(*where).values(values).returning(*table.c)
    row = conn.execute(statement).mappings().first()
    return dict(row) if row else None


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a row because a unique key (or primary key) is taken."""
    if getattr(exc.orig, "sqlstate", None) == _UNIQUE_VIOLATION:
        return True
    # SQLite names primary keys the same way: "UNIQUE constraint failed: table.column".
    return "UNIQUE constraint failed" in str(exc.orig)


def insert_unless_taken(conn: Connection, statement: Insert) -> Any:
    """Run `statement` (an INSERT, usually with RETURNING) in a SAVEPOINT; its result's first
    row (or True without RETURNING), or None when a unique key refused it. The transaction goes
    on either way; any other integrity error (a missing parent row) is raised."""
    try:
        with conn.begin_nested():
            result = conn.execute(statement)
            return result.first() if result.returns_rows else True
    except IntegrityError as exc:
        if is_unique_violation(exc):
            return None
        raise
