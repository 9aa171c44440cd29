"""Changing a password, and resetting a forgotten one through a one-time link.

A reset link carries a random token (`lsr_...`) that works once, for 30 minutes; only its
SHA-256 digest is stored. Asking for one answers the same, in the same time, whether or not
the address has an account: the lookup, the token and the email all happen on the mail
worker thread after the answer. Requests are throttled per email and per client address.
A change or a reset ends the user's other sessions (a reset: all of them) and their other
reset links, and is written to the audit log of each of their organizations.
"""

from __future__ import annotations

from typing import Any

from ..secrets import RESET_PREFIX, digest, new_secret
from ..store import accounts as account_store
from ..store import recovery as store
from .errors import Invalid, NotFound, Throttled, Unavailable
from .mail import NO_MAIL_MESSAGE, Mailer
from .passwords import Passwords
from .runtime import Actor, Runtime
from .sessions import end_user_sessions, record_account_event
from .throttle import LoginThrottle, wait_text

__all__ = ["RESET_TTL_MS", "Recovery", "reset_email_body"]

RESET_TTL_MS = 30 * 60_000


def reset_email_body(link: str) -> str:
    return (
        "Someone (we hope you) asked to reset the password of your Launch Sequence account.\n\n"
        f"Choose a new password here (the link works once, for 30 minutes):\n\n{link}\n\n"
        "If it was not you, ignore this email: your password stays as it is.\n"
    )


def _invalid_link() -> NotFound:
    return NotFound(
        "this password-reset link is not valid: it was used already, has expired, or was "
        "mistyped. Ask for a new one.",
        code="invalid_reset",
    )


def _reset_digest(token: Any) -> str:
    if not isinstance(token, str) or not token.startswith(RESET_PREFIX) or len(token) > 100:
        raise _invalid_link()
    return digest(token)


