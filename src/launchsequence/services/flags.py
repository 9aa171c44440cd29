"""Flags, their configuration per environment, and segments.

Every configuration is checked by the engine's strict compiler before anything is stored, so the
database never holds a flag an SDK could not evaluate. Every change that alters what an
environment serves adds one to that environment's version in the same transaction, and writes
an audit entry with the before and after.
"""

from __future__ import annotations

import copy
import math
import re
import secrets
from typing import Any

import launchsequence_engine as engine
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ..store import flags as store
from ..store import orgs as org_store
from ..store.snapshot import (
    build_snapshot,
    flag_document,
    segment_document,
    snapshot_connection,
)
from .access import environment_for, flag_for, project_access
from .errors import Conflict, Invalid, NotFound, PreconditionFailed
from .flag_lifecycle_fields import lifecycle_fields
from .lifecycle_report import recent_applications
from .live import refuse_live_flag
from .orgs import initial_config
from .prerequisites import check_metadata, check_prerequisites, dependents
from .protection import Passage, guard, refuse_protected_live, refuse_protected_values
from .request_outcomes import void_naming
from .runtime import Actor, Runtime, check_key, record_audit
from .values import check_document, check_value
from .variations import refuse_pending_references, variation_uses, without_variation

__all__ = ["FLAG_TYPES", "Flags", "check_tag", "flag_fields", "public_config", "variation_changes"]

FLAG_TYPES = ("boolean", "string", "number", "json")
_TAG = re.compile(r"[A-Za-z0-9._:/-]{1,64}")
MAX_TAGS = 50
MAX_DESCRIPTION = 10_000
MAX_STRING_VALUE = 10_000
MAX_VARIATION_NAME = 100


def check_text(value: Any, field: str, *, limit: int, required: bool) -> str:
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise Invalid(f"must be {'1' if required else '0'} to {limit} characters", field=field)
    return value.strip() if required else value


def check_tag(value: Any, field: str) -> str:
    """One tag, as a flag's tags hold them: Invalid (naming `field`) otherwise."""
    if not isinstance(value, str) or _TAG.fullmatch(value) is None:
        raise Invalid("must be 1 to 64 letters, digits or . _ : / -", field=field)
    return value


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise Invalid(f"must be a list of at most {MAX_TAGS} tags", field="tags")
    out: list[str] = []
    for i, tag in enumerate(value):
        check_tag(tag, f"tags[{i}]")
        if tag not in out:
            out.append(tag)
    return out


