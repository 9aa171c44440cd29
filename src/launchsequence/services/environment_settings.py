"""An environment's settings beyond its name: its protection (services/protection.py).

`protection_changes` checks and writes `protected` and `required_approvals` from a PATCH body;
each setting is one entry of `_CHECKS`, so a new setting is a new entry and a new column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from ..store import orgs as store
from .errors import Conflict, Forbidden, Invalid
from .runtime import Actor, Runtime, record_audit

__all__ = ["MAX_APPROVALS", "PROTECTION_FIELDS", "protection_changes", "refuse_protected_deletion"]

log = logging.getLogger("launchsequence")

#: More approvals than a small team has members would lock an environment for good.
MAX_APPROVALS = 10


def _protected(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false", field="protected")
    return value


def _required_approvals(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_APPROVALS:
        raise Invalid(
            f"must be a whole number from 1 to {MAX_APPROVALS}", field="required_approvals"
        )
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "protected": _protected,
    "required_approvals": _required_approvals,
}
PROTECTION_FIELDS = tuple(_CHECKS)


def protection_changes(
    conn: Connection,
    rt: Runtime,
    actor: Actor,
    org: dict[str, Any],
    project: dict[str, Any],
    env: dict[str, Any],
    body: dict[str, Any],
) -> dict[str, Any]:
    """Write the protection settings `body` changes (the caller checked the actor may change
    the environment, and holds the project's lock); the environment as it is now. A change is
    audited as `environment.protection_changed` (a webhook event) and logged as a warning.

    Weakening a protected environment's protection (lifting it, or lowering its
    `required_approvals`) is for owners of the organization only: Forbidden
    `protection_owner_only` for anyone else, so that an admin cannot undo the four-eyes rule
    that binds them. Protecting an environment or asking more approvals is for any admin."""
    wanted = {f: check(body[f]) for f, check in _CHECKS.items() if f in body}
    changes = {f: v for f, v in wanted.items() if v != env[f]}
    if not changes:
        return env
    after = {**{f: env[f] for f in _CHECKS}, **changes}
    weakens = env["protected"] and (
        not after["protected"] or after["required_approvals"] < env["required_approvals"]
    )
    if weakens and org["role"] != "owner":
        raise Forbidden(
            "only an owner of the organization may lift an environment's protection or lower "
            "the approvals it needs",
            code="protection_owner_only",
        )
    store.set_protection(conn, env["id"], **after)
    log.warning(
        "protection of %s/%s changed by %s: %s",
        project["key"], env["key"], actor.email, after,
    )  # fmt: skip
    record_audit(
        conn,
        rt,
        org_id=org["id"],
        actor=actor,
        action="environment.protection_changed",
        resource=env["key"],
        project=project["key"],
        environment=env["key"],
        before={f: env[f] for f in _CHECKS},
        after=after,
    )
    return {**env, **after}


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
