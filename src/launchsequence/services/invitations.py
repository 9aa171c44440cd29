"""Invitations: a link with a random token that lets a new (or existing) user join an
organization with a given role, for a limited time. Only the token's digest is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..secrets import INVITE_PREFIX, digest, new_secret
from ..store import invitations as store
from ..store import orgs as org_store
from .errors import Conflict, Invalid, NotFound
from .mail import Mailer
from .orgs import _may_grant, _role, org_for
from .runtime import Actor, Runtime, record_audit

__all__ = ["INVITE_PREFIX", "INVITE_TTL_MS", "Invitations", "accept_in"]

INVITE_TTL_MS = 7 * 24 * 3_600_000


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "role": row["role"],
        "invited_by": row["invited_by"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
    }


def _digest(token: Any) -> str:
    if not isinstance(token, str) or not token.startswith(INVITE_PREFIX) or len(token) > 100:
        raise NotFound("this invitation is not valid", code="invalid_invitation")
    return digest(token)


def _expired() -> NotFound:
    return NotFound("this invitation is not valid or has expired", code="invalid_invitation")


def _pending(conn: Connection, token: Any, now: int) -> dict[str, Any]:
    row = store.invitation_by_hash(conn, _digest(token))
    if row is None or row["expires_at"] <= now:
        raise _expired()
    return row


def accept_in(conn: Connection, rt: Runtime, token: Any, actor: Actor) -> dict[str, Any]:
    """Make `actor` a member as the invitation says, in the caller's transaction; the
    invitation is used up. Raises NotFound for an unknown, expired or already used token,
    Invalid when the invitation names another email, Conflict when already a member.

    The invitation is taken (deleted) before anything else, in one statement: of people
    accepting one link at the same moment exactly one gets it; any error after that rolls
    the caller's transaction back, and the invitation with it.
    """
    row = store.take_invitation(conn, _digest(token), now=rt.now())
    if row is None:
        raise _expired()
    if row["email"] and row["email"] != actor.email:
        raise Invalid(f"this invitation is for {row['email']}", field="email")
    # Membership changes of an organization are serialized on its row (see Orgs).
    org_store.lock_org(conn, row["org_id"])
    if org_store.get_membership(conn, org_id=row["org_id"], user_id=actor.user_id):
        raise Conflict("already a member", code="already_member")
    org_store.add_member(
        conn, org_id=row["org_id"], user_id=actor.user_id, role=row["role"], at=rt.now()
    )
    record_audit(
        conn,
        rt,
        org_id=row["org_id"],
        actor=actor,
        action="invitation.accepted",
        resource=actor.email,
        after={"role": row["role"]},
    )
    return {"key": row["org_key"], "name": row["org_name"], "role": row["role"]}


def invitation_email_body(inviter: str, org_name: str, role: str, link: str) -> str:
    return (
        f"{inviter} invites you to {org_name} on Launch Sequence, as {role}.\n\n"
        f"Join through this link (it works once, for 7 days):\n\n{link}\n\n"
        "If you did not expect this, ignore this email.\n"
    )


class Invitations:
    def __init__(self, rt: Runtime, mailer: Mailer | None = None) -> None:
        self.rt = rt
        self.mailer = mailer

    def create(
        self, actor: Actor, org_key: str, *, role: Any, email: Any = None
    ) -> tuple[str, dict[str, Any]]:
        """A new invitation; the token (for the link) is returned here only. With an `email`
        and SMTP configured (and LAUNCHSEQ_BASE_URL, for the link), the link is also emailed
        to it, after the commit and in the background: the row's `emailed` says so."""
        role = _role(role)
        if email is not None and email != "":
            if not isinstance(email, str) or "@" not in email or len(email) > 320:
                raise Invalid("must be an email address", field="email")
            email = email.strip().lower()
        else:
            email = None
        token = new_secret(INVITE_PREFIX)
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            # Locked as any membership change: an owner demoted at this moment grants no owner.
            org = org_for(conn, actor, org_key, write=True, lock=True)
            _may_grant(org["role"], role)
            store.delete_expired(conn, now=now)
            row = {
                "org_id": org["id"],
                "token_hash": digest(token),
                "email": email,
                "role": role,
                "invited_by": actor.email,
                "created_at": now,
                "expires_at": now + INVITE_TTL_MS,
            }
            row["id"] = store.create_invitation(conn, row)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="invitation.created",
                resource=email or "(link)",
                after={"role": role, "email": email, "expires_at": row["expires_at"]},
            )
        emailed = self._email(token, email, actor, org, role)
        return token, {**_public(row), "emailed": emailed}

    def _email(
        self, token: str, email: str | None, actor: Actor, org: dict[str, Any], role: str
    ) -> bool:
        base = self.rt.settings.base_url.rstrip("/")
        if email is None or self.mailer is None or not self.mailer.configured or not base:
            return False
        link = f"{base}/signup?invitation={token}"
        self.mailer.send(
            to=email,
            subject=f"You are invited to {org['name']} on Launch Sequence",
            body=invitation_email_body(actor.name or actor.email, org["name"], role, link),
            kind="invitation",
        )
        return True

    def list(self, actor: Actor, org_key: str) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            return [_public(r) for r in store.list_invitations(conn, org["id"], now=self.rt.now())]

    def revoke(self, actor: Actor, org_key: str, invitation_id: int) -> None:
        with self.rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key, write=True)
            if not store.delete_invitation(conn, invitation_id=invitation_id, org_id=org["id"]):
                raise NotFound("no such invitation")
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="invitation.revoked",
                resource=str(invitation_id),
            )

    def peek(self, token: Any) -> dict[str, Any]:
        """What an invitation offers (organization, role, email), for the sign-up page."""
        with self.rt.db.connect() as conn:
            row = _pending(conn, token, self.rt.now())
        return {
            "org": {"key": row["org_key"], "name": row["org_name"]},
            "role": row["role"],
            "email": row["email"],
            "expires_at": row["expires_at"],
        }

    def accept(self, actor: Actor, token: Any) -> dict[str, Any]:
        """An existing user joins through an invitation link."""
        with self.rt.write_db.begin() as conn:
            return accept_in(conn, self.rt, token, actor)
