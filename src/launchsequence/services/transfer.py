"""Export and import of a project's flags and segments as one versioned JSON document.

The document (`format` "launchsequence-project", `version` 1) holds the project's key and name,
its environments, every flag (archived ones too) with its configuration in each environment,
and the segments of each environment. It holds no secrets (no SDK keys) and no versions. It
does hold each flag's `salt`, so that after a move a percentage rollout keeps every context in
the variation it had. Each flag's lifecycle fields (`owner`, `kind`, `removal_date`) are
optional in a document, so those exported before they existed still import (with the defaults:
no owner, temporary, no date); an owner who is not a member of the importing organization
imports as no owner.

An import is one transaction: every flag and segment of the document is checked by the same
rules as the API (and the engine's strict compiler) before the commit, and the first fault
names the flag or segment, the environment and the field, with nothing written.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import launchsequence_engine as engine
from pydantic import BaseModel, ValidationError

from ..store import flags as store
from ..store import orgs as org_store
from ..store.db import is_sqlite
from ..store.snapshot import build_snapshot, flag_document, segment_document
from .errors import Invalid
from .flag_lifecycle_fields import LIFECYCLE_FIELDS, lifecycle_fields
from .flags import MAX_DESCRIPTION, check_text, flag_fields, with_rule_ids
from .orgs import (
    create_environment_rows,
    create_project_rows,
    initial_config,
    org_for,
    project_access,
    project_for,
)
from .protection import refuse_protected, refuse_protected_live, refuse_protected_values
from .request_outcomes import void_naming
from .runtime import Actor, Runtime, check_key, check_name, record_audit

# The API's request models are the shape rules of a configuration and of a segment: the same
# ones apply to the document, whether it comes through the API or the `launchseq` command.
from .shapes import ConfigPut, SegmentIn
from .values import check_document

__all__ = ["FORMAT", "VERSION", "Transfer"]

FORMAT = "launchsequence-project"
VERSION = 1
MAX_ENVIRONMENTS = 50
MAX_FLAGS = 10_000
MAX_SEGMENTS = 10_000
_SALT = re.compile(r"[!-~]{1,32}")  # printable ASCII, no spaces; the column holds 32

_DOCUMENT_FIELDS = {"format", "version", "project", "environments", "flags", "segments"}
_FLAG_FIELDS = {
    "key",
    "name",
    "description",
    "tags",
    "type",
    "variations",
    "salt",
    "defaults",
    "metadata",
    "archived",
    "environments",
    # Lifecycle (optional: documents written before them import with the defaults).
    "owner",
    "kind",
    "removal_date",
}
_FLAG_CHANGES = (
    "name", "description", "tags", "variations", "salt", "defaults", "metadata", "archived",
)  # fmt: skip


# --- reading the document ---------------------------------------------------------------------


def _object(value: Any, field: str, allowed: set[str], required: tuple[str, ...] = ()) -> Any:
    if not isinstance(value, dict):
        raise Invalid("must be an object", field=field or None)
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise Invalid("is not a known field", field=_join(field, str(unknown[0])))
    for name in required:
        if name not in value:
            raise Invalid("is required", field=_join(field, name))
    return value


def _list(value: Any, field: str, limit: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise Invalid(f"must be a list of at most {limit} items", field=field)
    return value


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return f"{prefix}{name}" if name.startswith("[") else f"{prefix}.{name}"


@contextmanager
def _within(what: str, field: str) -> Iterator[None]:
    """Re-raise an Invalid from inside one object of the document, located in it."""
    try:
        yield
    except Invalid as exc:
        raise Invalid(
            f"{what}: {exc.message}", field=_join(field, exc.field or ""), code=exc.code
        ) from None


def _model(model: type[BaseModel], raw: Any) -> dict[str, Any]:
    """`raw` checked by one of the API's request models, as the API would store it."""
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ""
        for part in first.get("loc", ()):
            field = _join(field, f"[{part}]" if isinstance(part, int) else str(part))
        message = first.get("msg", "invalid value")
        if first.get("type") == "extra_forbidden":
            message = "is not a known field"
        raise Invalid(str(message), field=field or None) from None
    return parsed.model_dump(exclude_unset=True, exclude_none=True)


