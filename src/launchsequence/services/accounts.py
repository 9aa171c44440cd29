"""Accounts: sign-up, log-in with throttling, sessions, and personal API tokens."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..secrets import SESSION_PREFIX, TOKEN_PREFIX, digest, new_secret, sign
from ..store import accounts as store
from ..store import sso as sso_store
from . import orgs
from .errors import Conflict, Invalid, NotFound, SecondFactorRequired, Unauthorized
from .invitations import accept_in
from .login_tickets import LoginTickets
from .passkeys import Passkeys
from .passwords import Passwords
from .runtime import Actor, Runtime, check_name
from .second_factor import SecondFactor
from .throttle import LoginThrottle

__all__ = [
    "SESSION_PREFIX",
    "TOKEN_PREFIX",
    "Accounts",
    "Session",
    "normalize_email",
]

#: Why a right password is refused: an organization of the user's requires single sign-on.
SSO_REQUIRED = (
    "Your organization requires single sign-on: sign in with your organization's provider "
    "(its button is below) instead of a password."
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TOUCH_EVERY_MS = 60_000
#: What a passkey sign-in (no email) is throttled under, with the client's address after it:
#: a key no email can be (an email has an "@").
PASSKEY_THROTTLE_KEY = "passkey sign-in from "


def normalize_email(email: Any) -> str:
    if not isinstance(email, str):
        raise Invalid("must be an email address", field="email")
    normalized = email.strip().lower()
    if len(normalized) > 320 or _EMAIL.fullmatch(normalized) is None:
        raise Invalid("must be an email address", field="email")
    return normalized


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise Invalid("must be 1 to 200 characters", field="name")
    return name.strip()


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in session: the token goes in the cookie, `csrf` in every unsafe request."""

    token: str
    csrf: str
    actor: Actor