def _variations(flag_type: str, raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        if flag_type != "boolean":
            raise Invalid("a non-boolean flag needs its variations", field="variations")
        return [{"value": True, "name": "On"}, {"value": False, "name": "Off"}]
    if not isinstance(raw, list) or not 1 <= len(raw) <= 100:
        raise Invalid("must be a list of 1 to 100 variations", field="variations")
    accepts = _accepts(flag_type)
    out: list[dict[str, Any]] = []
    for i, variation in enumerate(raw):
        if not isinstance(variation, dict) or "value" not in variation:
            raise Invalid("must be an object with a value", field=f"variations[{i}]")
        value = variation["value"]
        if not accepts(value):
            raise Invalid(f"must be a {flag_type} value", field=f"variations[{i}].value")
        if isinstance(value, str) and len(value) > MAX_STRING_VALUE:
            raise Invalid(
                f"must be at most {MAX_STRING_VALUE} characters", field=f"variations[{i}].value"
            )
        check_value(value, f"variations[{i}].value")
        entry: dict[str, Any] = {"value": value}
        name = variation.get("name")
        if name is not None and name != "":
            entry["name"] = check_text(
                name, f"variations[{i}].name", limit=MAX_VARIATION_NAME, required=True
            )
        out.append(entry)
    values = [v["value"] for v in out]
    if flag_type == "boolean" and (len(out) != 2 or set(values) != {True, False}):
        raise Invalid(
            "a boolean flag has exactly the variations true and false", field="variations"
        )
    if any(values.count(v) > 1 for v in values if not isinstance(v, (dict, list))):
        raise Invalid("variation values must be distinct", field="variations")
    return out


def _accepts(flag_type: str) -> Any:
    if flag_type == "boolean":
        return lambda v: isinstance(v, bool)
    if flag_type == "string":
        return lambda v: isinstance(v, str)
    if flag_type == "number":
        return lambda v: (
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        )
    return lambda v: v is not None


def _index(value: Any, count: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
        raise Invalid(f"must be a variation index from 0 to {count - 1}", field=field)
    return value


def variation_changes(flag: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The `variations` and `defaults` that `body` (a flag update) sets for `flag`, checked
    as `Flags.update_flag` checks them (Invalid names the field; nothing is read or written),
    so that a form can refuse them before it asks to confirm."""
    changes: dict[str, Any] = {}
    if "variations" in body:
        changes["variations"] = _variations(flag["type"], body["variations"])
        if len(changes["variations"]) < len(flag["variations"]):
            # Every configuration refers to variations by index: dropping one here would
            # silently make the later ones serve their neighbour's value.
            raise Invalid(
                "cannot remove variations here, as that would renumber the rest: "
                "remove them one at a time with DELETE .../variations/{index}, "
                "which renumbers every environment's configuration to match",
                field="variations",
                code="variation_removal",
            )
    variations = changes.get("variations", flag["variations"])
    if "defaults" in body:
        d = body["defaults"] or {}
        changes["defaults"] = {
            **flag["defaults"],
            **{
                k: _index(d[k], len(variations), f"defaults.{k}")
                for k in ("on_variation", "off_variation")
                if k in d
            },
        }
    elif "variations" in body:
        for k in ("on_variation", "off_variation"):
            _index(flag["defaults"][k], len(variations), f"defaults.{k}")
    return changes


def flag_fields(body: dict[str, Any], *, client_side: Any = None) -> dict[str, Any]:
    """A new flag's key, name, description, tags, type, variations and defaults, checked.

    `client_side` (the default availability to client SDKs) is `body["client_side"]` unless
    given.
    """
    if client_side is None:
        client_side = bool(body.get("client_side", False))
    elif not isinstance(client_side, bool):
        raise Invalid("must be true or false", field="defaults.client_side")
    key = check_key(body.get("key"))
    name = check_text(body.get("name") or key, "name", limit=200, required=True)
    description = check_text(
        body.get("description", ""), "description", limit=MAX_DESCRIPTION, required=False
    )
    tags = _tags(body.get("tags", []))
    flag_type = body.get("type", "boolean")
    if flag_type not in FLAG_TYPES:
        raise Invalid("must be boolean, string, number or json", field="type")
    variations = _variations(flag_type, body.get("variations"))
    count = len(variations)
    defaults_in = body.get("defaults") or {}
    if not isinstance(defaults_in, dict):
        raise Invalid("must be an object", field="defaults")
    on_default = 0
    off_default = 1 if count > 1 else 0
    if flag_type == "boolean":
        on_default = next(i for i, v in enumerate(variations) if v["value"] is True)
        off_default = 1 - on_default
    defaults = {
        "on_variation": _index(
            defaults_in.get("on_variation", on_default), count, "defaults.on_variation"
        ),
        "off_variation": _index(
            defaults_in.get("off_variation", off_default), count, "defaults.off_variation"
        ),
        "client_side": client_side,
    }
    return {
        "key": key,
        "name": name,
        "description": description,
        "tags": tags,
        "type": flag_type,
        "variations": variations,
        "defaults": defaults,
        "metadata": check_metadata(body.get("metadata")),
    }


def _public_flag(
    flag: dict[str, Any], configs: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    out = {
        "key": flag["key"],
        "name": flag["name"],
        "description": flag["description"],
        "tags": flag["tags"],
        "type": flag["type"],
        "variations": flag["variations"],
        "defaults": {k: flag["defaults"][k] for k in ("on_variation", "off_variation")},
        "metadata": flag.get("metadata") or {},
        "archived": flag["archived"],
        "owner": flag.get("owner"),
        "kind": flag.get("kind") or "temporary",
        "removal_date": flag.get("removal_date"),
        "created_at": flag["created_at"],
        "updated_at": flag["updated_at"],
    }
    if configs is not None:
        out["environments"] = {
            c["environment_key"]: {
                "on": c["on"],
                "version": c["version"],
                "client_side": c["client_side"],
            }
            for c in configs
        }
    return out


def public_config(config: dict[str, Any], env_key: str) -> dict[str, Any]:
    """A flag's configuration in environment `env_key` as the API answers it."""
    return {
        "environment": env_key,
        "on": config["on"],
        "version": config["version"],
        "client_side": config["client_side"],
        "off_variation": config["off_variation"],
        "prerequisites": config.get("prerequisites") or [],
        "targets": config["targets"],
        "rules": config["rules"],
        "fallthrough": config["fallthrough"],
        "updated_at": config["updated_at"],
    }


def _config_state(config: dict[str, Any]) -> dict[str, Any]:
    return {field: config[field] for field in store.CONFIG_FIELDS}


def with_rule_ids(rules: Any) -> Any:
    """Rules as given, with an id made up for each rule that has none."""
    if not isinstance(rules, list):
        return rules
    out = []
    for rule in rules:
        if isinstance(rule, dict) and not rule.get("id"):
            rule = {**rule, "id": secrets.token_hex(4)}
        out.append(rule)
    return out


class Flags:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # --- shared lookups ----------------------------------------------------------------------

    def _scope(
        self, conn: Connection, actor: Actor, org_key: str, project_key: str, *, write: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The organization and the project; a write needs the caller's role in the project
        (`project_access`) to be admin or owner."""
        # A write locks the project first: every check it makes (key free, segment unused,
        # variation unserved, configuration valid) then holds until it commits.
        return project_access(conn, actor, org_key, project_key, write=write, lock=write)

    @staticmethod
    def _segments(conn: Connection, env_id: int) -> dict[str, Any]:
        return {s["key"]: segment_document(s) for s in store.list_segments(conn, env_id)}

    @staticmethod
    def _validate(flag: dict[str, Any], config: dict[str, Any], segments: dict[str, Any]) -> None:
        """Raise Invalid, naming the field, if the engine would refuse the configuration or it
        holds a value that cannot be stored and served (`values.py`: numbers and text the
        engine accepts but no answer could carry)."""
        document = flag_document(flag, {**config, "version": 0})
        # Leniently, and then this flag's own fault: a segment this flag does not use, broken
        # in the database, must not stop every write in the environment (a kill switch).
        compiled = engine.compile({"flags": {flag["key"]: document}, "segments": segments},
                                  strict=False)  # fmt: skip
        exc = compiled.broken.get(flag["key"])
        if exc is not None:
            if exc.segment is not None:
                raise Invalid(str(exc), field="segments")
            raise Invalid(exc.problem, field=exc.path or None)
        check_document({f: config[f] for f in ("targets", "rules", "fallthrough")})

    def _recent(
        self, conn: Connection, project: dict[str, Any], flag: dict[str, Any]
    ) -> dict[str, Any]:
        """What `refuse_live_flag` names: the applications of the last days (none for an
        archived flag, which is never refused)."""
        if flag["archived"]:
            return {}
        return {
            "recent": recent_applications(conn, self.rt, project, flag["key"]),
            "recent_days": self.rt.settings.lifecycle_recent_days,
        }

    # --- flags -------------------------------------------------------------------------------

    def list_flags(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        *,
        archived: bool | None = False,
        tag: str | None = None,
        search: str | None = None,
        summary: bool = False,
    ) -> list[dict[str, Any]]:
        """The project's flags by key, each with its on/off state per environment and
        `changed_at`. `summary`: only key, name, tags, type, archived, owner, kind and the
        times (no description, variations, defaults or metadata: a long list reads less)."""
        with self.rt.db.connect() as conn:
            _, project = self._scope(conn, actor, org_key, project_key)
            rows = store.list_flags(
                conn,
                project_id=project["id"],
                archived=archived,
                tag=tag,
                search=search,
                summary=summary,
            )
            states, changed = self._states(conn, project["id"])
        if summary:
            # The rows hold the summary's columns already: completed in place, one dict each.
            for f in rows:
                flag_id = f.pop("id")
                f["environments"] = states.get(flag_id, {})
                f["changed_at"] = max(f["updated_at"], changed.get(flag_id, 0))
            return rows
        return [
            {
                **_public_flag(f),
                "environments": states.get(f["id"], {}),
                # The last change to the flag or to its configuration in any environment.
                "changed_at": max(f["updated_at"], changed.get(f["id"], 0)),
            }
            for f in rows
        ]

    @staticmethod
    def _states(
        conn: Connection, project_id: int
    ) -> tuple[dict[int, dict[str, Any]], dict[int, int]]:
        """Each flag's on/version/client_side per environment, and its configurations' latest
        change (Unix ms)."""
        states: dict[int, dict[str, Any]] = {}
        changed: dict[int, int] = {}
        for flag_id, env_key, on, version, client_side, updated in store.list_config_states(
            conn, project_id
        ):
            per_env = states.get(flag_id)
            if per_env is None:
                per_env = states[flag_id] = {}
                changed[flag_id] = updated
            elif updated > changed[flag_id]:
                changed[flag_id] = updated
            per_env[env_key] = {"on": on, "version": version, "client_side": client_side}
        return states, changed

    def get_flag(self, actor: Actor, org_key: str, project_key: str, key: str) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            _, project = self._scope(conn, actor, org_key, project_key)
            flag = flag_for(conn, project, key)
            out = _public_flag(flag, store.list_configs_for_flag(conn, flag["id"]))
            required_by = dependents(conn, project["id"], key)
            if required_by:
                out["dependents"] = required_by
            return out

    def create_flag(
        self, actor: Actor, org_key: str, project_key: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        fields = flag_fields(body)
        key = fields["key"]
        now = self.rt.now()
        row = {
            **fields,
            "salt": secrets.token_hex(8),
            "archived": False,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.rt.write_db.begin() as conn:
                org, project = self._scope(conn, actor, org_key, project_key, write=True)
                row.update(lifecycle_fields(conn, org["id"], body, creating=True))
                if store.get_flag(conn, project_id=project["id"], key=key):
                    raise Conflict("a flag with this key exists in this project", code="key_taken")
                flag_id = store.create_flag(conn, {**row, "project_id": project["id"]})
                flag = {**row, "id": flag_id}
                envs = org_store.list_environments(conn, project["id"])
                for env in envs:
                    config = initial_config(flag, env["id"], now)
                    self._validate(flag, config, {})
                    store.create_config(conn, config)
                versions = org_store.bump_environment_versions(conn, [e["id"] for e in envs])
                result = _public_flag(flag, store.list_configs_for_flag(conn, flag_id))
                record_audit(
                    conn,
                    self.rt,
                    org_id=org["id"],
                    actor=actor,
                    action="flag.created",
                    resource=key,
                    project=project_key,
                    flag=key,
                    after=_public_flag(flag),
                )
        except IntegrityError:
            raise Conflict(
                "a flag with this key exists in this project", code="key_taken"
            ) from None
        self.rt.changed(versions)
        return result

    def update_flag(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        key: str,
        body: dict[str, Any],
        *,
        force: bool = False,
    ) -> dict[str, Any]:
        """Change name, description, tags, variations, defaults or `archived`.

        Variations may be edited in place and added at the end, so that every environment's
        configuration stays valid; removing one is `remove_variation`'s job. Archiving a flag
        that is on somewhere raises InUse (`flag_in_use`) unless `force`. Archiving or restoring
        a flag that is on in a protected environment, or changing the values of variations a
        protected environment names, raises Conflict `protected_environment`.
        """
        changes: dict[str, Any] = {}
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key, write=True)
            flag = flag_for(conn, project, key)
            if "name" in body:
                changes["name"] = check_text(body["name"], "name", limit=200, required=True)
            if "description" in body:
                changes["description"] = check_text(
                    body["description"], "description", limit=MAX_DESCRIPTION, required=False
                )
            if "tags" in body:
                changes["tags"] = _tags(body["tags"])
            if "metadata" in body:
                changes["metadata"] = check_metadata(body["metadata"])
            changes.update(lifecycle_fields(conn, org["id"], body, creating=False))
            changes.update(variation_changes(flag, body))
            if "archived" in body:
                if not isinstance(body["archived"], bool):
                    raise Invalid("must be true or false", field="archived")
                changes["archived"] = body["archived"]
                if body["archived"] and not flag["archived"]:
                    refuse_protected_live(conn, project, flag, "archiving")
                if not body["archived"] and flag["archived"]:
                    # Archived, it serves nothing; restored, its configuration serves again.
                    refuse_protected_live(conn, project, flag, "restoring")
                if body["archived"]:
                    refuse_live_flag(
                        conn,
                        project,
                        flag,
                        force=force,
                        doing="archiving",
                        **self._recent(conn, project, flag),
                    )
            revalued = [
                i
                for i, (new, old) in enumerate(
                    zip(changes.get("variations", []), flag["variations"], strict=False)
                )
                if new["value"] != old["value"]
            ]
            if revalued:
                refuse_protected_values(conn, project, flag, revalued)
                void_naming(conn, self.rt, org, project, actor, flag, revalued)
            updated = {**flag, **changes}
            serves_change = any(k in changes for k in ("variations", "archived", "metadata"))
            envs = org_store.list_environments(conn, project["id"])
            if "variations" in changes:
                for env in envs:
                    config = store.get_config(conn, flag_id=flag["id"], environment_id=env["id"])
                    if config is not None:
                        try:
                            self._validate(updated, config, self._segments(conn, env["id"]))
                        except Invalid as exc:
                            raise Invalid(
                                f"the {env['key']} configuration would break: {exc.message}",
                                field="variations",
                            ) from None
            versions: dict[int, int] = {}
            if changes:
                changes["updated_at"] = self.rt.now()
                store.update_flag(conn, flag["id"], changes)
                if serves_change:
                    versions = org_store.bump_environment_versions(conn, [e["id"] for e in envs])
                action = "flag.updated"
                if changes.keys() & {"archived"} and len(changes) == 2:
                    action = "flag.archived" if changes["archived"] else "flag.restored"
                record_audit(
                    conn,
                    self.rt,
                    org_id=org["id"],
                    actor=actor,
                    action=action,
                    resource=key,
                    project=project_key,
                    flag=key,
                    before=_public_flag(flag),
                    after=_public_flag({**updated, **changes}),
                )
            result = _public_flag(
                {**updated, **changes}, store.list_configs_for_flag(conn, flag["id"])
            )
            # Archiving a flag others require makes their prerequisite fail: say who they are.
            required_by = dependents(conn, project["id"], key)
            if required_by:
                result["dependents"] = required_by
        self.rt.changed(versions)
        return result

    def remove_variation(
        self, actor: Actor, org_key: str, project_key: str, key: str, index: int
    ) -> dict[str, Any]:
        """Remove variation `index`, renumbering every environment's configuration to match.

        Raises Invalid (field `variations[index]`, code `variation_in_use`) if any environment
        serves it (off variation, targets, a rule, the default rule) or it is a default for new
        environments; a boolean flag keeps its two variations. Conflict `variation_pending`
        while an open change request or a pending schedule of the flag names it or a later
        variation (they are not renumbered).
        """
        field = f"variations[{index}]"
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key, write=True)
            flag = flag_for(conn, project, key)
            count = len(flag["variations"])
            if flag["type"] == "boolean":
                raise Invalid("a boolean flag keeps its two variations", field=field)
            _index(index, count, field)
            if count == 1:
                raise Invalid("a flag needs at least one variation", field=field)
            envs = org_store.list_environments(conn, project["id"])
            configs = []
            for env in envs:
                config = store.get_config(
                    conn, flag_id=flag["id"], environment_id=env["id"], for_update=True
                )
                if config is None:
                    continue
                uses = variation_uses(config, index)
                if uses:
                    raise Invalid(
                        f"is in use in {env['key']} ({', '.join(uses)}): serve another "
                        "variation there first",
                        field=field,
                        code="variation_in_use",
                    )
                configs.append((env, config))
            for which in ("on_variation", "off_variation"):
                if flag["defaults"][which] == index:
                    raise Invalid(
                        f"is the default when {which[:-10]} for new environments: choose "
                        "another default first",
                        field=field,
                        code="variation_in_use",
                    )
            refuse_pending_references(conn, project["id"], flag, index)
            required = _requiring(conn, project["id"], key, index)
            variations = [v for i, v in enumerate(flag["variations"]) if i != index]
            defaults = {
                **flag["defaults"],
                **{
                    k: flag["defaults"][k] - (flag["defaults"][k] > index)
                    for k in ("on_variation", "off_variation")
                },
            }
            now = self.rt.now()
            updated = {**flag, "variations": variations, "defaults": defaults, "updated_at": now}
            for env, config in configs:
                fields = without_variation(config, index)
                self._validate(updated, {**config, **fields}, self._segments(conn, env["id"]))
                changed = {f: v for f, v in fields.items() if v != config[f]}
                if changed:
                    store.update_config(
                        conn,
                        flag_id=flag["id"],
                        environment_id=env["id"],
                        values=changed,
                        expected_version=None,
                        at=now,
                    )
            for config, prerequisites in required:
                store.update_config(
                    conn,
                    flag_id=config["flag_id"],
                    environment_id=config["environment_id"],
                    values={"prerequisites": prerequisites},
                    expected_version=None,
                    at=now,
                )
            store.update_flag(
                conn,
                flag["id"],
                {"variations": variations, "defaults": defaults, "updated_at": now},
            )
            versions = org_store.bump_environment_versions(conn, [e["id"] for e in envs])
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="flag.updated",
                resource=key,
                project=project_key,
                flag=key,
                before=_public_flag(flag),
                after=_public_flag(updated),
            )
            result = _public_flag(updated, store.list_configs_for_flag(conn, flag["id"]))
        self.rt.changed(versions)
        return result

    def delete_flag(
        self, actor: Actor, org_key: str, project_key: str, key: str, *, force: bool = False
    ) -> None:
        """Delete the flag everywhere; InUse (`flag_in_use`) if it is on somewhere, unless
        `force`."""
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key, write=True)
            flag = flag_for(conn, project, key)
            refuse_protected_live(conn, project, flag, "deleting")
            refuse_live_flag(
                conn,
                project,
                flag,
                force=force,
                doing="deleting",
                **self._recent(conn, project, flag),
            )
            envs = [e["id"] for e in org_store.list_environments(conn, project["id"])]
            store.delete_flag(conn, flag["id"])
            versions = org_store.bump_environment_versions(conn, envs)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="flag.deleted",
                resource=key,
                project=project_key,
                flag=key,
                before=_public_flag(flag),
            )
        self.rt.changed(versions)

    # --- configuration per environment -------------------------------------------------------

    def get_config(
        self, actor: Actor, org_key: str, project_key: str, key: str, env_key: str
    ) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            _, project = self._scope(conn, actor, org_key, project_key)
            flag = flag_for(conn, project, key)
            env = environment_for(conn, project, env_key)
            config = store.get_config(conn, flag_id=flag["id"], environment_id=env["id"])
        if config is None:
            raise NotFound("no such flag")
        return public_config(config, env_key)

    def write_config(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        key: str,
        env_key: str,
        body: dict[str, Any],
        *,
        if_match: int | None,
        replace: bool,
        passage: Passage | None = None,
    ) -> dict[str, Any]:
        """Replace (`replace=True`, every field required) or patch the configuration.

        With `if_match`, the write applies only to that version: a stale one raises
        PreconditionFailed with the current version and changes nothing. In a protected
        environment a change needs `passage` (services/protection.py): else Conflict
        `protected_environment`.
        """
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key, write=True)
            flag = flag_for(conn, project, key)
            env = environment_for(conn, project, env_key)
            result, versions = self.configure(
                conn, actor, org, project, flag, env, body, if_match=if_match, replace=replace,
                passage=passage,
            )  # fmt: skip
        self.rt.changed(versions)
        return result

    def configure(
        self,
        conn: Connection,
        actor: Actor,
        org: dict[str, Any],
        project: dict[str, Any],
        flag: dict[str, Any],
        env: dict[str, Any],
        body: dict[str, Any],
        *,
        if_match: int | None = None,
        replace: bool = False,
        dry_run: bool = False,
        passage: Passage | None = None,
    ) -> tuple[dict[str, Any], dict[int, int]]:
        """`write_config` inside the caller's transaction, for a caller that has scoped the
        change itself (taking the project's guard row first) and calls `rt.changed` with the
        versions answered after its commit: the configuration as written, and {environment id:
        new version} (empty when nothing changed). Scheduled changes apply through here, so
        that they are validated, versioned and audited exactly as a change made by hand.

        `dry_run` checks the change as it would apply now and writes nothing.

        The gate: a change to a protected environment goes through only with `passage` (an
        approved change request, or an owner's bypass): else Conflict `protected_environment`
        (services/protection.py). Every configuration write in the server comes through here.
        """
        fields = store.CONFIG_FIELDS
        key, env_key, project_key = flag["key"], env["key"], project["key"]
        if replace:
            missing = [f for f in ("on", "off_variation", "fallthrough") if f not in body]
            if missing:
                raise Invalid("is required", field=missing[0])
        unknown = set(body) - set(fields)
        if unknown:
            raise Invalid("is not a configuration field", field=sorted(unknown)[0])
        # Locked: without If-Match a concurrent write must not turn this one into a 412.
        current = store.get_config(
            conn, flag_id=flag["id"], environment_id=env["id"], for_update=True
        )
        if current is None:
            raise NotFound("no such flag")
        if if_match is not None and current["version"] != if_match:
            raise PreconditionFailed(
                f"the configuration is at version {current['version']}, not {if_match}: "
                "someone else changed it",
                current=current["version"],
            )
        before = _config_state(current)
        after = dict(before)
        if replace:
            after.update({"targets": [], "rules": [], "prerequisites": [],
                          "client_side": before["client_side"]})  # fmt: skip
        after.update(copy.deepcopy(body))
        after["rules"] = with_rule_ids(after["rules"])
        for field in ("on", "client_side"):
            if not isinstance(after[field], bool):
                raise Invalid("must be true or false", field=field)
        self._validate(flag, after, self._segments(conn, env["id"]))
        if after["prerequisites"] != before["prerequisites"]:
            check_prerequisites(conn, project["id"], env["id"], flag, after["prerequisites"])
        changes = {f: after[f] for f in fields if after[f] != before[f]}
        if not changes or dry_run:
            return public_config(current, env_key), {}
        guard(
            conn, self.rt, actor, org, project, env["id"], passage=passage,
            what=f"changing {key}", flag_id=flag["id"],
        )  # fmt: skip
        version = store.update_config(
            conn,
            flag_id=flag["id"],
            environment_id=env["id"],
            values=changes,
            expected_version=current["version"],
            at=self.rt.now(),
        )
        if version is None:
            # Another writer committed between our read and our write.
            raise PreconditionFailed("someone else changed the configuration; reload it")
        versions = org_store.bump_environment_versions(conn, [env["id"]])
        action = "flag.toggled" if changes.keys() == {"on"} else "flag.configured"
        record_audit(
            conn,
            self.rt,
            org_id=org["id"],
            actor=actor,
            action=action,
            resource=key,
            project=project_key,
            environment=env_key,
            flag=key,
            before={"version": current["version"], **before},
            after={"version": version, **after},
        )
        result = store.get_config(conn, flag_id=flag["id"], environment_id=env["id"])
        assert result is not None
        return public_config(result, env_key), versions

    # --- segments ----------------------------------------------------------------------------

    def list_segments(
        self, actor: Actor, org_key: str, project_key: str, env_key: str
    ) -> list[dict[str, Any]]:
        with self.rt.db.connect() as conn:
            _, project = self._scope(conn, actor, org_key, project_key)
            env = environment_for(conn, project, env_key)
            return [_public_segment(s) for s in store.list_segments(conn, env["id"])]

    def get_segment(
        self, actor: Actor, org_key: str, project_key: str, env_key: str, key: str
    ) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            _, project = self._scope(conn, actor, org_key, project_key)
            env = environment_for(conn, project, env_key)
            return _public_segment(self._segment(conn, env, key))

    @staticmethod
    def _segment(conn: Connection, env: dict[str, Any], key: str) -> dict[str, Any]:
        segment = store.get_segment(conn, environment_id=env["id"], key=key)
        if segment is None:
            raise NotFound("no such segment")
        return segment

    @staticmethod
    def _check_segments(segments: dict[str, Any]) -> None:
        """Invalid, naming the field, unless the environment's segments compile."""
        try:
            engine.compile({"flags": {}, "segments": segments})
        except engine.SnapshotError as exc:
            raise Invalid(exc.problem, field=exc.path or None) from None

    def write_segment(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        env_key: str,
        key: str,
        body: dict[str, Any],
        *,
        create: bool,
        passage: Passage | None = None,
    ) -> dict[str, Any]:
        """Create (Conflict `key_taken` if it exists) or update (NotFound if it does not) a
        segment; fields missing from `body` keep their stored values. In a protected
        environment only with an owner's bypass (`passage`): else `protected_environment`."""
        return self._write_segment(
            actor, org_key, project_key, env_key, key, body, create, passage
        )[0]

    def put_segment(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        env_key: str,
        key: str,
        body: dict[str, Any],
        passage: Passage | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Create the segment or update it, whichever its existence at the moment of writing
        calls for; the segment and whether it was created."""
        return self._write_segment(actor, org_key, project_key, env_key, key, body, None, passage)

    def _write_segment(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        env_key: str,
        key: str,
        body: dict[str, Any],
        create: bool | None,
        passage: Passage | None,
    ) -> tuple[dict[str, Any], bool]:
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key, write=True)
            env = environment_for(conn, project, env_key)
            guard(conn, self.rt, actor, org, project, env["id"], passage=passage,
                  what=f"changing segment {key}", requestable=False)  # fmt: skip
            existing = store.get_segment(conn, environment_id=env["id"], key=key)
            if create is None:
                create = existing is None
            if create:
                check_key(key)
            if create and existing is not None:
                raise Conflict("a segment with this key exists", code="key_taken")
            if not create and existing is None:
                raise NotFound("no such segment")
            base = existing or {
                "name": key,
                "description": "",
                "included": [],
                "excluded": [],
                "rules": [],
            }
            values = {
                "name": check_text(
                    body.get("name", base["name"]) or key, "name", limit=200, required=True
                ),
                "description": check_text(
                    body.get("description", base["description"]),
                    "description",
                    limit=MAX_DESCRIPTION,
                    required=False,
                ),
                "included": body.get("included", base["included"]),
                "excluded": body.get("excluded", base["excluded"]),
                "rules": with_rule_ids(body.get("rules", base["rules"])),
            }
            segments = self._segments(conn, env["id"])
            segments[key] = {
                "key": key,
                **{k: values[k] for k in ("included", "excluded", "rules")},
            }
            self._check_segments(segments)
            check_document({k: values[k] for k in ("included", "excluded", "rules")})
            now = self.rt.now()
            if existing is None:
                store.create_segment(
                    conn,
                    {
                        **values,
                        "key": key,
                        "environment_id": env["id"],
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            else:
                store.update_segment(conn, existing["id"], {**values, "updated_at": now})
            versions = org_store.bump_environment_versions(conn, [env["id"]])
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="segment.created" if create else "segment.updated",
                resource=key,
                project=project_key,
                environment=env_key,
                before=_public_segment(existing) if existing else None,
                after=values,
            )
            result = _public_segment(self._segment(conn, env, key))
        self.rt.changed(versions)
        return result, create

    def delete_segment(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        env_key: str,
        key: str,
        passage: Passage | None = None,
    ) -> None:
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key, write=True)
            env = environment_for(conn, project, env_key)
            segment = self._segment(conn, env, key)
            guard(conn, self.rt, actor, org, project, env["id"], passage=passage,
                  what=f"deleting segment {key}", requestable=False)  # fmt: skip
            snapshot = build_snapshot(conn, env["id"]) or {"flags": {}, "segments": {}}
            users = sorted(
                [
                    f"flag {k}"
                    for k, f in snapshot["flags"].items()
                    if _uses_segment(f["rules"], key)
                ]
                + [
                    f"segment {k}"
                    for k, s in snapshot["segments"].items()
                    if k != key and _uses_segment(s["rules"], key)
                ]
            )
            if users:
                raise Conflict(f"the segment is used by {', '.join(users)}", code="in_use")
            store.delete_segment(conn, segment["id"])
            versions = org_store.bump_environment_versions(conn, [env["id"]])
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="segment.deleted",
                resource=key,
                project=project_key,
                environment=env_key,
                before=_public_segment(segment),
            )
        self.rt.changed(versions)

    # --- snapshots ---------------------------------------------------------------------------

    def snapshot(
        self, actor: Actor, org_key: str, project_key: str, env_key: str
    ) -> dict[str, Any]:
        """The environment's snapshot, as the SDKs get it: one moment, its version and its
        flags together, even while a change commits."""
        with snapshot_connection(self.rt.db) as conn:
            _, project = self._scope(conn, actor, org_key, project_key)
            env = environment_for(conn, project, env_key)
            snapshot = build_snapshot(conn, env["id"])
        if snapshot is None:
            raise NotFound("no such environment")
        return snapshot

    def set_aside(
        self, actor: Actor, org_key: str, project_key: str, key: str, env_key: str
    ) -> str | None:
        """Why the environment's snapshot sets this flag aside (SDKs get ERROR / PARSE_ERROR
        for it), or None when it is served. Decided as the hubs decide: the flag's row built
        into the snapshot (`store.snapshot.servable`), then compiled leniently."""
        with snapshot_connection(self.rt.db) as conn:
            _, project = self._scope(conn, actor, org_key, project_key)
            env = environment_for(conn, project, env_key)
            document = build_snapshot(conn, env["id"], only=key)
        if document is None or key not in document["flags"]:
            return None
        broken = engine.compile(document, strict=False).broken.get(key)
        return None if broken is None else str(broken)


def _requiring(
    conn: Connection, project_id: int, key: str, index: int
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Before removing variation `index` of flag `key`: each other configuration whose
    prerequisites name a later variation of it, with those prerequisites renumbered to match.
    Raises Invalid (`variation_in_use`) if one requires that very variation, as removing it
    would leave the prerequisite naming another variation or none."""
    names = {
        f["id"]: f["key"] for f in store.list_flags(conn, project_id=project_id, archived=None)
    }
    out = []
    for config in store.list_configs_for_project(conn, project_id):
        prerequisites = config.get("prerequisites") or []
        if not any(p.get("flag") == key for p in prerequisites):
            continue
        if any(p.get("flag") == key and p.get("variation") == index for p in prerequisites):
            raise Invalid(
                f"is required by {names[config['flag_id']]} in {config['environment_key']} "
                "as a prerequisite: change that prerequisite first",
                field=f"variations[{index}]",
                code="variation_in_use",
            )
        renumbered = [
            {**p, "variation": p["variation"] - 1}
            if p.get("flag") == key and p.get("variation", 0) > index
            else p
            for p in prerequisites
        ]
        if renumbered != prerequisites:
            out.append((config, renumbered))
    return out


def _uses_segment(rules: list[dict[str, Any]], key: str) -> bool:
    return any(
        clause.get("op") == "segment_match" and key in clause.get("values", [])
        for rule in rules
        for clause in rule.get("clauses", [])
    )


def _public_segment(segment: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": segment["key"],
        "name": segment["name"],
        "description": segment["description"],
        "included": segment["included"],
        "excluded": segment["excluded"],
        "rules": segment["rules"],
        "version": segment["version"],
        "updated_at": segment["updated_at"],
    }