def _config(raw: Any, client_side: bool) -> dict[str, Any]:
    """One environment's configuration of a flag, whole (a replacement, as PUT takes it)."""
    data = _model(ConfigPut, raw)
    config = {"off_variation": None, "prerequisites": [], "targets": [], "rules": [],
              "fallthrough": None, "client_side": client_side, **data}  # fmt: skip
    config["rules"] = with_rule_ids(config["rules"])
    check_document({f: config[f] for f in ("targets", "rules", "fallthrough")})
    return {field: config[field] for field in store.CONFIG_FIELDS}


def _segment(raw: Any) -> dict[str, Any]:
    _object(raw, "", {"key", *SegmentIn.model_fields}, ("key",))
    key = check_key(raw["key"])
    data = _model(SegmentIn, {k: v for k, v in raw.items() if k != "key"})
    check_document({k: data[k] for k in ("included", "excluded", "rules") if k in data})
    return {
        "key": key,
        "name": check_text(data.get("name") or key, "name", limit=200, required=True),
        "description": check_text(
            data.get("description", ""), "description", limit=MAX_DESCRIPTION, required=False
        ),
        "included": data.get("included", []),
        "excluded": data.get("excluded", []),
        "rules": with_rule_ids(data.get("rules", [])),
    }


def _flag(raw: Any, env_keys: list[str]) -> dict[str, Any]:
    _object(raw, "", _FLAG_FIELDS, ("key",))
    defaults = raw.get("defaults") or {}
    _object(defaults, "defaults", {"on_variation", "off_variation", "client_side"})
    client_side = defaults.get("client_side", False)
    fields = flag_fields(
        {
            k: v
            for k, v in raw.items()
            if k not in ("salt", "archived", "environments", *LIFECYCLE_FIELDS)
        },
        client_side=client_side,
    )
    salt = raw.get("salt")
    if salt is not None and (not isinstance(salt, str) or _SALT.fullmatch(salt) is None):
        raise Invalid("must be 1 to 32 printable characters, no spaces", field="salt")
    archived = raw.get("archived", False)
    if not isinstance(archived, bool):
        raise Invalid("must be true or false", field="archived")
    configs_in = raw.get("environments", {})
    if not isinstance(configs_in, dict):
        raise Invalid(
            "must be an object of configurations by environment key", field="environments"
        )
    configs: dict[str, dict[str, Any]] = {}
    for env_key, config in configs_in.items():
        if env_key not in env_keys:
            raise Invalid("is not an environment of the document", field=f"environments.{env_key}")
        with _within(f"environment {env_key!r}", f"environments.{env_key}"):
            configs[env_key] = _config(config, client_side)
    lifecycle = {k: raw[k] for k in LIFECYCLE_FIELDS if k in raw}
    return {
        **fields,
        "salt": salt,
        "archived": archived,
        "environments": configs,
        "lifecycle": lifecycle,
    }


