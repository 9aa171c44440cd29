"""The ticket that carries a log-in from its first step (the password was right) to its
second (a code or a passkey): `USER_ID.EXPIRES.MAC`, valid five minutes, signed under the
server's secret and bound to the user's password hash, so a password change voids the
tickets made before it. Nothing is stored."""

from __future__ import annotations

import secrets
from typing import Any

from ..secrets import sign
from ..store import accounts as store
from .errors import Unauthorized
from .runtime import Runtime

__all__ = ["TICKET_MS", "LoginTickets"]

TICKET_MS = 5 * 60_000  # the second log-in step must follow the first within this


class LoginTickets:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def make(self, user: dict[str, Any], expires: int | None = None) -> str:
        """A ticket for `user` (a users row), expiring at `expires` (default: in 5 minutes)."""
        expires = expires if expires is not None else self.rt.now() + TICKET_MS
        mac = sign(
            self.rt.settings.secret_key,
            f"2fa-ticket:{user['id']}:{expires}:{user['password_hash']}",
        )
        return f"{user['id']}.{expires}.{mac}"

    def user_of(self, ticket: Any) -> dict[str, Any]:
        """The user a live ticket names. Unauthorized (`session_expired`) for an expired or
        forged one."""
        parts = ticket.split(".") if isinstance(ticket, str) and len(ticket) < 200 else []
        user = None
        numbers = len(parts) == 3 and all(x.isascii() and x.isdigit() for x in parts[:2])
        if numbers:
            with self.rt.db.connect() as conn:
                user = store.get_user(conn, int(parts[0]))
        valid = (
            user is not None
            and int(parts[1]) > self.rt.now()
            and secrets.compare_digest(self.make(user, int(parts[1])), ticket)
        )
        if not valid or user is None:
            raise Unauthorized("this log-in expired; start again", code="session_expired")
        return user
