"""An environment's settings: one table (`SETTINGS`) says, for each, how its value is checked,
what kind of field the dashboard's form holds it in, and which audit action records a change
of it. The API's PATCH, the dashboard's settings form, the write and the audit log all read
it, so that a new setting is a new entry here and a new column.

A change is audited per action, with what changed before and after: a rename as
`environment.renamed` (the action renames always had), `confirm_changes` as
`environment.updated`, and protection (`protected`, `required_approvals`: change requests,
services/protection.py) as the loud `environment.protection_changed`, a webhook event that is
also logged as a warning, carrying both protection settings before and after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection

from ..store import orgs as store
from .errors import Conflict, Forbidden, Invalid
from .runtime import Actor, Runtime, check_name, record_audit

__all__ = [
    "MAX_APPROVALS",
    "PROTECTION_FIELDS",
    "SETTINGS",
    "Setting",
    "apply_settings",
    "check_settings",
    "refuse_protected_deletion",
]

log = logging.getLogger("launchsequence")

#: More approvals than a small team has members would lock an environment for good.
MAX_APPROVALS = 10

#: The audit action (a webhook event) of a change of protection.
PROTECTION_CHANGED = "environment.protection_changed"


@dataclass(frozen=True)
class Setting:
    #: The value as stored, from the value given (Invalid names the setting).
    check: Callable[[Any, str], Any]
    #: The dashboard's field: free text, a checkbox (unticked: sends nothing, reads false),
    #: or a whole number.
    kind: Literal["text", "checkbox", "number"]
    #: The audit action a change of it is recorded as.
    audit: str
    #: A number's least and greatest value.
    bounds: tuple[int, int] = (0, 0)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false", field=field)
    return value


def _approvals(value: Any, field: str) -> int:
    lo, hi = SETTINGS[field].bounds
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise Invalid(f"must be a whole number from {lo} to {hi}", field=field)
    return value


SETTINGS: dict[str, Setting] = {
    "name": Setting(check_name, "text", "environment.renamed"),
    "confirm_changes": Setting(_bool, "checkbox", "environment.updated"),
    "protected": Setting(_bool, "checkbox", PROTECTION_CHANGED),
    "required_approvals": Setting(_approvals, "number", PROTECTION_CHANGED, (1, MAX_APPROVALS)),
}
PROTECTION_FIELDS = tuple(f for f, s in SETTINGS.items() if s.audit == PROTECTION_CHANGED)


def check_settings(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` (each setting optional: one left out keeps its value), checked: each value as
    stored. Invalid names the setting: null, a wrong value, or no such setting."""
    out: dict[str, Any] = {}
    for field, value in changes.items():
        setting = SETTINGS.get(field)
        if setting is None:
            raise Invalid("is not a setting of an environment", field=field)
        if value is None:
            raise Invalid("must not be null: leave it out to keep it", field=field)
        out[field] = setting.check(value, field)
    return out


def apply_settings(
    conn: Connection,
    rt: Runtime,
    actor: Actor,
    org: dict[str, Any],
    project: dict[str, Any],
    env: dict[str, Any],
    checked: dict[str, Any],
) -> dict[str, Any]:
    """Write the settings `checked` (`check_settings`'s answer) changes (the caller checked the
    actor may change the environment, and holds the project's lock), one audit entry per
    action (see the module); the environment as it is now.

    Weakening a protected environment's protection (lifting it, or lowering its
    `required_approvals`) is for owners of the organization only: Forbidden
    `protection_owner_only` for anyone else, so that an admin cannot undo the four-eyes rule
    that binds them. Protecting an environment or asking more approvals is for any admin."""
    changed = {f: v for f, v in checked.items() if env[f] != v}
    if not changed:
        return env
    after_all = {**env, **changed}
    weakens = env["protected"] and (
        not after_all["protected"] or after_all["required_approvals"] < env["required_approvals"]
    )
    if weakens and org["role"] != "owner":
        raise Forbidden(
            "only an owner of the organization may lift an environment's protection or lower "
            "the approvals it needs",
            code="protection_owner_only",
        )
    store.update_environment(conn, env["id"], changed)
    for action in dict.fromkeys(SETTINGS[f].audit for f in changed):
        fields = [f for f in changed if SETTINGS[f].audit == action]
        if action == PROTECTION_CHANGED:
            fields = list(PROTECTION_FIELDS)
            log.warning(
                "protection of %s/%s changed by %s: %s", project["key"], env["key"],
                actor.email, {f: after_all[f] for f in fields},
            )  # fmt: skip
        record_audit(
            conn,
            rt,
            org_id=org["id"],
            actor=actor,
            action=action,
            resource=env["key"],
            project=project["key"],
            environment=env["key"],
            before={f: env[f] for f in fields},
            after={f: after_all[f] for f in fields},
        )
    return after_all


def refuse_protected_deletion(envs: list[dict[str, Any]], doing: str) -> None:
    """Conflict `protected_environment` if any of `envs` is protected: deleting it would take
    its flags from every application without a change request. Lifting the protection first
    (audited, announced) is the way."""
    protected = [e["key"] for e in envs if e["protected"]]
    if protected:
        raise Conflict(
            f"protected environment {', '.join(protected)}: lift its protection before {doing}",
            code="protected_environment",
        )
