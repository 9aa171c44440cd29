"""The scheduler: applies each scheduled change once, at its time, whichever instance runs it.

Every process runs one `ScheduleRunner`. Every `schedule_check_seconds` it lists the pending
schedules whose time has come (by the injectable clock, `Runtime.now`) and applies each in a
transaction of its own that

1. takes the schedule's project guard row (`SELECT ... FOR NO KEY UPDATE` on PostgreSQL; SQLite's
   write transactions are single-writer already), as every write to a flag does: two instances
   waking at once take turns on it, as do a user editing or cancelling the schedule;
2. reads the schedule again under that lock and goes on only if it is still `pending` (the
   claim: the one that comes second finds it applied and leaves it alone);
3. applies it through `Flags.configure`, the call a manual PATCH makes (validation, version,
   audit entry, and live delivery to SDKs by `Runtime.changed` after the commit), or records why
   it cannot; and sets its outcome, with `store.schedules.finish` on the row still pending.

A change whose time passed while no instance ran (the server was down) is applied at the next
check, with a note ("applied 3 h late") on it and in the audit log.

**When the flag changed since scheduling**, the change applies as a patch on top of the
current configuration when that is well defined: always for a toggle (`{"on": ...}` alone);
otherwise when every field it sets still holds the value it had when scheduled (or already holds
the scheduled value). Else it fails, naming the fields someone changed since.

**Webhooks**: `announce()` below is called in the applying transaction with `schedule.applied`
or `schedule.failed`; it writes the audit entry, and `record_audit` writes the webhook event of
that type (services/events.py) in the same transaction. The configuration change itself is
audited and announced (`flag.toggled` or `flag.changed`) by the schedule's author, carrying the
schedule's comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ..store import flags as flag_store
from ..store import orgs as org_store
from ..store import schedules as store
from .access import role_in_project
from .errors import ServiceError
from .runtime import Actor, Runtime, record_audit

if TYPE_CHECKING:
    from .flags import Flags

# What applying a schedule needs (the flag services, protection, change requests) is imported
# when one is first due, inside the functions below: a core with nothing due loads none of it at
# start (the core's start-up memory and time, docs/benchmarks.md).

__all__ = ["ScheduleRunner", "apply_due", "late_note", "patch_now"]

log = logging.getLogger("launchsequence")

#: A change applied later than this after its time carries a note saying how late.
LATE_MS = 60_000


def late_note(late_ms: int) -> str | None:
    """ "applied 3 h late" (rounded down), or None within LATE_MS of its time."""
    if late_ms < LATE_MS:
        return None
    minutes = late_ms // 60_000
    if minutes < 60:
        return f"applied {minutes} min late"
    hours = minutes // 60
    if hours < 48:
        return f"applied {hours} h late"
    return f"applied {hours // 24} days late"


def patch_now(row: dict[str, Any], current: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(the patch to apply to `current`, "") or (None, why it is not well defined)."""
    changes: dict[str, Any] = row["changes"]
    if current["version"] == row["base_version"] or set(changes) == {"on"}:
        return changes, ""
    moved = [f for f in changes if current[f] != row["base"].get(f) and current[f] != changes[f]]
    if moved:
        names = ", ".join(f"`{f}`" for f in moved)
        return None, (
            f"{names} changed since this was scheduled (version {row['base_version']}, now "
            f"{current['version']}): applying it would undo that change. Edit the schedule "
            "to apply it to the current configuration."
        )
    return changes, ""


def announce(
    conn: Connection,
    rt: Runtime,
    *,
    org_id: int,
    action: str,
    row: dict[str, Any],
    project_key: str,
) -> None:
    """Record that a schedule was applied or failed (`action`: `schedule.applied`,
    `schedule.failed`), in the applying transaction: its audit entry and, through
    `record_audit`, its webhook event (see the module's docstring)."""
    from .schedules import public_schedule

    record_audit(
        conn,
        rt,
        org_id=org_id,
        actor=None,
        action=action,
        resource=row["flag_key"],
        project=project_key,
        environment=row["environment_key"],
        flag=row["flag_key"],
        after=public_schedule(row, project_key),
    )


def apply_due(rt: Runtime, flags: Callable[[], Flags], *, limit: int = 100) -> int:
    """Apply every pending schedule whose time has come (up to `limit`); how many this call
    applied or failed (another instance's are not counted). `flags` gives the flag service,
    asked for only when a schedule is due."""
    with rt.db.connect() as conn:
        ids = store.due(conn, now=rt.now(), limit=limit)
    done = 0
    for schedule_id in ids:
        try:
            done += apply_one(rt, flags(), schedule_id)
        except ServiceError as exc:  # e.g. the database answered "unavailable": next check
            log.warning("scheduled change %s could not be applied: %s", schedule_id, exc.message)
    return done


