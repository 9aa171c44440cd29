"""Who may do what: the organization a caller belongs to, and their role in one project.

Every service finds what it works on through these functions, so that one place decides.
An organization role is `owner`, `admin` (may change things) or `viewer` (reads only). A
member other than an owner may be given another role in one project (`project_roles`): admin
of one project and viewer of another. `project_access` decides every project-scoped read and
write; organization-level writes (members, invitations, settings, new projects, webhooks of
the whole organization) use `org_for(..., write=True)`, the organization role.

Another organization's object raises NotFound exactly as a missing one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ..store import flags as flag_store
from ..store import orgs as store
from ..store import project_roles as role_store
from ..store import second_factor as second_factor_store
from ..store import sso as sso_store
from .errors import Forbidden, NotFound
from .runtime import Actor

__all__ = [
    "PROJECT_ROLES",
    "ChangeRights",
    "change_rights",
    "effective_role",
    "environment_for",
    "flag_for",
    "has_second_factor",
    "org_for",
    "project_access",
    "project_for",
    "refuse_read_only",
    "role_in_project",
]

#: The roles a member may be given in one project (an owner is an owner everywhere).
PROJECT_ROLES = ("admin", "viewer")


def refuse_read_only(role: str) -> None:
    """Forbidden (`read_only`) unless `role` may change things."""
    if role == "viewer":
        raise Forbidden("viewers can read but not change anything", code="read_only")


def org_for(
    conn: Connection, actor: Actor, org_key: str, *, write: bool = False, lock: bool = False
) -> dict[str, Any]:
    """The organization with the caller's `role`. NotFound unless the caller is a member;
    Forbidden for a write by a viewer, and for anything by a member without a second factor
    when the organization requires one (`second_factor_required`).

    What counts as a second factor is `has_second_factor`'s to say, and is asked only of an
    organization that requires one.

    `lock` (for membership changes) locks the organization's row first: the caller's role and
    whatever else is read afterwards in the transaction stay as read until it ends, on
    PostgreSQL as on SQLite.
    """
    org = store.get_org_for_user(conn, org_key=org_key, user_id=actor.user_id, for_update=lock)
    if org is None:
        raise NotFound("no such organization")
    if org["require_second_factor"] and not has_second_factor(conn, actor, org):
        raise Forbidden(
            "this organization requires a second factor: set one up on your account page "
            "(/account), then come back",
            code="second_factor_required",
        )
    if write:
        refuse_read_only(org["role"])
    return org


def has_second_factor(conn: Connection, actor: Actor, org: dict[str, Any]) -> bool:
    """Whether the caller has a second factor in `org` (`org_for`'s answer): a TOTP app or a
    passkey of their own (a log-in with a password then always asks for it), or a session
    signed in through single sign-on when the organization itself uses single sign-on (it
    requires it, or takes members from an email domain through it): its provider is then
    trusted with the person's second factor, as LaunchDarkly and GitHub trust theirs
    (docs/accounts.md, "Single sign-on and the second factor"). A sign-in through a provider
    says nothing to an organization that does not use one."""
    if second_factor_store.has_own(conn, actor.user_id):
        return True
    return actor.sign_in == "sso" and sso_store.uses_sso(conn, org["id"])


def project_for(
    conn: Connection, org: dict[str, Any], key: str, *, lock: bool = False
) -> dict[str, Any]:
    """The organization's project. `lock` (for every write to what it serves: flags,
    configurations, segments, environments, SDK keys) locks its row first, so that checks
    made afterwards in the transaction (a key free, a segment unused, a variation unserved)
    still hold when it writes."""
    project = store.get_project(conn, org_id=org["id"], key=key, for_update=lock)
    if project is None:
        raise NotFound("no such project")
    return project


def environment_for(conn: Connection, project: dict[str, Any], key: str) -> dict[str, Any]:
    environment = store.get_environment(conn, project_id=project["id"], key=key)
    if environment is None:
        raise NotFound("no such environment")
    return environment


def flag_for(conn: Connection, project: dict[str, Any], key: str) -> dict[str, Any]:
    """The project's flag `key` (archived or not); NotFound as a missing one."""
    flag = flag_store.get_flag(conn, project_id=project["id"], key=key)
    if flag is None:
        raise NotFound("no such flag")
    return flag


def effective_role(org_role: str, project_role: str | None) -> str:
    """The role that counts in a project: an owner's is `owner` (no project role lowers it);
    anyone else's is their project role if they have one, else their organization role."""
    if org_role == "owner" or project_role is None:
        return org_role
    return project_role


def role_in_project(
    conn: Connection,
    *,
    org_id: int,
    project_id: int,
    user_id: int,
    org_role: str | None = None,
) -> str | None:
    """The role that counts for member `user_id` in project `project_id` (`effective_role` of
    their organization role and their project role), or None if they are not a member of the
    organization. `org_role`: their organization role when the caller has read it already.
    The one derivation of a member's role in a project: every check asks here."""
    if org_role is None:
        member = store.get_membership(conn, org_id=org_id, user_id=user_id)
        if member is None:
            return None
        org_role = str(member["role"])
    override = role_store.get_project_role(conn, project_id=project_id, user_id=user_id)
    return effective_role(org_role, override)


def project_access(
    conn: Connection,
    actor: Actor,
    org_key: str,
    project_key: str,
    *,
    write: bool = False,
    lock: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The organization (with the caller's organization `role`) and the project (with the
    caller's effective `role` there, see `effective_role`): the one decision for everything
    under a project.

    NotFound unless the caller is a member and the organization has the project (another
    organization's project answers exactly as a missing one); Forbidden as `org_for` for a
    missing second factor; Forbidden (`read_only`) for a `write` by someone whose role in this
    project is viewer. `lock` locks the project's row first (see `project_for`). A rule that
    asks more of a writer (an environment whose changes need approval) reads the project's
    `role` from the answer, so that the project role counts there too.
    """
    org = org_for(conn, actor, org_key)
    project = project_for(conn, org, project_key, lock=lock)
    role = role_in_project(
        conn, org_id=org["id"], project_id=project["id"], user_id=actor.user_id,
        org_role=org["role"],
    )  # fmt: skip
    assert role is not None
    if write:
        refuse_read_only(role)
    return org, {**project, "role": role}


@dataclass(frozen=True)
class ChangeRights:
    """What one member may change across an organization's projects, for what is listed across
    projects (webhooks): by the same rule as `project_access`."""

    org_role: str
    project_roles: dict[str, str]  # project key -> the member's role there, where it differs

    def allows(self, project_key: str | None) -> bool:
        """May change what belongs to the project `project_key`, or with None to the whole
        organization (the organization role alone)."""
        if project_key is None:
            return self.org_role != "viewer"
        return effective_role(self.org_role, self.project_roles.get(project_key)) != "viewer"

    @property
    def anywhere(self) -> bool:
        """May change something somewhere: in the organization or in one of its projects."""
        return self.allows(None) or any(self.allows(k) for k in self.project_roles)


def change_rights(conn: Connection, actor: Actor, org: dict[str, Any]) -> ChangeRights:
    """The caller's `ChangeRights` in `org` (`org_for`'s answer)."""
    roles = role_store.list_user_project_roles(conn, org_id=org["id"], user_id=actor.user_id)
    return ChangeRights(org["role"], roles)
