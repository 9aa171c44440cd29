"""What an operator does to users and tokens from the `launchseq` command: list users,
disable (or enable again) an account, list and revoke personal API tokens.

These calls carry no credentials: the command has the database itself, so whoever runs it
is the operator. No HTTP route reaches them.
"""

from __future__ import annotations

from typing import Any

from ..store import accounts as store
from ..store import orgs as org_store
from ..store import passkeys as passkey_store
from ..store import recovery as recovery_store
from ..store import second_factor as second_factor_store
from .errors import NotFound
from .runtime import Runtime
from .sessions import end_user_sessions, record_account_event

__all__ = ["Users"]


class Users:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def list_users(self) -> list[dict[str, Any]]:
        """Every user with their organizations (`key:role`), oldest first."""
        with self.rt.db.connect() as conn:
            users = store.list_users(conn)
            for user in users:
                orgs = org_store.list_orgs_for_user(conn, user["id"])
                user["organizations"] = [f"{o['key']}:{o['role']}" for o in orgs]
        return users

    def _user(self, conn: Any, email: str) -> dict[str, Any]:
        user = store.get_user_by_email(conn, email.strip().lower())
        if user is None:
            raise NotFound("no user with this email", code="no_such_user")
        return user

    def set_disabled(self, email: str, disabled: bool) -> bool:
        """Disable an account: it cannot log in, its sessions end at once (open streams
        with them), its API tokens and reset links stop working. Enable lets it log in again
        (its tokens work again; sessions do not come back). False when it already was so."""
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            user = self._user(conn, email)
            if (user["disabled_at"] is not None) == disabled:
                return False
            store.set_disabled(conn, user["id"], now if disabled else None)
            ended = end_user_sessions(conn, user["id"]) if disabled else []
            recovery_store.delete_for_user(conn, user["id"])
            action = "user.disabled" if disabled else "user.enabled"
            record_account_event(conn, self.rt, user["id"], user["email"], action, None)
        self.rt.access_changed(sessions=ended, users=[user["id"]])
        return True

    def clear_second_factor(self, email: str) -> bool:
        """Turn a user's second factor off (lost phone, security key and recovery codes):
        TOTP seed, recovery codes, remembered devices and passkeys go. False when they had
        none."""
        with self.rt.write_db.begin() as conn:
            user = self._user(conn, email)
            had_passkeys = passkey_store.delete_for_user(conn, user["id"]) > 0
            if not user["totp_secret"] and not had_passkeys:
                return False
            second_factor_store.clear(conn, user["id"])
            record_account_event(
                conn, self.rt, user["id"], user["email"], "user.second_factor_disabled", None
            )
        return True

    def list_tokens(self, email: str | None = None) -> list[dict[str, Any]]:
        """Personal API tokens (never their secret part), of one user or of everyone."""
        with self.rt.db.connect() as conn:
            users = [self._user(conn, email)] if email else store.list_users(conn)
            out = []
            for user in users:
                for token in store.list_tokens(conn, user["id"]):
                    out.append({**token, "email": user["email"]})
        return sorted(out, key=lambda t: t["id"])

    def revoke_token(self, token_id: int) -> dict[str, Any]:
        """Delete a token by its id; what it was (with its user's email). NotFound for an
        unknown id."""
        with self.rt.write_db.begin() as conn:
            token = store.get_token(conn, token_id)
            user = store.get_user(conn, token["user_id"]) if token else None
            if token is None or user is None:
                raise NotFound("no token with this id", code="no_such_token")
            store.delete_token(conn, token_id=token_id, user_id=token["user_id"])
        return {**token, "email": user["email"]}
