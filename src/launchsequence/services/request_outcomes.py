"""A change request as answered, and its announcements: shared by the change-request service
and the scheduler (which settles a request whose application was scheduled).

A request's public `state` is derived from its stored one: a stored `open` request is
`scheduled` while its schedule is pending, `approved` once enough members approved its current
revision, else `open`. `applied`, `rejected`, `cancelled` and `failed` are final.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..store import change_requests as store
from ..store import flags as flag_store
from ..store import orgs as org_store
from .protection import may_change
from .runtime import Actor, Runtime, record_audit, with_comment
from .variations import variation_uses

__all__ = ["STATES", "announce", "public_request", "settle_scheduled", "void_naming"]

STATES = ("open", "approved", "scheduled", "applied", "rejected", "cancelled", "failed")


def public_request(
    conn: Connection,
    org: dict[str, Any],
    project: dict[str, Any],
    row: dict[str, Any],
    *,
    every: list[dict[str, Any]] | None = None,
    writers: dict[int, bool] | None = None,
) -> dict[str, Any]:
    """The request as the API answers it (without its diff: `ChangeRequests.get` adds that).

    An open request's `approvals` are those of its revision that count now (as
    `counted_approvals`: by others than its author who may still change the project); a
    closed one's are those its last revision had, by others than its author, as they were
    when it closed, whatever roles are today. A list passes `every` (the request's approvals,
    as `store.approvals` reads them) and one `writers` cache (user id: may change the
    project) for all its requests, so that it reads them once."""
    if every is None:
        every = store.approvals(conn, row["id"])
    writers = {} if writers is None else writers
    current = [
        a
        for a in every
        if a["revision"] == row["revision"]
        and (a["user_id"] is None or a["user_id"] != row["author_id"])
    ]
    counted = current
    if row["state"] == "open":
        counted = []
        for a in current:
            uid = a["user_id"]
            if uid is None:
                continue
            if uid not in writers:
                writers[uid] = may_change(conn, org, project, uid)
            if writers[uid]:
                counted.append(a)
    required = int(row["required_approvals"])
    state = row["state"]
    if state == "open":
        if row["schedule_id"] is not None and row["schedule_status"] == "pending":
            state = "scheduled"
        elif len(counted) >= required:
            state = "approved"
    return {
        "id": row["id"],
        "project": project["key"],
        "flag": row["flag_key"],
        "environment": row["environment_key"],
        "changes": row["changes"],
        "base": row["base"],
        "base_version": row["base_version"],
        "comment": row["comment"],
        "author": row["author_email"],
        "state": state,
        "revision": row["revision"],
        "approvals": [{"by": a["user_email"], "at": a["created_at"]} for a in counted],
        "approvals_required": required,
        "voided_approvals": sum(1 for a in every if a["revision"] != row["revision"]),
        "apply_at": row["schedule_at"] if state == "scheduled" else None,
        "schedule": row["schedule_id"],
        "closed_by": row["closed_by"],
        "reason": row["reason"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "closed_at": row["closed_at"],
    }


def announce(
    conn: Connection,
    rt: Runtime,
    org: dict[str, Any],
    actor: Actor | None,
    action: str,
    request: dict[str, Any],
    *,
    before: Any = None,
) -> None:
    """The audit entry and webhook event (`action`, a `change_request.*` type) of a step in the
    request's life, in the caller's transaction; `after` is the request as it is now."""
    record_audit(
        conn,
        rt,
        org_id=org["id"],
        actor=actor,
        action=action,
        resource=request["flag"],
        project=request["project"],
        environment=request["environment"],
        flag=request["flag"],
        before=before,
        after=request,
    )


def settle_scheduled(
    conn: Connection,
    rt: Runtime,
    *,
    where: dict[str, Any],
    project: dict[str, Any],
    schedule: dict[str, Any],
) -> None:
    """After the scheduler finished `schedule` (applied or failed) in this transaction: close
    the change request it applies the same way, and announce it."""
    request_id = schedule.get("change_request_id")
    if request_id is None:
        return
    row = store.get(conn, project_id=project["id"], request_id=request_id)
    if row is None or row["state"] != "open":
        return
    now = rt.now()
    applied = schedule["status"] == "applied"
    values: dict[str, Any] = {
        "state": "applied" if applied else "failed",
        "closed_at": now,
        "updated_at": now,
        "closed_by": schedule["author_email"],
    }
    if applied:
        values["version"] = schedule["version"]
    else:
        values["reason"] = schedule["reason"]
    store.close(conn, request_id, values)
    org = {"id": where["org_id"], "key": where["org_key"]}
    member = org_store.get_membership(conn, org_id=org["id"], user_id=schedule["author_id"] or 0)
    actor = None
    if member is not None:
        actor = Actor(
            user_id=schedule["author_id"], email=schedule["author_email"],
            name=schedule["author_email"], via="schedule",
        )  # fmt: skip
    done = store.get(conn, project_id=project["id"], request_id=request_id)
    assert done is not None
    announce(
        conn, rt, org, actor, f"change_request.{values['state']}",
        public_request(conn, org, project, done),
    )  # fmt: skip


def void_naming(
    conn: Connection,
    rt: Runtime,
    org: dict[str, Any],
    project: dict[str, Any],
    actor: Actor,
    flag: dict[str, Any],
    indexes: list[int],
) -> None:
    """The values of the flag's variations `indexes` are changing (in the caller's transaction,
    under the project's lock): every open request of the flag that would serve one of them
    (its changes on top of the configuration as it is) starts a new revision, which voids its
    approvals, so that nobody's approval applies a value they did not see. Each is announced
    as `change_request.updated`; a scheduled one then fails at its time, unapproved."""
    for row in store.list_for(conn, project_id=project["id"], flag_id=flag["id"], states=("open",)):
        config = flag_store.get_config(
            conn, flag_id=flag["id"], environment_id=row["environment_id"]
        )
        serving = {**(config or {}), **row["changes"]}
        if not any(variation_uses(serving, i) for i in indexes):
            continue
        before = public_request(conn, org, project, row)
        store.update_open(
            conn, row["id"], {"revision": row["revision"] + 1, "updated_at": rt.now()}
        )
        done = store.get(conn, project_id=project["id"], request_id=row["id"])
        assert done is not None
        why = "approvals voided: the values of variations it serves were changed"
        announce(
            conn, rt, org, with_comment(actor, why), "change_request.updated",
            public_request(conn, org, project, done), before=before,
        )  # fmt: skip
