"""Protected environments: the gate every configuration write passes, and who may pass it.

A protected environment's configurations change only through a change request approved by
`required_approvals` members other than its author (services/change_requests.py), or through an
owner's explicit emergency bypass. The gate (`guard`) sits in the service layer, in
`Flags.configure` and the segment writes, so every caller is covered: the REST API, the
dashboard, imports, bulk actions, copies between environments and the scheduler. A write
without a passage raises Conflict `protected_environment`, naming change requests.

`may_change` is the one place that decides whether a member may change (and so propose,
approve and apply changes in) a project: per-project roles replace its body, nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ..store import change_requests as request_store
from ..store import flags as flag_store
from ..store import orgs as org_store
from .access import role_in_project
from .errors import Conflict, Forbidden, Invalid
from .runtime import Actor, Runtime, check_note, record_audit
from .variations import variation_uses

__all__ = [
    "PROTECTED",
    "Approved",
    "Bypass",
    "Passage",
    "bypass_from",
    "counted_approvals",
    "guard",
    "may_change",
    "protected_where_on",
    "refuse_protected",
    "refuse_protected_live",
    "refuse_protected_values",
]

log = logging.getLogger("launchsequence")

#: The error code of every write refused by the gate.
PROTECTED = "protected_environment"


@dataclass(frozen=True, slots=True)
class Approved:
    """The write applies change request `request_id`; the gate checks it is approved."""

    request_id: int


@dataclass(frozen=True, slots=True)
class Bypass:
    """An owner's emergency write past the gate, with the reason they gave."""

    reason: str


Passage = Approved | Bypass


def may_change(
    conn: Connection, org: dict[str, Any], project: dict[str, Any], user_id: int
) -> bool:
    """Whether member `user_id` may change `project` (and so open, approve and apply its change
    requests): their role in that project (`access.role_in_project`) is admin or owner."""
    role = role_in_project(conn, org_id=org["id"], project_id=project["id"], user_id=user_id)
    return role in ("owner", "admin")


def bypass_from(body: dict[str, Any]) -> Bypass | None:
    """Take `bypass_protection` and `bypass_reason` out of a write's body: a Bypass when asked
    for (Invalid without a reason), else None."""
    asked = body.pop("bypass_protection", None)
    reason = body.pop("bypass_reason", None)
    if asked is None or asked is False:
        if reason is not None:
            raise Invalid("only with bypass_protection: true", field="bypass_reason")
        return None
    if asked is not True:
        raise Invalid("must be true or false", field="bypass_protection")
    text = check_note(reason, "bypass_reason")  # it is logged: no control characters
    if not text:
        raise Invalid("an emergency bypass needs a reason", field="bypass_reason")
    return Bypass(text)


def _refusal(env_key: str, what: str, *, requestable: bool = True) -> Conflict:
    if not requestable:
        return Conflict(
            f"{env_key} is a protected environment: {what} there takes an owner's emergency "
            "bypass (bypass_protection with a bypass_reason), or lifting its protection first",
            code=PROTECTED,
        )
    return Conflict(
        f"{env_key} is a protected environment: {what} needs an approved change request "
        '(open one: POST .../change-requests, or "Request change" on the flag\'s page)',
        code=PROTECTED,
    )


def counted_approvals(
    conn: Connection, org: dict[str, Any], project: dict[str, Any], row: dict[str, Any]
) -> list[dict[str, Any]]:
    """The approvals of the request's current revision that count: by members other than its
    author who may still change the project."""
    return [
        a
        for a in request_store.current_approvers(conn, row["id"], row["revision"])
        if a["user_id"] is not None
        and a["user_id"] != row["author_id"]
        and may_change(conn, org, project, a["user_id"])
    ]


