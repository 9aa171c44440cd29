"""Organizations, members, projects, environments and SDK keys, with their access rules.

Every lookup goes through the caller's memberships (access.py): another organization's object
raises NotFound exactly as a missing one does. Viewers read; admins and owners change things,
in a project by the caller's role there (`project_access`).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ..secrets import CLIENT_KEY_PREFIX, SERVER_KEY_PREFIX, digest, new_secret
from ..store import accounts as account_store
from ..store import flags as flag_store
from ..store import orgs as store
from ..store import project_roles as role_store
from .access import environment_for, org_for, project_access, project_for
from .environment_settings import apply_settings, check_settings, refuse_protected_deletion
from .errors import Conflict, Forbidden, Invalid, NotFound
from .live import refuse_live_environment, refuse_live_project
from .runtime import Actor, Runtime, check_key, check_name, record_audit

__all__ = [
    "CLIENT_KEY_PREFIX",
    "ROLES",
    "SERVER_KEY_PREFIX",
    "Orgs",
    "create_org_with_defaults",
    "environment_for",
    "org_for",
    "project_access",
    "project_for",
]

ROLES = ("owner", "admin", "viewer")
DEFAULT_ENVIRONMENTS: tuple[tuple[str, str], ...] = (
    ("production", "Production"),
    ("staging", "Staging"),
)
MAX_GRACE_SECONDS = 7 * 24 * 3600
_KEY_ATTEMPTS = 20  # a derived organization key and then random suffixes: 20 cannot all clash


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]
    return slug or "org"


def create_org_with_defaults(
    conn: Connection, rt: Runtime, owner: Actor, *, name: str, key: str | None = None
) -> dict[int, int]:
    """An organization owned by `owner` with project `default` (production, staging).

    Its environments get a client key and no server key: nobody would ever see one made here
    (a server key is shown only in the answer that makes it). The environment page offers to
    create it, and shows it that once."""
    now = rt.now()
    if key is None:
        # A key derived from the name; someone signing up at the same moment may take it
        # between our check and our insert, so an insert refused for it tries another.
        key = _slug(name)
        org_id = None
        for _ in range(_KEY_ATTEMPTS):
            if not store.org_key_taken(conn, key):
                org_id = store.create_org(conn, key=key, name=name, at=now)
                if org_id is not None:
                    break
            key = f"{_slug(name)[:35]}-{secrets.token_hex(3)}"
        if org_id is None:
            raise Conflict("no free organization key; try again", code="key_taken")
    else:
        org_id = store.create_org(conn, key=key, name=name, at=now)
        if org_id is None:
            raise Conflict("an organization with this key exists", code="key_taken")
    store.add_member(conn, org_id=org_id, user_id=owner.user_id, role="owner", at=now)
    record_audit(
        conn,
        rt,
        org_id=org_id,
        actor=owner,
        action="org.created",
        resource=key,
        after={"key": key, "name": name},
    )
    return create_project_rows(
        conn, rt, owner, org_id, key="default", name="Default", server_keys=False
    )[1]


def _reveal(environment: dict[str, Any], server_key: str | None) -> dict[str, Any]:
    """The environment as answered once, at creation: with its new server key in full."""
    for entry in environment["sdk_keys"]:
        if entry["kind"] == "server" and server_key and server_key.startswith(entry["prefix"]):
            entry["key"] = server_key
    return environment


def create_project_rows(
    conn: Connection,
    rt: Runtime,
    actor: Actor,
    org_id: int,
    *,
    key: str,
    name: str,
    environments: tuple[tuple[str, str], ...] = DEFAULT_ENVIRONMENTS,
    server_keys: bool = True,
) -> tuple[int, dict[int, int], dict[str, str]]:
    """The project's id, its environments' versions, and their server keys (by key; none
    with `server_keys=False`, for callers that could not show them to anyone)."""
    project_id = store.create_project(conn, org_id=org_id, key=key, name=name, at=rt.now())
    versions: dict[int, int] = {}
    made: dict[str, str] = {}
    for env_key, env_name in environments:
        env_id, server_key = create_environment_rows(
            conn, rt, project_id, key=env_key, name=env_name, server_key=server_keys
        )
        if server_key is not None:
            made[env_key] = server_key
        versions[env_id] = 1
    record_audit(
        conn,
        rt,
        org_id=org_id,
        actor=actor,
        action="project.created",
        resource=key,
        project=key,
        after={"key": key, "name": name, "environments": [e[0] for e in environments]},
    )
    return project_id, versions, made


def create_environment_rows(
    conn: Connection,
    rt: Runtime,
    project_id: int,
    *,
    key: str,
    name: str,
    server_key: bool = True,
) -> tuple[int, str | None]:
    """The new environment's id and its server key (shown once, by whoever created it), or
    None with `server_key=False`: the environment then has a client key only until someone
    creates its server key (`Orgs.create_server_key`)."""
    now = rt.now()
    env_id = store.create_environment(
        conn,
        project_id=project_id,
        key=key,
        name=name,
        at=now,
        confirm_changes=confirms_by_default(key, name),
    )
    secret = _new_sdk_key(conn, env_id, "server", now) if server_key else None
    _new_sdk_key(conn, env_id, "client", now)
    # Every flag of the project gets its off configuration here.
    for flag in flag_store.list_flags(conn, project_id=project_id, archived=None):
        flag_store.create_config(conn, initial_config(flag, env_id, now))
    return env_id, secret


def initial_config(flag: dict[str, Any], environment_id: int, now: int) -> dict[str, Any]:
    defaults = flag["defaults"]
    return {
        "flag_id": flag["id"],
        "environment_id": environment_id,
        "on": False,
        "off_variation": defaults["off_variation"],
        "prerequisites": [],
        "targets": [],
        "rules": [],
        "fallthrough": {"variation": defaults["on_variation"]},
        "client_side": bool(defaults.get("client_side", False)),
        "version": 1,
        "updated_at": now,
    }


def _new_sdk_key(conn: Connection, environment_id: int, kind: str, now: int) -> str:
    secret = new_secret(SERVER_KEY_PREFIX if kind == "server" else CLIENT_KEY_PREFIX, 24)
    store.create_sdk_key(
        conn,
        environment_id=environment_id,
        kind=kind,
        key_hash=digest(secret),
        prefix=secret[:14],
        client_key=secret if kind == "client" else None,
        at=now,
    )
    return secret


def _public_environment(env: dict[str, Any], keys: list[dict[str, Any]]) -> dict[str, Any]:
    def show(key: dict[str, Any]) -> dict[str, Any]:
        out = {
            "kind": key["kind"],
            "prefix": key["prefix"],
            "created_at": key["created_at"],
            "expires_at": key["expires_at"],
        }
        if key["kind"] == "client":
            out["key"] = key["client_key"]
        return out

    return {
        "key": env["key"],
        "name": env["name"],
        "version": env["version"],
        "created_at": env["created_at"],
        "protected": bool(env.get("protected", False)),
        "required_approvals": int(env.get("required_approvals") or 1),
        "confirm_changes": bool(env["confirm_changes"]),
        "sdk_keys": [show(k) for k in keys],
    }


def confirms_by_default(key: str, name: str) -> bool:
    """Whether a new environment asks to confirm changes: when its key or name is
    "production" (any case)."""
    return "production" in (key.strip().casefold(), name.strip().casefold())


class Orgs:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # --- organizations and members -----------------------------------------------------------

    def list_orgs(self, actor: Actor) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            rows = store.list_orgs_for_user(conn, actor.user_id)
        return [{"key": r["key"], "name": r["name"], "role": r["role"]} for r in rows]

    def get_org(self, actor: Actor, org_key: str, *, project: str | None = None) -> dict[str, Any]:
        """The organization with the caller's `role`. With `project` (pages of one project),
        `role` is the caller's effective role in that project and `org_role` theirs in the
        organization; NotFound for a project the organization lacks."""
        with self.rt.db.connect() as conn:
            if project is None:
                org = org_for(conn, actor, org_key)
                return {"key": org["key"], "name": org["name"], "role": org["role"]}
            org, found = project_access(conn, actor, org_key, project)
        return {
            "key": org["key"],
            "name": org["name"],
            "role": found["role"],
            "org_role": org["role"],
        }

    def create_org(self, actor: Actor, *, key: str, name: str) -> dict[str, Any]:
        check_key(key)
        name = check_name(name)
        try:
            with self.rt.write_db.begin() as conn:
                versions = create_org_with_defaults(conn, self.rt, actor, name=name, key=key)
        except IntegrityError:
            raise Conflict("an organization with this key exists", code="key_taken") from None
        self.rt.changed(versions)
        return {"key": key, "name": name, "role": "owner"}

    def rename_org(self, actor: Actor, org_key: str, name: str) -> dict[str, Any]:
        name = check_name(name)
        with self.rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key, write=True)
            store.rename(conn, "organizations", org["id"], name)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="org.renamed",
                resource=org_key,
                before={"name": org["name"]},
                after={"name": name},
            )
        return {"key": org_key, "name": name, "role": org["role"]}

    def list_members(self, actor: Actor, org_key: str) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            return [
                {"user_id": m["id"], "email": m["email"], "name": m["name"], "role": m["role"]}
                for m in store.list_members(conn, org["id"])
            ]

    def add_member(self, actor: Actor, org_key: str, *, email: str, role: str) -> dict[str, Any]:
        role = _role(role)
        with self.rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key, write=True, lock=True)
            _may_grant(org["role"], role)
            user = account_store.get_user_by_email(conn, str(email).strip().lower())
            if user is None:
                raise NotFound("no user with this email; invite them instead", code="no_such_user")
            if store.get_membership(conn, org_id=org["id"], user_id=user["id"]):
                raise Conflict("already a member", code="already_member")
            store.add_member(
                conn, org_id=org["id"], user_id=user["id"], role=role, at=self.rt.now()
            )
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="member.added",
                resource=user["email"],
                after={"role": role},
            )
        return {"user_id": user["id"], "email": user["email"], "name": user["name"], "role": role}

    def set_role(self, actor: Actor, org_key: str, user_id: int, role: str) -> dict[str, Any]:
        role = _role(role)
        with self.rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key, write=True, lock=True)
            member = self._member(conn, org, user_id)
            _may_grant(org["role"], role)
            _may_grant(org["role"], member["role"])
            if member["role"] == "owner" and role != "owner":
                self._keep_an_owner(conn, org)
            store.set_role(conn, org_id=org["id"], user_id=user_id, role=role)
            if role != member["role"]:
                # A new organization role starts from itself in every project: project roles
                # granted under the old one (an admin's own, say) would outlast a demotion.
                self._clear_project_roles(conn, actor, org, member, role)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="member.role_changed",
                resource=member["email"],
                before={"role": member["role"]},
                after={"role": role},
            )
        self.rt.access_changed(users=[user_id])
        return {**member, "role": role}

    def remove_member(self, actor: Actor, org_key: str, user_id: int) -> None:
        with self.rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key, write=True, lock=True)
            member = self._member(conn, org, user_id)
            _may_grant(org["role"], member["role"])
            if member["role"] == "owner":
                self._keep_an_owner(conn, org)
            store.remove_member(conn, org_id=org["id"], user_id=user_id)
            # Joining again later starts from the organization role alone.
            role_store.delete_roles_in_org(conn, org_id=org["id"], user_id=user_id)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="member.removed",
                resource=member["email"],
                before={"role": member["role"]},
            )
        self.rt.access_changed(users=[user_id])

    @staticmethod
    def _member(conn: Connection, org: dict[str, Any], user_id: int) -> dict[str, Any]:
        m = store.get_member(conn, org_id=org["id"], user_id=user_id)
        if m is None:
            raise NotFound("no such member")
        return {"user_id": m["id"], "email": m["email"], "name": m["name"], "role": m["role"]}

    def _clear_project_roles(
        self,
        conn: Connection,
        actor: Actor,
        org: dict[str, Any],
        member: dict[str, Any],
        role: str,
    ) -> None:
        """Forget the member's project roles in the organization, in the caller's transaction,
        each audited as `member.project_role_changed` (after: the new organization role)."""
        held = role_store.list_user_project_roles(conn, org_id=org["id"], user_id=member["user_id"])
        role_store.delete_roles_in_org(conn, org_id=org["id"], user_id=member["user_id"])
        for project_key, project_role in sorted(held.items()):
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="member.project_role_changed",
                resource=member["email"],
                project=project_key,
                before={"project_role": project_role, "role": project_role},
                after={"project_role": None, "role": role},
            )

    @staticmethod
    def _keep_an_owner(conn: Connection, org: dict[str, Any]) -> None:
        if store.count_owners(conn, org["id"]) <= 1:
            raise Conflict("an organization needs at least one owner", code="last_owner")

    # --- projects ----------------------------------------------------------------------------

    def list_projects(self, actor: Actor, org_key: str) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            return [self._project(conn, p) for p in store.list_projects(conn, org["id"])]

    def get_project(self, actor: Actor, org_key: str, project_key: str) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            return self._project(conn, project_for(conn, org, project_key))

    def _project(self, conn: Connection, project: dict[str, Any]) -> dict[str, Any]:
        now = self.rt.now()
        return {
            "key": project["key"],
            "name": project["name"],
            "created_at": project["created_at"],
            "environments": [
                _public_environment(e, store.list_sdk_keys(conn, e["id"], now=now))
                for e in store.list_environments(conn, project["id"])
            ],
        }

    def create_project(
        self,
        actor: Actor,
        org_key: str,
        *,
        key: str,
        name: str,
        environments: list[dict[str, str]] | None = None,
        server_keys: bool = True,
    ) -> dict[str, Any]:
        """The new project, with each environment's server key in full (the one time it is
        shown); `server_keys=False` for a caller that would show them to nobody (the
        dashboard's form): its environments then start without one, like sign-up's."""
        check_key(key)
        name = check_name(name)
        envs = DEFAULT_ENVIRONMENTS
        if environments is not None:
            envs = tuple(
                (
                    check_key(e["key"], f"environments[{i}].key"),
                    check_name(e.get("name") or e["key"], f"environments[{i}].name"),
                )
                for i, e in enumerate(environments)
            )
            if len({k for k, _ in envs}) != len(envs):
                raise Invalid("environment keys must be unique", field="environments")
        try:
            with self.rt.write_db.begin() as conn:
                org = org_for(conn, actor, org_key, write=True, lock=True)
                if store.get_project(conn, org_id=org["id"], key=key):
                    raise Conflict("a project with this key exists", code="key_taken")
                _, versions, made = create_project_rows(
                    conn,
                    self.rt,
                    actor,
                    org["id"],
                    key=key,
                    name=name,
                    environments=envs,
                    server_keys=server_keys,
                )
                result = self._project(conn, project_for(conn, org, key))
                for environment in result["environments"]:
                    _reveal(environment, made.get(environment["key"]))
        except IntegrityError:
            raise Conflict("a project with this key exists", code="key_taken") from None
        self.rt.changed(versions)
        return result

    def rename_project(
        self, actor: Actor, org_key: str, project_key: str, name: str
    ) -> dict[str, Any]:
        name = check_name(name)
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True)
            store.rename(conn, "projects", project["id"], name)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="project.renamed",
                resource=project_key,
                project=project_key,
                before={"name": project["name"]},
                after={"name": name},
            )
            return self._project(conn, {**project, "name": name})

    def delete_project(
        self, actor: Actor, org_key: str, project_key: str, *, force: bool = False
    ) -> list[int]:
        """Delete a project with its environments and flags; the ids of the environments gone.
        InUse (`project_in_use`) if any of its flags is on, unless `force`."""
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            envs = store.list_environments(conn, project["id"])
            refuse_protected_deletion(envs, "deleting the project")
            refuse_live_project(conn, project, [e["key"] for e in envs], force=force)
            gone = [e["id"] for e in envs]
            store.delete_project(conn, project["id"])
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="project.deleted",
                resource=project_key,
                project=project_key,
                before={"key": project_key, "name": project["name"]},
            )
        self.rt.changed({env_id: 0 for env_id in gone})
        return gone

    # --- environments and SDK keys -------------------------------------------------------------

    def get_environment(
        self, actor: Actor, org_key: str, project_key: str, env_key: str
    ) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            env = environment_for(conn, project_for(conn, org, project_key), env_key)
            return _public_environment(env, store.list_sdk_keys(conn, env["id"], now=self.rt.now()))

    def environment_ids(self, actor: Actor, org_key: str, project_key: str) -> dict[str, int]:
        """Environment keys to internal ids, for live updates (NotFound as any lookup)."""
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            return {e["key"]: e["id"] for e in store.list_environments(conn, project["id"])}

    def list_environments(
        self, actor: Actor, org_key: str, project_key: str
    ) -> list[dict[str, Any]]:
        return self.get_project(actor, org_key, project_key)["environments"]  # type: ignore[no-any-return]

    def create_environment(
        self, actor: Actor, org_key: str, project_key: str, *, key: str, name: str | None
    ) -> dict[str, Any]:
        check_key(key)
        name = check_name(name or key)
        try:
            with self.rt.write_db.begin() as conn:
                org, project = project_access(
                    conn, actor, org_key, project_key, write=True, lock=True
                )
                if store.get_environment(conn, project_id=project["id"], key=key):
                    raise Conflict("an environment with this key exists", code="key_taken")
                env_id, server_key = create_environment_rows(
                    conn, self.rt, project["id"], key=key, name=name
                )
                record_audit(
                    conn,
                    self.rt,
                    org_id=org["id"],
                    actor=actor,
                    action="environment.created",
                    resource=key,
                    project=project_key,
                    environment=key,
                    after={"key": key, "name": name},
                )
                env = environment_for(conn, project, key)
                result = _reveal(
                    _public_environment(env, store.list_sdk_keys(conn, env_id, now=self.rt.now())),
                    server_key,
                )
        except IntegrityError:
            raise Conflict("an environment with this key exists", code="key_taken") from None
        self.rt.changed({env_id: 1})
        return result

    def update_environment(
        self, actor: Actor, org_key: str, project_key: str, env_key: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change the environment's settings named in `changes` (each optional, those left
        out keep their values), as `environment_settings.SETTINGS` lists them: `name`,
        `confirm_changes` (bool: the dashboard asks to confirm each change here), `protected`
        and `required_approvals` (change requests). Each kind of change has its own audit
        action (a rename is `environment.renamed`; see services/environment_settings.py);
        nothing changed, no entry. Admins and owners of the project only. Invalid names the
        field."""
        checked = check_settings(changes)
        with self.rt.write_db.begin() as conn:
            # Locked: the gate reads protection under this lock (services/protection.py).
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            env = environment_for(conn, project, env_key)
            env = apply_settings(conn, self.rt, actor, org, project, env, checked)
            return _public_environment(env, store.list_sdk_keys(conn, env["id"], now=self.rt.now()))

    def delete_environment(
        self, actor: Actor, org_key: str, project_key: str, env_key: str, *, force: bool = False
    ) -> None:
        """Delete the environment; InUse (`environment_in_use`) if a flag is on in it, unless
        `force`."""
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            env = environment_for(conn, project, env_key)
            refuse_protected_deletion([env], "deleting it")
            refuse_live_environment(conn, project, env_key, force=force)
            store.delete_environment(conn, env["id"])
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="environment.deleted",
                resource=env_key,
                project=project_key,
                environment=env_key,
                before={"key": env_key, "name": env["name"]},
            )
        self.rt.changed({env["id"]: 0})

    def create_server_key(
        self, actor: Actor, org_key: str, project_key: str, env_key: str
    ) -> dict[str, Any]:
        """The environment's first server key, shown in full once (as `rotate_sdk_key`
        answers). For environments that have none (those made at sign-up): Conflict
        `has_server_key` when one works already, so that a second click (another tab, a
        resent form) never retires the key the first one showed."""
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            env = environment_for(conn, project, env_key)
            live = store.list_sdk_keys(conn, env["id"], now=now)
            if any(k["kind"] == "server" for k in live):
                raise Conflict(
                    "this environment has a server key: rotate it to see a new one",
                    code="has_server_key",
                )
            secret = _new_sdk_key(conn, env["id"], "server", now)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="sdk_key.created",
                resource=env_key,
                project=project_key,
                environment=env_key,
                after={"kind": "server", "prefix": secret[:14]},
            )
        self.rt.sdk_keys_changed(env["id"])
        return {"kind": "server", "key": secret, "prefix": secret[:14], "created_at": now}

    def rotate_sdk_key(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        env_key: str,
        *,
        kind: str,
        grace_seconds: int | None = None,
    ) -> dict[str, Any]:
        """A new key of `kind`, shown in full once; the old one works `grace_seconds` more."""
        if kind not in ("server", "client"):
            raise Invalid("must be 'server' or 'client'", field="kind")
        grace = self.rt.settings.sdk_key_grace_seconds if grace_seconds is None else grace_seconds
        if not isinstance(grace, int) or not 0 <= grace <= MAX_GRACE_SECONDS:
            raise Invalid(f"must be 0 to {MAX_GRACE_SECONDS} seconds", field="grace_seconds")
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            # Locked: of racing rotations each expires the key the previous one made.
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            env = environment_for(conn, project, env_key)
            store.expire_sdk_keys(conn, environment_id=env["id"], kind=kind, at=now + grace * 1000)
            secret = _new_sdk_key(conn, env["id"], kind, now)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="sdk_key.rotated",
                resource=env_key,
                project=project_key,
                environment=env_key,
                after={"kind": kind, "prefix": secret[:14], "grace_seconds": grace},
            )
        self.rt.sdk_keys_changed(env["id"])
        return {
            "kind": kind,
            "key": secret,
            "prefix": secret[:14],
            "created_at": now,
            "previous_key_expires_at": now + grace * 1000,
        }


def _role(role: Any) -> str:
    if role not in ROLES:
        raise Invalid("must be owner, admin or viewer", field="role")
    return str(role)


def _may_grant(my_role: str, role: str) -> None:
    if role == "owner" and my_role != "owner":
        raise Forbidden("only owners can grant, change or remove the owner role", code="owner_only")
