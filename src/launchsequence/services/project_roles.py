"""Project roles: a member made admin of one project and viewer of another.

Any member may see who holds which role in a project; the organization's admins and owners
set and remove project roles (a membership matter: the organization role decides, as for
`Orgs.set_role`). An admin cannot touch an owner, and nobody can give an owner a project
role: an owner is an owner in every project. What a role allows is decided in one place,
`access.project_access`.

Every change is audited as `member.project_role_changed`, with the project role before and
after (null: the member's organization role applies) and the role that results.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..store import orgs as org_store
from ..store import project_roles as store
from .access import PROJECT_ROLES, effective_role, org_for, project_access, project_for
from .errors import Conflict, Forbidden, Invalid, NotFound
from .runtime import Actor, Runtime, record_audit

__all__ = ["ProjectRoles"]


def _entry(member: dict[str, Any], project_role: str | None) -> dict[str, Any]:
    """A member as the project lists them: both roles and the one that counts."""
    org_role = str(member["role"])
    kept = None if org_role == "owner" else project_role
    return {
        "user_id": member["id"],
        "email": member["email"],
        "name": member["name"],
        "org_role": org_role,
        "project_role": kept,
        "role": effective_role(org_role, kept),
    }


class ProjectRoles:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def list_members(self, actor: Actor, org_key: str, project_key: str) -> list[dict[str, Any]]:
        """Every member of the organization with their organization role, their project role
        (null where they have none) and the `role` that counts in the project, by email."""
        with self.rt.db.connect() as conn:
            org, project = project_access(conn, actor, org_key, project_key)
            roles = store.list_project_roles(conn, project["id"])
            return [
                _entry(m, roles.get(m["id"], {}).get("role"))
                for m in org_store.list_members(conn, org["id"])
            ]

    def set_role(
        self, actor: Actor, org_key: str, project_key: str, user_id: int, role: Any
    ) -> dict[str, Any]:
        """Give the member `role` (admin or viewer) in the project, whatever their
        organization role. Invalid for another role; NotFound for a member or project the
        organization lacks; Forbidden (`read_only`) for an organization viewer, (`owner_only`)
        for an admin addressing an owner; Conflict (`owner_everywhere`) for an owner."""
        if role not in PROJECT_ROLES:
            raise Invalid("must be admin or viewer", field="role")
        return self._change(actor, org_key, project_key, user_id, str(role))

    def remove_role(
        self, actor: Actor, org_key: str, project_key: str, user_id: int
    ) -> dict[str, Any]:
        """The member's organization role applies in the project again (nothing changes if it
        did already). Refusals as `set_role`."""
        return self._change(actor, org_key, project_key, user_id, None)

    def _change(
        self, actor: Actor, org_key: str, project_key: str, user_id: int, role: str | None
    ) -> dict[str, Any]:
        with self.rt.write_db.begin() as conn:
            # The organization's lock: its memberships, and so these rows, stay as read.
            org = org_for(conn, actor, org_key, write=True, lock=True)
            project = project_for(conn, org, project_key)
            member = self._member(conn, org, user_id)
            if member["role"] == "owner":
                if org["role"] != "owner":
                    raise Forbidden(
                        "only owners can change what an owner may do", code="owner_only"
                    )
                raise Conflict(
                    "an owner is an owner in every project: change their organization role first",
                    code="owner_everywhere",
                )
            before = store.get_project_role(conn, project_id=project["id"], user_id=user_id)
            if role is None:
                store.delete_project_role(conn, project_id=project["id"], user_id=user_id)
            else:
                store.set_project_role(
                    conn, project_id=project["id"], user_id=user_id, role=role, at=self.rt.now()
                )
            if before != role:
                record_audit(
                    conn,
                    self.rt,
                    org_id=org["id"],
                    actor=actor,
                    action="member.project_role_changed",
                    resource=member["email"],
                    project=project_key,
                    before=_audited(member, before),
                    after=_audited(member, role),
                )
        return _entry(member, role)

    @staticmethod
    def _member(conn: Connection, org: dict[str, Any], user_id: int) -> dict[str, Any]:
        member = org_store.get_member(conn, org_id=org["id"], user_id=user_id)
        if member is None:
            raise NotFound("no such member")
        return member


def _audited(member: dict[str, Any], project_role: str | None) -> dict[str, Any]:
    return {
        "project_role": project_role,
        "role": effective_role(member["role"], project_role),
    }