def parse_document(document: Any, project_key: str | None = None) -> dict[str, Any]:
    """The document checked and normalized; Invalid names the first fault."""
    _object(document, "", _DOCUMENT_FIELDS)
    if document.get("format") != FORMAT:
        raise Invalid(f"must be {FORMAT!r}: this is not a Launch Sequence export", field="format")
    version = document.get("version")
    if type(version) is not int or version != VERSION:
        raise Invalid(
            f"version {version!r:.20} is not {VERSION}, the one this server reads",
            field="version",
        )
    _object(document, "", _DOCUMENT_FIELDS, ("project",))
    project = _object(document["project"], "project", {"key", "name"}, ("key",))
    key = check_key(project_key if project_key is not None else project["key"], "project.key")
    name = check_name(project.get("name") or key, "project.name")

    environments: list[tuple[str, str]] = []
    for i, env in enumerate(
        _list(document.get("environments", []), "environments", MAX_ENVIRONMENTS)
    ):
        _object(env, f"environments[{i}]", {"key", "name"}, ("key",))
        env_key = check_key(env["key"], f"environments[{i}].key")
        if any(env_key == k for k, _ in environments):
            raise Invalid("is already in the document", field=f"environments[{i}].key")
        environments.append(
            (env_key, check_name(env.get("name") or env_key, f"environments[{i}].name"))
        )
    env_keys = [k for k, _ in environments]

    segments: dict[str, list[dict[str, Any]]] = {}
    segments_in = document.get("segments", {})
    if not isinstance(segments_in, dict):
        raise Invalid("must be an object of segment lists by environment key", field="segments")
    for env_key, items in segments_in.items():
        if env_key not in env_keys:
            raise Invalid("is not an environment of the document", field=f"segments.{env_key}")
        out: list[dict[str, Any]] = []
        for i, raw in enumerate(_list(items, f"segments.{env_key}", MAX_SEGMENTS)):
            where = f"segments.{env_key}[{i}]"
            label = raw.get("key") if isinstance(raw, dict) else None
            with _within(f"segment {label!r} in environment {env_key!r}", where):
                segment = _segment(raw)
                if any(s["key"] == segment["key"] for s in out):
                    raise Invalid("is already in the document", field="key")
            out.append(segment)
        segments[env_key] = out

    flags: list[dict[str, Any]] = []
    for i, raw in enumerate(_list(document.get("flags", []), "flags", MAX_FLAGS)):
        label = raw.get("key") if isinstance(raw, dict) else None
        with _within(f"flag {label!r}", f"flags[{i}]"):
            flag = _flag(raw, env_keys)
            if any(f["key"] == flag["key"] for f in flags):
                raise Invalid("is already in the document", field="key")
        flags.append(flag)
    return {
        "project": {"key": key, "name": name},
        "environments": environments,
        "flags": flags,
        "segments": segments,
    }


# --- the service ------------------------------------------------------------------------------


def _compile_error(what: str, field: str, exc: engine.SnapshotError) -> Invalid:
    where = what
    if exc.segment is not None and exc.flag is not None:
        where = f"{what}, through segment {exc.segment!r}"
    return Invalid(f"{where}: {exc.problem}", field=_join(field, exc.path))