def guard(
    conn: Connection,
    rt: Runtime,
    actor: Actor,
    org: dict[str, Any],
    project: dict[str, Any],
    env_id: int,
    *,
    passage: Passage | None,
    what: str,
    flag_id: int | None = None,
    requestable: bool = True,
) -> None:
    """Let a write to environment `env_id` through, or raise.

    Unprotected: nothing to check. Protected: Conflict `protected_environment` without a
    passage; with `Approved`, Conflict unless that request is open, for this environment (and
    `flag_id`) and has its approvals; with `Bypass`, Forbidden `bypass_forbidden` unless the
    actor is an owner, and otherwise a `protection.bypassed` audit entry and webhook event in
    the caller's transaction. Read under the caller's project lock, so it holds at commit.
    `requestable`: whether a change request could make this change (its message says so).
    """
    env = org_store.environment_by_id(conn, env_id)
    if env is None or not env["protected"]:
        return
    if passage is None:
        raise _refusal(env["key"], what, requestable=requestable)
    if isinstance(passage, Approved):
        row = request_store.get(conn, project_id=project["id"], request_id=passage.request_id)
        if (
            row is None
            or row["state"] != "open"
            or row["environment_id"] != env_id
            or (flag_id is not None and row["flag_id"] != flag_id)
            or len(counted_approvals(conn, org, project, row)) < env["required_approvals"]
        ):
            raise _refusal(env["key"], what)
        return
    member = org_store.get_membership(conn, org_id=org["id"], user_id=actor.user_id)
    if member is None or member["role"] != "owner":
        raise Forbidden(
            "only an owner may bypass an environment's protection", code="bypass_forbidden"
        )
    log.warning(
        "protection of %s/%s bypassed by %s: %r",  # %r: a line break stays on the line
        project["key"], env["key"], actor.email, passage.reason,
    )  # fmt: skip
    record_audit(
        conn,
        rt,
        org_id=org["id"],
        actor=actor,
        action="protection.bypassed",
        resource=env["key"],
        project=project["key"],
        environment=env["key"],
        after={"reason": passage.reason, "what": what},
    )


def refuse_protected(conn: Connection, env_id: int, what: str, *, requestable: bool = True) -> None:
    """Conflict `protected_environment` if the environment is protected (for writes that have
    no passage at all, such as a schedule made directly, or an import)."""
    env = org_store.environment_by_id(conn, env_id)
    if env is not None and env["protected"]:
        raise _refusal(env["key"], what, requestable=requestable)


def protected_where_on(conn: Connection, project: dict[str, Any], flag_id: int) -> list[str]:
    """The protected environments of the project where the flag is on."""
    protected = {
        e["id"]: e["key"]
        for e in org_store.list_environments(conn, project["id"])
        if e["protected"]
    }
    out = []
    for env_id, env_key in protected.items():
        config = flag_store.get_config(conn, flag_id=flag_id, environment_id=env_id)
        if config is not None and config["on"]:
            out.append(env_key)
    return out


def refuse_protected_live(
    conn: Connection, project: dict[str, Any], flag: dict[str, Any], doing: str
) -> None:
    """Conflict `protected_environment` if the flag is on in a protected environment: `doing`
    (archiving, deleting, changing its variations' values) would change what it serves there
    without a change request. Turning it off there (through one, or for an archived flag,
    which takes none, an owner's bypass) comes first."""
    where = protected_where_on(conn, project, flag["id"])
    if where:
        how = "through an approved change request"
        if flag["archived"]:  # no change request is made for an archived flag
            how = "with an owner's emergency bypass (bypass_protection), or lift its protection"
        raise Conflict(
            f"{flag['key']} is on in the protected environment {', '.join(where)}: {doing} it "
            f"would change what it serves there. Turn it off there first, {how}",
            code=PROTECTED,
        )


def refuse_protected_values(
    conn: Connection, project: dict[str, Any], flag: dict[str, Any], indexes: list[int]
) -> None:
    """Conflict `protected_environment` if the flag's configuration in a protected environment
    names one of the variations `indexes` (as its off variation, in targets, a rule or the
    default rule), whether the flag is on there or not: changing those variations' values
    would change what it serves there (or serves once turned on) without a change request."""
    found = []
    for env in org_store.list_environments(conn, project["id"]):
        if not env["protected"]:
            continue
        config = flag_store.get_config(conn, flag_id=flag["id"], environment_id=env["id"])
        if config is None:
            continue
        uses = list(dict.fromkeys(u for i in indexes for u in variation_uses(config, i)))
        if uses:
            found.append(f"{env['key']} ({', '.join(uses)})")
    if found:
        raise Conflict(
            f"{flag['key']} serves the variations whose values this changes in the protected "
            f"environment {'; '.join(found)}: serve other variations there first, through an "
            "approved change request, or lift its protection",
            code=PROTECTED,
        )
