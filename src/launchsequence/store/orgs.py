"""Organizations, memberships, projects, environments and SDK keys.

Lookups take the enclosing object's id, so a key from another organization is simply not found:
isolation is a property of every query here, not a check callers must remember.

`lock=True` lookups lock the row that guards a rule (see store/atomic.py): the organization row
guards its memberships, the project row everything its environments serve.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, or_, select, update

from .atomic import insert_unless_taken, lock
from .tables import environments, memberships, organizations, projects, sdk_keys, users

__all__ = [
    "ENVIRONMENT_SETTINGS",
    "add_member",
    "bump_environment_versions",
    "count_owners",
    "create_environment",
    "create_org",
    "create_project",
    "create_sdk_key",
    "delete_environment",
    "delete_project",
    "environment_by_id",
    "expire_sdk_keys",
    "get_environment",
    "get_member",
    "get_membership",
    "get_org_for_user",
    "get_project",
    "list_environments",
    "list_members",
    "list_orgs_for_user",
    "list_projects",
    "list_sdk_keys",
    "lock_org",
    "org_key_taken",
    "remove_member",
    "rename",
    "sdk_key_by_hash",
    "set_onboarding_closed",
    "set_role",
    "update_environment",
]


def _one(conn: Connection, query: Any) -> dict[str, Any] | None:
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def org_key_taken(conn: Connection, key: str) -> bool:
    return _one(conn, select(organizations.c.id).where(organizations.c.key == key)) is not None


def create_org(conn: Connection, *, key: str, name: str, at: int) -> int | None:
    """The new organization's id, or None when its key is taken (the transaction goes on)."""
    query = insert(organizations).values(key=key, name=name, created_at=at)
    row = insert_unless_taken(conn, query.returning(organizations.c.id))
    return int(row.id) if row else None


def lock_org(conn: Connection, org_id: int) -> bool:
    """Lock the organization's row, the guard of its memberships; False if it is gone."""
    return lock(conn, organizations, organizations.c.id == org_id) is not None


def add_member(conn: Connection, *, org_id: int, user_id: int, role: str, at: int) -> None:
    conn.execute(
        insert(memberships).values(org_id=org_id, user_id=user_id, role=role, created_at=at)
    )


def get_org_for_user(
    conn: Connection, *, org_key: str, user_id: int, for_update: bool = False
) -> dict[str, Any] | None:
    """The organization with the caller's role, or None when missing or not theirs.

    `for_update` locks the organization's row first, so that the role read after it is current
    and stays so until the transaction ends (for membership changes).
    """
    if for_update and lock(conn, organizations, organizations.c.key == org_key) is None:
        return None
    query = (
        select(organizations, memberships.c.role)
        .join(memberships, memberships.c.org_id == organizations.c.id)
        .where(organizations.c.key == org_key, memberships.c.user_id == user_id)
    )
    return _one(conn, query)


