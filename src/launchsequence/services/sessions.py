"""One's own sessions: the list (device, address, created, last seen), ending one of them, or
every one but the current. Ending a session also ends its open live-update streams."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..secrets import digest
from ..store import accounts as store
from ..store import orgs as org_store
from .devices import describe_device
from .errors import NotFound
from .runtime import Actor, Runtime, record_audit

__all__ = ["SIGN_IN_WORDS", "Sessions", "end_user_sessions", "record_account_event"]

#: How a session signed in (sessions.sign_in), as the sessions page says it.
SIGN_IN_WORDS = {
    "password": "password",
    "second_factor": "password and second factor",
    "passkey": "passkey",
    "sso": "single sign-on",
}


def end_user_sessions(conn: Connection, user_id: int, *, keep_hash: str | None = None) -> list[str]:
    """Delete the user's sessions (but `keep_hash`) in the caller's transaction; the digests,
    for `Runtime.access_changed` after the commit."""
    return store.delete_user_sessions(conn, user_id=user_id, keep_hash=keep_hash)


def record_account_event(
    conn: Connection,
    rt: Runtime,
    user_id: int,
    email: str,
    action: str,
    actor: Actor | None,
    *,
    after: Any = None,
) -> None:
    """Write an account event (password changed, reset, user disabled, a passkey added, with
    what to say of it in `after`) into the audit log of every organization the user belongs
    to: that is where the people who answer for them look."""
    for org in org_store.list_orgs_for_user(conn, user_id):
        record_audit(
            conn, rt, org_id=org["id"], actor=actor, action=action, resource=email, after=after
        )


class Sessions:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def list(self, actor: Actor, current_token: str | None) -> list[dict[str, Any]]:
        """The actor's sessions, most recently seen first; `current` marks the one asking.
        `address` is where the session logged in from; `last_seen_at` is exact to a minute;
        `signed_in_with` says how, in words ("" for a session from before this was kept)."""
        current = digest(current_token) if current_token else None
        with self.rt.db.connect() as conn:
            rows = store.list_sessions(conn, actor.user_id)
        return [
            {
                "id": r["id"],
                "device": describe_device(r["user_agent"]),
                "user_agent": r["user_agent"] or "",
                "address": r["address"] or "",
                "created_at": r["created_at"],
                "last_seen_at": r["last_seen_at"],
                "current": r["token_hash"] == current,
                "signed_in_with": SIGN_IN_WORDS.get(r["sign_in"] or "", ""),
            }
            for r in rows
        ]

    def end(self, actor: Actor, session_id: int) -> None:
        """End one of the actor's sessions. NotFound for another user's session id, exactly
        as for a missing one."""
        with self.rt.write_db.begin() as conn:
            token_hash = store.delete_user_session(
                conn, session_id=session_id, user_id=actor.user_id
            )
        if token_hash is None:
            raise NotFound("no such session", code="no_such_session")
        self.rt.access_changed(sessions=[token_hash])

    def end_others(self, actor: Actor, current_token: str) -> int:
        """End every session of the actor but the one asking; how many ended."""
        with self.rt.write_db.begin() as conn:
            ended = end_user_sessions(conn, actor.user_id, keep_hash=digest(current_token))
        self.rt.access_changed(sessions=ended)
        return len(ended)
