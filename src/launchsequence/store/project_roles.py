"""Project roles: a member's role in one project where it differs from their organization role.

Lookups take the project's id (found through the caller's organization), so another
organization's rows are never reached. The services decide what a role allows; this module
only keeps the rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from .tables import project_roles, projects

__all__ = [
    "delete_project_role",
    "delete_roles_in_org",
    "get_project_role",
    "list_project_roles",
    "list_user_project_roles",
    "set_project_role",
]


def get_project_role(conn: Connection, *, project_id: int, user_id: int) -> str | None:
    """The member's role in the project where it differs from theirs in the organization."""
    query = select(project_roles.c.role).where(
        project_roles.c.project_id == project_id, project_roles.c.user_id == user_id
    )
    role = conn.execute(query).scalar()
    return None if role is None else str(role)


def list_project_roles(conn: Connection, project_id: int) -> dict[int, dict[str, Any]]:
    """The project's roles by user id: {"role", "created_at"}."""
    query = select(project_roles).where(project_roles.c.project_id == project_id)
    return {
        int(r["user_id"]): {"role": r["role"], "created_at": r["created_at"]}
        for r in conn.execute(query).mappings()
    }


def list_user_project_roles(conn: Connection, *, org_id: int, user_id: int) -> dict[str, str]:
    """One member's project roles in an organization, by project key."""
    query = (
        select(projects.c.key, project_roles.c.role)
        .join(projects, projects.c.id == project_roles.c.project_id)
        .where(projects.c.org_id == org_id, project_roles.c.user_id == user_id)
    )
    return {str(r.key): str(r.role) for r in conn.execute(query)}


def set_project_role(
    conn: Connection, *, project_id: int, user_id: int, role: str, at: int
) -> None:
    """Create or change the member's role in the project (callers hold the organization's
    lock, so two writers never both insert)."""
    done = conn.execute(
        update(project_roles)
        .where(project_roles.c.project_id == project_id, project_roles.c.user_id == user_id)
        .values(role=role)
    )
    if not done.rowcount:
        conn.execute(
            insert(project_roles).values(
                project_id=project_id, user_id=user_id, role=role, created_at=at
            )
        )


def delete_project_role(conn: Connection, *, project_id: int, user_id: int) -> bool:
    """Forget the member's role in the project; False if they had none."""
    done = conn.execute(
        delete(project_roles).where(
            project_roles.c.project_id == project_id, project_roles.c.user_id == user_id
        )
    )
    return bool(done.rowcount)


def delete_roles_in_org(conn: Connection, *, org_id: int, user_id: int) -> int:
    """Forget every project role of the member in the organization (they left it, or became
    an owner); how many there were."""
    ids = select(projects.c.id).where(projects.c.org_id == org_id).scalar_subquery()
    done = conn.execute(
        delete(project_roles).where(
            project_roles.c.user_id == user_id, project_roles.c.project_id.in_(ids)
        )
    )
    return int(done.rowcount or 0)