class Recovery:
    def __init__(
        self, rt: Runtime, passwords: Passwords, throttle: LoginThrottle, mailer: Mailer
    ) -> None:
        self.rt = rt
        self.passwords = passwords
        self.throttle = throttle
        self.mailer = mailer

    # --- change -------------------------------------------------------------------------------

    def change_password(
        self, actor: Actor, *, session_token: str | None, current: Any, new: Any, address: str
    ) -> int:
        """Set a new password, the current one proved. Every other session of the user ends
        (the asking one stays); how many ended. Raises Invalid (field `current_password` or
        `password`) and Throttled as log-in does: the form is no way around its throttle."""
        self.passwords.check_policy(new)
        if not isinstance(current, str) or len(current) > 1024:
            current = ""
        attempt = self.throttle.admit(actor.email, address)
        with self.rt.db.connect() as conn:
            user = account_store.get_user(conn, actor.user_id)
        if user is None or not self.passwords.verify(user["password_hash"], current):
            raise Invalid("this is not your current password", field="current_password")
        self.throttle.succeeded(attempt)
        password_hash = self.passwords.hash(new)
        keep = digest(session_token) if session_token and actor.via == "session" else None
        with self.rt.write_db.begin() as conn:
            account_store.set_password_hash(conn, actor.user_id, password_hash)
            ended = end_user_sessions(conn, actor.user_id, keep_hash=keep)
            store.delete_for_user(conn, actor.user_id)
            record_account_event(
                conn, self.rt, actor.user_id, actor.email, "user.password_changed", actor
            )
        self.rt.access_changed(sessions=ended)
        return len(ended)

    def confirm_password(self, actor: Actor, password: Any, *, address: str) -> None:
        """Check the actor's password before a sensitive change (turning the second factor
        off). Invalid (field `password`) if wrong; throttled as log-in."""
        if not isinstance(password, str) or len(password) > 1024:
            password = ""
        attempt = self.throttle.admit(actor.email, address)
        with self.rt.db.connect() as conn:
            user = account_store.get_user(conn, actor.user_id)
        if user is None or not self.passwords.verify(user["password_hash"], password):
            raise Invalid("this is not your password", field="password")
        self.throttle.succeeded(attempt)

    # --- reset --------------------------------------------------------------------------------

    def link_base(self) -> str:
        """The server's public URL for links; never the request's Host header, which a
        stranger chooses."""
        base = self.rt.settings.base_url.rstrip("/")
        if not base:
            raise Unavailable(
                "LAUNCHSEQ_BASE_URL is not set, so no link to this server can be made",
                code="base_url_not_set",
            )
        return base

    def request_reset(self, email: Any, *, address: str) -> None:
        """Email a reset link to `email` if it has an active account; nothing otherwise. The
        same answer either way. Raises Throttled past `password_resets_per_email` (for this
        email) or `password_resets_per_address` (this client) within the log-in window, and
        Unavailable when no email can be sent."""
        if not self.mailer.configured:
            raise Unavailable(NO_MAIL_MESSAGE, code="mail_not_configured")
        base = self.link_base()
        email_key = email.strip().lower() if isinstance(email, str) else ""
        if not email_key or len(email_key) > 320 or "@" not in email_key:
            raise Invalid("must be an email address", field="email")
        self._admit(email_key, address)
        self.mailer.submit(lambda: self._send_reset(email_key, base))

    def _admit(self, email_key: str, address: str) -> None:
        s = self.rt.settings
        now = self.rt.now()
        window = s.login_window_seconds * 1000
        limits = (
            ("reset-email", digest(email_key), s.password_resets_per_email),
            ("reset-addr", digest(address), s.password_resets_per_address),
        )
        with self.rt.write_db.begin() as conn:
            for scope, subject, limit in limits:
                count, oldest = account_store.count_failures(
                    conn, scope=scope, subject=subject, since=now - window
                )
                if count >= limit:
                    seconds = max(1, (oldest + window - now + 999) // 1000)
                    raise Throttled(
                        f"too many password-reset requests; {wait_text(seconds)}",
                        retry_after=seconds,
                    )
            for scope, subject, _ in limits:
                account_store.record_failure(conn, scope=scope, subject=subject, at=now)

    def _send_reset(self, email_key: str, base: str) -> None:
        # On the mail worker thread: whatever happens here, the answer was the same.
        token = self._new_reset(email_key)
        if token is None:
            return
        link = f"{base}/reset?token={token}"
        message = self.mailer.compose(
            to=email_key, subject="Reset your Launch Sequence password", body=reset_email_body(link)
        )
        self.mailer.deliver(message, "password-reset")

    def _new_reset(self, email_key: str) -> str | None:
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            user = account_store.get_user_by_email(conn, email_key)
            if user is None or user["disabled_at"] is not None:
                return None
            token = new_secret(RESET_PREFIX)
            store.delete_expired(conn, now=now)
            store.create_reset(
                conn,
                token_hash=digest(token),
                user_id=user["id"],
                at=now,
                expires_at=now + RESET_TTL_MS,
            )
        return token

    def reset_link(self, email: str, base_url: str | None = None) -> str:
        """A one-time reset link for an operator to hand over (`launchseq user
        reset-password`). Raises NotFound for an unknown or disabled account."""
        base = base_url.rstrip("/") if base_url else self.link_base()
        email_key = email.strip().lower()
        token = self._new_reset(email_key)
        if token is None:
            raise NotFound("no active user with this email", code="no_such_user")
        return f"{base}/reset?token={token}"

    def check_reset(self, token: Any) -> str:
        """The email a live reset token is for. Raises NotFound (`invalid_reset`) for an
        unknown, used, expired or malformed one."""
        token_hash = _reset_digest(token)
        with self.rt.db.connect() as conn:
            row = store.reset_by_hash(conn, token_hash, now=self.rt.now())
            user = account_store.get_user(conn, row["user_id"]) if row else None
        if user is None or user["disabled_at"] is not None:
            raise _invalid_link()
        return str(user["email"])

    def complete_reset(self, token: Any, new_password: Any) -> Actor:
        """Set the new password and use the token up; every session of the user ends. A
        password the policy refuses (Invalid) leaves the token usable."""
        token_hash = _reset_digest(token)
        self.passwords.check_policy(new_password)
        password_hash = self.passwords.hash(new_password)
        with self.rt.write_db.begin() as conn:
            row = store.take_reset(conn, token_hash, now=self.rt.now())
            user = account_store.get_user(conn, row["user_id"]) if row else None
            if user is None or user["disabled_at"] is not None:
                raise _invalid_link()
            account_store.set_password_hash(conn, user["id"], password_hash)
            ended = end_user_sessions(conn, user["id"])
            store.delete_for_user(conn, user["id"])
            actor = Actor(user["id"], user["email"], user["name"], "reset")
            record_account_event(
                conn, self.rt, user["id"], user["email"], "user.password_reset", actor
            )
        self.rt.access_changed(sessions=ended)
        return actor