class Transfer:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def export_project(self, actor: Actor, org_key: str, project_key: str) -> dict[str, Any]:
        """The project as a document `import_project` reads (any member may export)."""
        db = self.rt.db
        if not is_sqlite(db):
            # One consistent view of the whole project, as one snapshot is.
            db = db.execution_options(isolation_level="REPEATABLE READ")
        with db.connect() as conn, conn.begin():
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            envs = org_store.list_environments(conn, project["id"])
            flags = store.list_flags(conn, project_id=project["id"], archived=None)
            configs: dict[int, dict[str, Any]] = {}
            for config in store.list_configs_for_project(conn, project["id"]):
                configs.setdefault(config["flag_id"], {})[config["environment_key"]] = {
                    field: config[field] for field in store.CONFIG_FIELDS
                }
            segments = {e["key"]: store.list_segments(conn, e["id"]) for e in envs}
        return {
            "format": FORMAT,
            "version": VERSION,
            "project": {"key": project["key"], "name": project["name"]},
            "environments": [{"key": e["key"], "name": e["name"]} for e in envs],
            "flags": [
                {
                    "key": f["key"],
                    "name": f["name"],
                    "description": f["description"],
                    "tags": f["tags"],
                    "type": f["type"],
                    "variations": f["variations"],
                    "salt": f["salt"],
                    "defaults": {
                        "on_variation": f["defaults"]["on_variation"],
                        "off_variation": f["defaults"]["off_variation"],
                        "client_side": bool(f["defaults"].get("client_side", False)),
                    },
                    "metadata": f.get("metadata") or {},
                    "archived": f["archived"],
                    "owner": f["owner"],
                    "kind": f["kind"],
                    "removal_date": f["removal_date"],
                    "environments": configs.get(f["id"], {}),
                }
                for f in flags
            ],
            "segments": {
                env_key: [
                    {
                        k: s[k]
                        for k in ("key", "name", "description", "included", "excluded", "rules")
                    }
                    for s in items
                ]
                for env_key, items in segments.items()
                if items
            },
        }

    def import_project(
        self, actor: Actor, org_key: str, document: Any, project_key: str | None = None
    ) -> dict[str, Any]:
        """Create the project and its missing environments if needed, then create or replace
        every segment and flag of the document (admins and owners), all in one transaction.

        Flags, segments and environments of the project that the document does not mention
        stay as they are. A summary of what was done is returned.
        """
        plan = parse_document(document, project_key)
        rt = self.rt
        key = plan["project"]["key"]
        summary: dict[str, Any] = {
            "project": key,
            "project_created": False,
            "environments_created": [],
            "flags": {"created": 0, "updated": 0, "unchanged": 0},
            "segments": {"created": 0, "updated": 0, "unchanged": 0},
        }
        with rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key)
            project: dict[str, Any] | None = None
            if org_store.get_project(conn, org_id=org["id"], key=key) is not None:
                # Into a project: the caller's role in it decides (`project_access`).
                org, project = project_access(conn, actor, org_key, key, write=True, lock=True)
            else:
                # Creating the project: the organization role decides, and the creation is
                # serialized with others in the organization.
                org = org_for(conn, actor, org_key, write=True, lock=True)
                project = org_store.get_project(conn, org_id=org["id"], key=key, for_update=True)
            if project is None:
                create_project_rows(
                    conn,
                    rt,
                    actor,
                    org["id"],
                    key=key,
                    name=plan["project"]["name"],
                    environments=tuple(plan["environments"]),
                    server_keys=False,  # an import shows no key: the page offers to create it
                )
                project = project_for(conn, org, key)
                summary["project_created"] = True
                summary["environments_created"] = [k for k, _ in plan["environments"]]
            have = {e["key"] for e in org_store.list_environments(conn, project["id"])}
            for env_key, env_name in plan["environments"]:
                if env_key in have:
                    continue
                create_environment_rows(
                    conn, rt, project["id"], key=env_key, name=env_name, server_key=False
                )
                record_audit(
                    conn,
                    rt,
                    org_id=org["id"],
                    actor=actor,
                    action="environment.created",
                    resource=env_key,
                    project=key,
                    environment=env_key,
                    after={"key": env_key, "name": env_name},
                )
                summary["environments_created"].append(env_key)
            envs = org_store.list_environments(conn, project["id"])
            created = summary["environments_created"]
            touched = {e["id"] for e in envs if e["key"] in created}

            env_by_key = {e["key"]: e for e in envs}
            for env_key, items in plan["segments"].items():
                if self._import_segments(
                    conn, actor, org, key, env_by_key[env_key], items, summary
                ):
                    touched.add(env_by_key[env_key]["id"])
            segments = {
                e["id"]: {s["key"]: segment_document(s) for s in store.list_segments(conn, e["id"])}
                for e in envs
            }
            for i, flag in enumerate(plan["flags"]):
                touched |= self._import_flag(
                    conn, actor, org, project, envs, segments, i, flag, summary
                )

            # Whatever the document did not mention must still compile with what it changed.
            for env in envs:
                snapshot = build_snapshot(conn, env["id"])
                try:
                    engine.compile(snapshot)
                except engine.SnapshotError as exc:
                    raise Invalid(f"environment {env['key']!r} would break: {exc}") from None
            versions = org_store.bump_environment_versions(conn, sorted(touched))
        rt.changed(versions)
        return summary

    def _import_segments(
        self,
        conn: Any,
        actor: Actor,
        org: dict[str, Any],
        project_key: str,
        env: dict[str, Any],
        items: list[dict[str, Any]],
        summary: dict[str, Any],
    ) -> bool:
        """Create or replace the environment's segments; whether anything changed."""
        existing = {s["key"]: s for s in store.list_segments(conn, env["id"])}
        final = {k: segment_document(s) for k, s in existing.items()}
        for s in items:
            final[s["key"]] = {**{k: s[k] for k in ("key", "included", "excluded", "rules")}}
        try:
            engine.compile({"flags": {}, "segments": final})
        except engine.SnapshotError as exc:
            index = next((i for i, s in enumerate(items) if s["key"] == exc.segment), None)
            field = f"segments.{env['key']}" + (f"[{index}]" if index is not None else "")
            what = f"segment {exc.segment!r} in environment {env['key']!r}"
            raise _compile_error(what, field, exc) from None
        changed = False
        now = self.rt.now()
        for s in items:
            values = {k: s[k] for k in ("name", "description", "included", "excluded", "rules")}
            before = existing.get(s["key"])
            if before is None or any(before[k] != v for k, v in values.items()):
                refuse_protected(
                    conn, env["id"], f"importing segment {s['key']}", requestable=False
                )
            if before is None:
                store.create_segment(
                    conn,
                    {
                        **values,
                        "key": s["key"],
                        "environment_id": env["id"],
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                summary["segments"]["created"] += 1
            elif any(before[k] != v for k, v in values.items()):
                store.update_segment(conn, before["id"], {**values, "updated_at": now})
                summary["segments"]["updated"] += 1
            else:
                summary["segments"]["unchanged"] += 1
                continue
            changed = True
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="segment.imported",
                resource=s["key"],
                project=project_key,
                environment=env["key"],
                before=(
                    {k: before[k] for k in ("name", "description", "included", "excluded", "rules")}
                    if before
                    else None
                ),
                after=values,
            )
        return changed

    @staticmethod
    def _lifecycle(
        conn: Any, org: dict[str, Any], raw: dict[str, Any], where: str, *, creating: bool
    ) -> dict[str, Any]:
        """The document's lifecycle fields, checked. An owner who is not a member of this
        organization (the document came from elsewhere) imports as no owner."""
        if raw.get("owner") and isinstance(raw["owner"], str):
            members = {m["email"].casefold() for m in org_store.list_members(conn, org["id"])}
            if raw["owner"].strip().casefold() not in members:
                raw = {**raw, "owner": None}
        try:
            return lifecycle_fields(conn, org["id"], raw, creating=creating)
        except Invalid as exc:
            raise Invalid(exc.message, field=f"{where}.{exc.field}") from None

    def _import_flag(
        self,
        conn: Any,
        actor: Actor,
        org: dict[str, Any],
        project: dict[str, Any],
        envs: list[dict[str, Any]],
        segments: dict[int, dict[str, Any]],
        index: int,
        entry: dict[str, Any],
        summary: dict[str, Any],
    ) -> set[int]:
        """Create or update one flag and replace its configurations; the environments changed."""
        key = entry["key"]
        where = f"flags[{index}]"
        project_key = project["key"]
        existing = store.get_flag(conn, project_id=project["id"], key=key)
        if existing is not None and existing["type"] != entry["type"]:
            raise Invalid(
                f"flag {key!r}: the project has it as a {existing['type']} flag, the document "
                f"as a {entry['type']} flag",
                field=f"{where}.type",
            )
        now = self.rt.now()
        values = {k: entry[k] for k in _FLAG_CHANGES}
        values.update(self._lifecycle(conn, org, entry.get("lifecycle") or {}, where,
                                      creating=existing is None))  # fmt: skip
        if values["salt"] is None:
            values["salt"] = existing["salt"] if existing else secrets.token_hex(8)
        touched: set[int] = set()
        updated = False
        if existing is None:
            row = {
                **values,
                "key": key,
                "type": entry["type"],
                "created_at": now,
                "updated_at": now,
            }
            flag = {**row, "id": store.create_flag(conn, {**row, "project_id": project["id"]})}
            touched.update(e["id"] for e in envs)
        else:
            changes = {k: v for k, v in values.items() if existing[k] != v}
            flag = {**existing, **changes}
            if changes:
                updated = True
                if changes.keys() & {"variations", "archived", "salt"}:
                    refuse_protected_live(conn, project, existing, "importing changes to")
                if "variations" in changes:
                    old, new = existing["variations"], changes["variations"]
                    revalued = [
                        i
                        for i in range(len(old))
                        if i >= len(new) or old[i]["value"] != new[i]["value"]
                    ]
                    if revalued:
                        refuse_protected_values(conn, project, existing, revalued)
                        void_naming(conn, self.rt, org, project, actor, existing, revalued)
                store.update_flag(conn, existing["id"], {**changes, "updated_at": now})
                if changes.keys() & {"variations", "archived", "salt", "metadata"}:
                    touched.update(e["id"] for e in envs)
        for env in envs:
            current = store.get_config(conn, flag_id=flag["id"], environment_id=env["id"])
            config = entry["environments"].get(env["key"])
            mentioned = config is not None
            if config is None:
                base = current or initial_config(flag, env["id"], now)
                config = {field: base[field] for field in store.CONFIG_FIELDS}
            document = flag_document(flag, {**config, "version": 0})
            try:
                engine.compile({"flags": {key: document}, "segments": segments[env["id"]]})
            except engine.SnapshotError as exc:
                what = f"flag {key!r} in environment {env['key']!r}"
                if mentioned:
                    raise _compile_error(what, f"{where}.environments.{env['key']}", exc) from None
                raise Invalid(
                    f"{what}: the configuration would break: {exc.problem}",
                    field=f"{where}.variations",
                ) from None
            if current is None:
                if config["on"]:
                    refuse_protected(conn, env["id"], f"importing {key}, on")
                store.create_config(
                    conn,
                    {
                        **config,
                        "flag_id": flag["id"],
                        "environment_id": env["id"],
                        "version": 1,
                        "updated_at": now,
                    },
                )
                touched.add(env["id"])
            else:
                changes = {f: config[f] for f in store.CONFIG_FIELDS if config[f] != current[f]}
                if changes:
                    refuse_protected(conn, env["id"], f"importing changes to {key}")
                    store.update_config(
                        conn,
                        flag_id=flag["id"],
                        environment_id=env["id"],
                        values=changes,
                        expected_version=None,
                        at=now,
                    )
                    touched.add(env["id"])
        if existing is None:
            summary["flags"]["created"] += 1
        elif updated or touched:
            summary["flags"]["updated"] += 1
        else:
            summary["flags"]["unchanged"] += 1
            return touched
        record_audit(
            conn,
            self.rt,
            org_id=org["id"],
            actor=actor,
            action="flag.imported",
            resource=key,
            project=project_key,
            flag=key,
            before=_audit_flag(existing) if existing else None,
            after={k: entry[k] for k in entry if k not in ("salt", "lifecycle")}
            | {k: values[k] for k in LIFECYCLE_FIELDS if k in values},
        )
        return touched


def _audit_flag(flag: dict[str, Any]) -> dict[str, Any]:
    return {k: flag[k] for k in ("key", "name", "description", "tags", "type", "variations")} | {
        "defaults": flag["defaults"],
        "archived": flag["archived"],
        "owner": flag.get("owner"),
        "kind": flag.get("kind") or "temporary",
        "removal_date": flag.get("removal_date"),
    }