def apply_one(rt: Runtime, flags: Flags, schedule_id: int) -> bool:
    """Apply (or fail) one schedule if it is still pending and due; whether this call did."""
    from .request_outcomes import settle_scheduled

    versions: dict[int, int] = {}
    with rt.write_db.begin() as conn:
        where = store.location(conn, schedule_id)
        if where is None:
            return False
        project = org_store.get_project(
            conn, org_id=where["org_id"], key=where["project_key"], for_update=True
        )
        row = store.get(conn, project_id=where["project_id"], schedule_id=schedule_id)
        now = rt.now()
        if project is None or row is None or row["status"] != "pending" or row["run_at"] > now:
            return False  # another instance applied it, or it was cancelled or moved later
        values: dict[str, Any] = {"finished_at": now, "updated_at": now}
        reason, versions, version = _attempt(conn, rt, flags, where, project, row)
        if reason is None:
            values.update(status="applied", version=version, note=late_note(now - row["run_at"]))
        else:
            values.update(status="failed", reason=reason)
        if not store.finish(conn, schedule_id, values):
            return False
        done = store.get(conn, project_id=where["project_id"], schedule_id=schedule_id)
        assert done is not None
        announce(
            conn,
            rt,
            org_id=where["org_id"],
            action=f"schedule.{done['status']}",
            row=done,
            project_key=where["project_key"],
        )
        settle_scheduled(conn, rt, where=where, project=project, schedule=done)
    rt.changed(versions)
    return True


def _attempt(
    conn: Connection,
    rt: Runtime,
    flags: Flags,
    where: dict[str, Any],
    project: dict[str, Any],
    row: dict[str, Any],
) -> tuple[str | None, dict[int, int], int | None]:
    """(None, versions, new version) when applied; (why not, {}, None) when it cannot be."""
    from .protection import Approved

    flag = store.flag_by_id(conn, row["flag_id"]) if row["flag_id"] is not None else None
    if flag is None:
        return "the flag was deleted", {}, None
    if flag["archived"]:
        return "the flag is archived", {}, None
    if row["author_id"] is None:
        return "its author's account was deleted", {}, None
    role = role_in_project(
        conn, org_id=where["org_id"], project_id=project["id"], user_id=row["author_id"]
    )
    if role is None:
        return "its author is no longer a member of the organization", {}, None
    if role == "viewer":
        return "its author may no longer change flags in this project (viewer)", {}, None
    current = flag_store.get_config(conn, flag_id=flag["id"], environment_id=row["environment_id"])
    if current is None:
        return "the flag has no configuration in this environment", {}, None
    patch, why = patch_now(row, current)
    if patch is None:
        return why, {}, None
    author = Actor(
        user_id=row["author_id"], email=row["author_email"], name=row["author_email"],
        via="schedule", comment=row["comment"] or None,
    )  # fmt: skip
    env = {"id": row["environment_id"], "key": row["environment_key"]}
    org = {"id": where["org_id"], "key": where["org_key"]}
    # A schedule made from an approved change request passes a protected environment's gate
    # (which checks the request is still open and approved); any other is refused there.
    request_id = row.get("change_request_id")
    passage = Approved(request_id) if request_id is not None else None
    try:
        with conn.begin_nested():  # a refusal leaves nothing of the attempt behind
            config, versions = flags.configure(
                conn, author, org, project, flag, env, patch, passage=passage
            )
    except ServiceError as exc:
        field = getattr(exc, "field", None)
        return (f"{field}: {exc.message}" if field else exc.message), {}, None
    return None, versions, int(config["version"])


class ScheduleRunner:
    """The loop: `apply_due` at start and every `every_seconds`, in a worker thread."""

    def __init__(self, rt: Runtime, flags: Callable[[], Flags], every_seconds: float) -> None:
        self.rt = rt
        self.flags = flags
        self.every_seconds = max(0.05, every_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await asyncio.to_thread(apply_due, self.rt, self.flags)
                if failing:
                    log.info("scheduled changes are checked again")
                failing = False
            except Exception as exc:  # noqa: BLE001 - the database may be away: the next check tries again
                if not failing:  # once per outage, not every check; the store logs the cause
                    log.warning("scheduled changes could not be checked: %s", type(exc).__name__)
                failing = True
            await asyncio.sleep(self.every_seconds)