def list_orgs_for_user(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    query = (
        select(organizations, memberships.c.role)
        .join(memberships, memberships.c.org_id == organizations.c.id)
        .where(memberships.c.user_id == user_id)
        .order_by(organizations.c.key)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def get_membership(conn: Connection, *, org_id: int, user_id: int) -> dict[str, Any] | None:
    query = select(memberships).where(
        memberships.c.org_id == org_id, memberships.c.user_id == user_id
    )
    return _one(conn, query)


def _members(org_id: int) -> Select[Any]:
    return (
        select(
            users.c.id, users.c.email, users.c.name, memberships.c.role, memberships.c.created_at
        )
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.org_id == org_id)
    )


def list_members(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    """The organization's members (id, email, name, role, created_at), by email."""
    query = _members(org_id).order_by(users.c.email)
    return [dict(r) for r in conn.execute(query).mappings()]


def get_member(conn: Connection, *, org_id: int, user_id: int) -> dict[str, Any] | None:
    """One member as `list_members` gives them, or None when the user is not a member."""
    return _one(conn, _members(org_id).where(users.c.id == user_id))


def set_role(conn: Connection, *, org_id: int, user_id: int, role: str) -> None:
    conn.execute(
        update(memberships)
        .where(memberships.c.org_id == org_id, memberships.c.user_id == user_id)
        .values(role=role)
    )


def remove_member(conn: Connection, *, org_id: int, user_id: int) -> None:
    conn.execute(
        delete(memberships).where(memberships.c.org_id == org_id, memberships.c.user_id == user_id)
    )


def count_owners(conn: Connection, org_id: int) -> int:
    query = select(func.count()).where(
        memberships.c.org_id == org_id, memberships.c.role == "owner"
    )
    return int(conn.execute(query).scalar_one())


def create_project(conn: Connection, *, org_id: int, key: str, name: str, at: int) -> int:
    query = insert(projects).values(org_id=org_id, key=key, name=name, created_at=at)
    return int(conn.execute(query.returning(projects.c.id)).scalar_one())


def get_project(
    conn: Connection, *, org_id: int, key: str, for_update: bool = False
) -> dict[str, Any] | None:
    """The project; `for_update` locks its row, the guard of everything it serves, until the
    transaction ends (and reads it as the last holder of that lock left it)."""
    if for_update:
        return lock(conn, projects, projects.c.org_id == org_id, projects.c.key == key)
    return _one(conn, select(projects).where(projects.c.org_id == org_id, projects.c.key == key))


def list_projects(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    query = select(projects).where(projects.c.org_id == org_id).order_by(projects.c.key)
    return [dict(r) for r in conn.execute(query).mappings()]


def rename(conn: Connection, table: str, row_id: int, name: str) -> None:
    target = {"projects": projects, "environments": environments, "organizations": organizations}
    t = target[table]
    conn.execute(update(t).where(t.c.id == row_id).values(name=name))


def delete_project(conn: Connection, project_id: int) -> None:
    conn.execute(delete(projects).where(projects.c.id == project_id))


def create_environment(
    conn: Connection,
    *,
    project_id: int,
    key: str,
    name: str,
    at: int,
    confirm_changes: bool = False,
) -> int:
    query = insert(environments).values(
        project_id=project_id,
        key=key,
        name=name,
        version=1,
        created_at=at,
        confirm_changes=confirm_changes,
    )
    return int(conn.execute(query.returning(environments.c.id)).scalar_one())


def get_environment(conn: Connection, *, project_id: int, key: str) -> dict[str, Any] | None:
    query = select(environments).where(
        environments.c.project_id == project_id, environments.c.key == key
    )
    return _one(conn, query)


def environment_by_id(conn: Connection, environment_id: int) -> dict[str, Any] | None:
    return _one(conn, select(environments).where(environments.c.id == environment_id))


def list_environments(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    query = (
        select(environments)
        .where(environments.c.project_id == project_id)
        .order_by(environments.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


#: The environment columns `update_environment` may set.
ENVIRONMENT_SETTINGS = frozenset({"name", "confirm_changes", "protected", "required_approvals"})


def update_environment(conn: Connection, environment_id: int, values: dict[str, Any]) -> None:
    """Set the given columns (names from ENVIRONMENT_SETTINGS) of one environment."""
    unknown = set(values) - ENVIRONMENT_SETTINGS
    if unknown:
        raise ValueError(f"not an environment setting: {sorted(unknown)}")
    if values:
        conn.execute(
            update(environments).where(environments.c.id == environment_id).values(**values)
        )


def set_onboarding_closed(conn: Connection, project_id: int, at: int | None) -> None:
    """Record when the project's first-steps checklist was dismissed or found complete
    (None: shown again)."""
    conn.execute(
        update(projects).where(projects.c.id == project_id).values(onboarding_closed_at=at)
    )


def delete_environment(conn: Connection, environment_id: int) -> None:
    conn.execute(delete(environments).where(environments.c.id == environment_id))


def bump_environment_versions(conn: Connection, environment_ids: list[int]) -> dict[int, int]:
    """Add one to each environment's version; the new versions by environment id."""
    if not environment_ids:
        return {}
    conn.execute(
        update(environments)
        .where(environments.c.id.in_(environment_ids))
        .values(version=environments.c.version + 1)
    )
    query = select(environments.c.id, environments.c.version).where(
        environments.c.id.in_(environment_ids)
    )
    return {int(r.id): int(r.version) for r in conn.execute(query)}


def create_sdk_key(
    conn: Connection,
    *,
    environment_id: int,
    kind: str,
    key_hash: str,
    prefix: str,
    client_key: str | None,
    at: int,
) -> None:
    conn.execute(
        insert(sdk_keys).values(
            environment_id=environment_id,
            kind=kind,
            key_hash=key_hash,
            prefix=prefix,
            client_key=client_key,
            created_at=at,
        )
    )


def list_sdk_keys(conn: Connection, environment_id: int, *, now: int) -> list[dict[str, Any]]:
    """Keys that still work, newest first within each kind."""
    query = (
        select(sdk_keys)
        .where(
            sdk_keys.c.environment_id == environment_id,
            or_(sdk_keys.c.expires_at.is_(None), sdk_keys.c.expires_at > now),
        )
        .order_by(sdk_keys.c.kind, sdk_keys.c.id.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def expire_sdk_keys(conn: Connection, *, environment_id: int, kind: str, at: int) -> None:
    """Set the expiry of the kind's current key(s); keys already expiring keep the earlier time."""
    conn.execute(
        update(sdk_keys)
        .where(
            sdk_keys.c.environment_id == environment_id,
            sdk_keys.c.kind == kind,
            or_(sdk_keys.c.expires_at.is_(None), sdk_keys.c.expires_at > at),
        )
        .values(expires_at=at)
    )


def sdk_key_by_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    """The key with its environment, project and organization ids, whether expired or not."""
    query = (
        select(
            sdk_keys,
            environments.c.key.label("environment_key"),
            environments.c.project_id,
            projects.c.key.label("project_key"),
            projects.c.org_id,
        )
        .join(environments, environments.c.id == sdk_keys.c.environment_id)
        .join(projects, projects.c.id == environments.c.project_id)
        .where(sdk_keys.c.key_hash == key_hash)
    )
    return _one(conn, query)