class Accounts:
    def __init__(self, rt: Runtime, passwords: Passwords | None = None) -> None:
        self.rt = rt
        self.passwords = passwords or Passwords()
        self.throttle = LoginThrottle(rt)
        self.second_factor = SecondFactor(rt)
        self.passkeys = Passkeys(rt)
        self.tickets = LoginTickets(rt)

    # --- users -------------------------------------------------------------------------------

    def create_user(
        self,
        *,
        email: str,
        password: str,
        name: str | None = None,
        invitation: str | None = None,
        organization: str | None = None,
    ) -> Actor:
        """A new user with their own organization, as sign-up makes it (named `organization`,
        the team's name; the person's name when none is given); or, with an `invitation`
        token, a member of the inviting organization only.

        Raises Invalid for a bad email, name or password, Conflict for a taken email, and
        NotFound (code `invalid_invitation`) for an unknown or expired invitation.
        """
        email = normalize_email(email)
        name = _check_name(name if name is not None else email.split("@")[0])
        team = name
        if organization is not None and organization.strip():
            team = check_name(organization, field="organization")
        self.passwords.check_policy(password)
        password_hash = self.passwords.hash(password)
        now = self.rt.now()
        try:
            with self.rt.write_db.begin() as conn:
                if store.get_user_by_email(conn, email) is not None:
                    raise Conflict("an account with this email exists", code="email_taken")
                user_id = store.create_user(
                    conn, email=email, name=name, password_hash=password_hash, at=now
                )
                actor = Actor(user_id, email, name, "session")
                if invitation is not None:
                    accept_in(conn, self.rt, invitation, actor)
                    versions: dict[int, int] = {}
                else:
                    versions = orgs.create_org_with_defaults(conn, self.rt, actor, name=team)
        except IntegrityError:
            raise Conflict("an account with this email exists", code="email_taken") from None
        self.rt.changed(versions)
        return actor

    def signup(
        self,
        *,
        email: str,
        password: str,
        name: str | None = None,
        invitation: str | None = None,
        address: str | None = None,
        user_agent: str | None = None,
        organization: str | None = None,
    ) -> Session:
        actor = self.create_user(
            email=email,
            password=password,
            name=name,
            invitation=invitation,
            organization=organization,
        )
        return self.open_session(actor, address=address, user_agent=user_agent, sign_in="password")

    # --- sessions ----------------------------------------------------------------------------

    def login(
        self,
        *,
        email: Any,
        password: Any,
        address: str,
        old_token: str | None = None,
        user_agent: str | None = None,
        code: Any = None,
        device: str | None = None,
    ) -> Session:
        """A new session (any session the client presented is ended: no fixation).

        For a user with a second factor (TOTP, passkeys), `code` (TOTP or recovery code) or a
        remembered `device` token is needed too; without either, SecondFactorRequired carries
        a ticket for `login_second_step` and the user's `methods`. A wrong code counts as a
        failed log-in.

        The same Unauthorized, after the same work, whether the email is unknown or the
        password wrong. Throttled (with the seconds to wait) as services/throttle.py says:
        an address that failed too often on this email or on many, or an email failing from
        many addresses too fast; never the owner for someone else's failures on their email
        from one address.
        """
        email_key = email.strip().lower() if isinstance(email, str) else ""
        if not isinstance(password, str) or len(password) > 1024:
            password = ""
        attempt = self.throttle.admit(email_key, address)
        with self.rt.db.connect() as conn:
            user = store.get_user_by_email(conn, email_key)
        if user is None:
            self.passwords.verify_absent(password)
            ok = False
        else:
            ok = self.passwords.verify(user["password_hash"], password)
        if not ok:
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        assert user is not None
        with self.rt.db.connect() as conn:  # only once the password is right: nothing revealed
            if sso_store.password_refused(conn, user["id"]):
                raise Unauthorized(SSO_REQUIRED, code="sso_required")
        methods = self.methods(user)
        sign_in = "second_factor" if methods else "password"
        if methods and not self.second_factor.remembered(user["id"], device):
            if code is None or code == "":
                self.throttle.succeeded(attempt)
                raise SecondFactorRequired(
                    "enter the code from your authenticator app"
                    if "totp" in methods
                    else "use your passkey",
                    ticket=self.tickets.make(user),
                    methods=methods,
                )
            if not self.second_factor.verify(user, code):
                raise Unauthorized("wrong code", code="invalid_second_factor")
        self.throttle.succeeded(attempt)
        if user["disabled_at"] is not None:
            # Said only to whoever knows the password: it reveals nothing to anyone else.
            raise Unauthorized(
                "this account is disabled; ask your administrator", code="account_disabled"
            )
        if old_token:
            self.logout(old_token)
        actor = Actor(user["id"], user["email"], user["name"], "session")
        return self.open_session(actor, address=address, user_agent=user_agent, sign_in=sign_in)

    def methods(self, user: dict[str, Any]) -> tuple[str, ...]:
        """The second factors the user has: "totp", "passkey", both or none."""
        has_passkey = self.passkeys.count(user["id"]) > 0
        return tuple(
            m for m, on in (("totp", bool(user["totp_secret"])), ("passkey", has_passkey)) if on
        )

    def passkey_options(self, *, binding: str, ticket: Any = None) -> dict[str, Any]:
        """Options for `navigator.credentials.get()`: with a second-step `ticket`, for that
        user's passkeys; without one, for a sign-in with a passkey alone."""
        user_id = None if ticket is None else self.tickets.user_of(ticket)["id"]
        return self.passkeys.authentication_options(binding=binding, user_id=user_id)

    def login_with_passkey(
        self,
        *,
        binding: str,
        credential: Any,
        address: str,
        old_token: str | None = None,
        user_agent: str | None = None,
    ) -> Session:
        """Sign in with a passkey alone: a discoverable passkey whose device verified its
        user (something held and something known or part of the person: two factors).
        Refused as a password is where an organization requires single sign-on (owners
        excepted), and for a disabled account. Throttled as a password log-in
        (services/throttle.py): no email is given, so a refused passkey counts against the
        client's address, per address and (with password log-ins) across emails."""
        attempt = self.throttle.admit(PASSKEY_THROTTLE_KEY + address, address)
        user_id = self.passkeys.verify(binding=binding, credential=credential, user_id=None)
        self.throttle.succeeded(attempt)
        with self.rt.db.connect() as conn:
            user = store.get_user(conn, user_id)
            refused = sso_store.password_refused(conn, user_id)
        if user is None:
            raise Unauthorized("this passkey was not accepted", code="invalid_passkey")
        if refused:
            raise Unauthorized(SSO_REQUIRED, code="sso_required")
        if user["disabled_at"] is not None:
            raise Unauthorized(
                "this account is disabled; ask your administrator", code="account_disabled"
            )
        if old_token:
            self.logout(old_token)
        actor = Actor(user["id"], user["email"], user["name"], "session")
        return self.open_session(actor, address=address, user_agent=user_agent, sign_in="passkey")

    def login_second_step(
        self,
        *,
        ticket: Any,
        code: Any,
        address: str,
        old_token: str | None = None,
        user_agent: str | None = None,
        passkey: Any = None,
        binding: str = "",
    ) -> Session:
        """Finish a log-in that answered SecondFactorRequired: the ticket (5 minutes) and a
        code, or a `passkey` assertion answering a challenge made for this ticket's user and
        this `binding` (the browser's pre-session). Throttled as log-in; Unauthorized for an
        expired or forged ticket, a wrong code (`invalid_second_factor`) or a refused passkey
        (`invalid_passkey`, `passkey_challenge_expired`)."""
        user = self.tickets.user_of(ticket)
        attempt = self.throttle.admit(user["email"], address)
        if passkey:
            self.passkeys.verify(binding=binding, credential=passkey, user_id=user["id"])
        elif not self.second_factor.verify(user, code):
            raise Unauthorized("wrong code", code="invalid_second_factor")
        self.throttle.succeeded(attempt)
        if user["disabled_at"] is not None:
            raise Unauthorized(
                "this account is disabled; ask your administrator", code="account_disabled"
            )
        if old_token:
            self.logout(old_token)
        actor = Actor(user["id"], user["email"], user["name"], "session")
        return self.open_session(
            actor, address=address, user_agent=user_agent, sign_in="second_factor"
        )

    def open_session(
        self,
        actor: Actor,
        *,
        address: str | None = None,
        user_agent: str | None = None,
        sign_in: str | None = None,
    ) -> Session:
        """A new session for `actor` (who has proved who they are, as `sign_in` says:
        "password", "second_factor", "passkey" or "sso"; kept with the session, for the
        rules that depend on it, see `Actor.sign_in`)."""
        token = new_secret(SESSION_PREFIX)
        with self.rt.write_db.begin() as conn:
            store.create_session(
                conn,
                token_hash=digest(token),
                user_id=actor.user_id,
                at=self.rt.session_now(),
                user_agent=user_agent,
                address=address,
                sign_in=sign_in,
            )
        return Session(token, self.csrf_for(token), replace(actor, sign_in=sign_in))

    def csrf_for(self, session_token: str) -> str:
        """The CSRF token bound to a session: it changes whenever the session does."""
        return sign(self.rt.settings.secret_key, "csrf:" + digest(session_token))

    def check_csrf(self, session_token: str, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(
            self.csrf_for(session_token), presented
        )

    def authenticate_session(self, token: str | None) -> Actor:
        """The session's user. Raises Unauthorized for a missing, unknown or expired session;
        an expired one is deleted."""
        if not token or not token.startswith(SESSION_PREFIX) or len(token) > 100:
            raise Unauthorized("log in first")
        s = self.rt.settings
        now = self.rt.session_now()
        token_hash = digest(token)
        with self.rt.db.connect() as conn:
            session = store.session_by_hash(conn, token_hash)
            user = store.get_user(conn, session["user_id"]) if session else None
        if session is None or user is None or user["disabled_at"] is not None:
            raise Unauthorized("log in first")
        idle = now - session["last_seen_at"] > s.session_idle_minutes * 60_000
        too_old = now - session["created_at"] > s.session_absolute_hours * 3_600_000
        if idle or too_old:
            self._end_session(token_hash)
            raise Unauthorized("your session expired; log in again", code="session_expired")
        if now - session["last_seen_at"] > _TOUCH_EVERY_MS:
            with self.rt.write_db.begin() as conn:
                store.touch_session(conn, session["id"], now)
        return Actor(user["id"], user["email"], user["name"], "session", sign_in=session["sign_in"])

    def logout(self, token: str) -> None:
        """End the session: its cookie stops working at once, and its open live-update
        streams end (within a second here, within `stream_recheck_seconds` elsewhere)."""
        self._end_session(digest(token))

    def _end_session(self, token_hash: str) -> None:
        with self.rt.write_db.begin() as conn:
            store.delete_session(conn, token_hash)
        self.rt.access_changed(sessions=[token_hash])

    # --- personal API tokens -----------------------------------------------------------------

    def create_token(self, actor: Actor, name: Any) -> tuple[str, dict[str, Any]]:
        """A new token, returned in full only here; stored as a digest."""
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise Invalid("must be 1 to 100 characters", field="name")
        token = new_secret(TOKEN_PREFIX)
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            token_id = store.create_token(
                conn,
                token_hash=digest(token),
                prefix=token[:12],
                user_id=actor.user_id,
                name=name.strip(),
                at=now,
            )
        row = {
            "id": token_id,
            "name": name.strip(),
            "prefix": token[:12],
            "created_at": now,
            "last_used_at": None,
        }
        return token, row

    def create_token_for_email(self, email: str, name: str) -> str:
        return self.create_token(self.actor_for_email(email, via="token"), name)[0]

    def actor_for_email(self, email: str, *, via: str = "command") -> Actor:
        """The user with this email as the actor of an operator's command (no credentials:
        for the `launchseq` command, which has the database itself)."""
        with self.rt.db.connect() as conn:
            user = store.get_user_by_email(conn, normalize_email(email))
        if user is None:
            raise NotFound("no user with this email")
        return Actor(user["id"], user["email"], user["name"], via)

    def list_tokens(self, actor: Actor) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            return store.list_tokens(conn, actor.user_id)

    def revoke_token(self, actor: Actor, token_id: int) -> None:
        with self.rt.write_db.begin() as conn:
            if not store.delete_token(conn, token_id=token_id, user_id=actor.user_id):
                raise NotFound("no such token")

    def authenticate_token(self, token: str) -> Actor:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            raise Unauthorized("invalid API token")
        now = self.rt.now()
        with self.rt.db.connect() as conn:
            row = store.token_by_hash(conn, digest(token))
            user = store.get_user(conn, row["user_id"]) if row else None
        if row is None or user is None or user["disabled_at"] is not None:
            raise Unauthorized("invalid API token")
        if row["last_used_at"] is None or now - row["last_used_at"] > _TOUCH_EVERY_MS:
            with self.rt.write_db.begin() as conn:
                store.touch_token(conn, row["id"], now)
        return Actor(user["id"], user["email"], user["name"], "token")
