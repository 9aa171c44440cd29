"""Scheduled changes: a configuration change to one flag in one environment, applied at a time.

A schedule holds a PATCH body (`changes`: the same fields as PATCH of a flag's environment
configuration, a toggle being `{"on": true}`), its time, a comment and its author. It stays
editable and cancellable while `pending`; the scheduler (`schedule_runner.py`) applies it once,
through `Flags.configure` (the same validation, versions, audit entry and live delivery as a
change made by hand), or marks it `failed` with a reason shown wherever it is listed.

Every write here takes the project's guard row first (decision 0004), as every flag write does,
so an edit, a cancel and the scheduler applying it take turns: the later one finds it applied
and answers Conflict (or, for the scheduler, leaves it alone).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ..store import flags as flag_store
from ..store import schedules as store
from .access import environment_for, flag_for, org_for, project_access, project_for
from .errors import Conflict, Invalid, NotFound
from .flags import Flags
from .protection import refuse_protected
from .runtime import Actor, Runtime, check_note, record_audit

__all__ = [
    "STATUSES",
    "Schedules",
    "add_pending",
    "check_when",
    "checked_changes",
    "parse_time",
    "public_schedule",
]

STATUSES = ("pending", "applied", "failed", "cancelled")
#: How far ahead a change may be scheduled, and how far back a time may lie (a form filled in
#: a minute ago, or a clock a little behind): such a change applies at the next check.
MAX_AHEAD_MS = 10 * 365 * 24 * 3600 * 1000
GRACE_MS = 5 * 60 * 1000


def parse_time(value: Any, field: str = "at") -> int:
    """Unix milliseconds from an integer (Unix ms) or an ISO 8601 text with a time zone."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 2**53:
            raise Invalid("must be a time in Unix milliseconds", field=field)
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return int(parsed.timestamp() * 1000)
    raise Invalid(
        'must be a time: ISO 8601 with a time zone ("2026-12-24T09:00:00Z") or Unix milliseconds',
        field=field,
    )


def checked_changes(
    flags: Flags,
    conn: Connection,
    actor: Actor,
    org: dict[str, Any],
    project: dict[str, Any],
    flag: dict[str, Any],
    env: dict[str, Any],
    changes: Any,
    *,
    doing: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A change waiting to apply (a schedule's, a change request's), checked as it is made or
    edited: `changes` is a non-empty PATCH body of the flag's configuration in `env` (Invalid
    `changes`), the flag is not archived (Conflict `flag_archived`: restore it to `doing`) and
    the change would apply now (a dry run of `Flags.configure`; Invalid names
    `changes.<field>`). Answers (a copy of `changes`, the base: the fields it touches with
    their values now, and the configuration's `version`)."""
    if not isinstance(changes, dict) or not changes:
        raise Invalid("must change at least one configuration field", field="changes")
    if flag["archived"]:
        raise Conflict(f"the flag is archived: restore it to {doing}", code="flag_archived")
    changes = copy.deepcopy(changes)
    try:
        flags.configure(conn, actor, org, project, flag, env, changes, dry_run=True)
    except Invalid as exc:
        exc.field = f"changes.{exc.field}" if exc.field else "changes"
        raise
    current = flag_store.get_config(conn, flag_id=flag["id"], environment_id=env["id"])
    if current is None:
        raise NotFound("no such flag")
    return changes, {"version": current["version"], **{f: current[f] for f in changes}}


def public_schedule(row: dict[str, Any], project_key: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project": project_key,
        "flag": row["flag_key"],
        "environment": row["environment_key"],
        "at": row["run_at"],
        "changes": row["changes"],
        "comment": row["comment"],
        "author": row["author_email"],
        "status": row["status"],
        "reason": row["reason"],
        "note": row["note"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "finished_at": row["finished_at"],
        "change_request": row.get("change_request_id"),
    }


def check_when(value: Any, now: int) -> int:
    """The time a change is to apply (`parse_time`), in ms: Invalid (field `at`) when it is in
    the past (beyond a few seconds' grace) or more than ten years ahead."""
    at = parse_time(value)
    if at < now - GRACE_MS:
        raise Invalid("must not be in the past", field="at")
    if at > now + MAX_AHEAD_MS:
        raise Invalid("must be within ten years", field="at")
    return at


def add_pending(
    conn: Connection,
    actor: Actor,
    *,
    project_id: int,
    environment_id: int,
    flag: dict[str, Any],
    at: int,
    changes: Any,
    base: dict[str, Any],
    base_version: int,
    comment: str | None,
    now: int,
    change_request_id: int | None = None,
) -> int:
    """Store a pending scheduled change by `actor` (its id): the one shape every schedule has,
    whether made directly or by an approved change request (`change_request_id`)."""
    row: dict[str, Any] = {
        "project_id": project_id,
        "environment_id": environment_id,
        "flag_id": flag["id"],
        "flag_key": flag["key"],
        "run_at": at,
        "changes": changes,
        "base": base,
        "base_version": base_version,
        "comment": comment,
        "author_id": actor.user_id,
        "author_email": actor.email,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
    }
    if change_request_id is not None:
        row["change_request_id"] = change_request_id
    return store.create(conn, row)


class Schedules:
    """Create, list, read, edit and cancel scheduled changes; `apply` is the scheduler's."""

    def __init__(self, rt: Runtime, flags: Flags) -> None:
        self.rt = rt
        self.flags = flags

    # --- reading -----------------------------------------------------------------------------

    def list_schedules(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        *,
        flag_key: str | None = None,
        env_key: str | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """The project's schedules (or one flag's, or one environment's): pending first by
        time, then the finished ones, latest first. NotFound for a flag or environment the
        project lacks, as for another organization's."""
        if status is not None and status not in STATUSES:
            raise Invalid(f"must be one of {', '.join(STATUSES)}", field="status")
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            flag_id = flag_for(conn, project, flag_key)["id"] if flag_key else None
            env_id = environment_for(conn, project, env_key)["id"] if env_key else None
            rows = store.list_for(
                conn, project_id=project["id"], flag_id=flag_id, environment_id=env_id,
                status=status,
            )  # fmt: skip
        return [public_schedule(r, project_key) for r in rows]

    def get_schedule(
        self, actor: Actor, org_key: str, project_key: str, schedule_id: int
    ) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            row = self._row(conn, project, schedule_id)
        return public_schedule(row, project_key)

    @staticmethod
    def _row(
        conn: Connection, project: dict[str, Any], schedule_id: int, *, lock: bool = False
    ) -> dict[str, Any]:
        row = store.get(conn, project_id=project["id"], schedule_id=schedule_id, for_update=lock)
        if row is None:
            raise NotFound("no such scheduled change")
        return row

    # --- writing -----------------------------------------------------------------------------

    def _when(self, value: Any) -> int:
        return check_when(value, self.rt.now())

    def _checked(
        self,
        conn: Connection,
        actor: Actor,
        org: dict[str, Any],
        project: dict[str, Any],
        flag: dict[str, Any],
        env: dict[str, Any],
        changes: Any,
    ) -> dict[str, Any]:
        """The fields `changes` touches with their values now (and `version`), after checking
        (`checked_changes`) that it would apply now; a protected environment's schedules come
        from approved change requests only."""
        refuse_protected(conn, env["id"], f"scheduling a change to {flag['key']}")
        _, base = checked_changes(
            self.flags, conn, actor, org, project, flag, env, changes, doing="schedule a change"
        )
        return base

    def create(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        flag_key: str,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        """Schedule `body["changes"]` for `body["environment"]` at `body["at"]`, with
        `body["comment"]`. Invalid (field `changes.*`) when the change would be refused now."""
        at = self._when(body.get("at"))
        comment = check_note(body.get("comment"), "comment")
        env_key = body.get("environment")
        if not isinstance(env_key, str):
            raise Invalid("is required", field="environment")
        changes = body.get("changes")
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            flag = flag_for(conn, project, flag_key)
            env = environment_for(conn, project, env_key)
            base = self._checked(conn, actor, org, project, flag, env, changes)
            schedule_id = add_pending(
                conn,
                actor,
                project_id=project["id"],
                environment_id=env["id"],
                flag=flag,
                at=at,
                changes=changes,
                base={k: v for k, v in base.items() if k != "version"},
                base_version=base["version"],
                comment=comment,
                now=now,
            )
            row = self._row(conn, project, schedule_id)
            out = public_schedule(row, project_key)
            self._audit(conn, org, actor, "schedule.created", row, project_key, after=out)
        return out

    def edit(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        schedule_id: int,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        """Change a pending schedule's time, changes or comment. New `changes` are checked
        against the configuration as it is now, which becomes their base (the edit is made
        seeing it). Conflict once it is applied, failed or cancelled."""
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            row = self._row(conn, project, schedule_id, lock=True)
            self._still_pending(row)
            values: dict[str, Any] = {"updated_at": self.rt.now()}
            if "at" in body:
                values["run_at"] = self._when(body["at"])
            if "comment" in body:
                values["comment"] = check_note(body["comment"], "comment")
            if "changes" in body:
                if row.get("change_request_id") is not None:
                    raise Conflict(
                        "this schedule applies an approved change request: edit the request "
                        "instead (its approvals are then voided)",
                        code="protected_environment",
                    )
                if row["flag_id"] is None:
                    raise Conflict("the flag was deleted", code="flag_deleted")
                flag = store.flag_by_id(conn, row["flag_id"])
                assert flag is not None
                env = environment_for(conn, project, row["environment_key"])
                base = self._checked(conn, actor, org, project, flag, env, body["changes"])
                values["changes"] = body["changes"]
                values["base_version"] = base.pop("version")
                values["base"] = base
            store.update_pending(conn, schedule_id, values)
            after = self._row(conn, project, schedule_id)
            out = public_schedule(after, project_key)
            self._audit(
                conn, org, actor, "schedule.updated", row, project_key,
                before=public_schedule(row, project_key), after=out,
            )  # fmt: skip
        return out

    def cancel(
        self, actor: Actor, org_key: str, project_key: str, schedule_id: int
    ) -> dict[str, Any]:
        """Cancel a pending schedule (it stays listed, `cancelled`). Conflict once applied."""
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            row = self._row(conn, project, schedule_id, lock=True)
            self._still_pending(row)
            now = self.rt.now()
            store.finish(
                conn, schedule_id, {"status": "cancelled", "finished_at": now, "updated_at": now}
            )
            after = self._row(conn, project, schedule_id)
            out = public_schedule(after, project_key)
            self._audit(conn, org, actor, "schedule.cancelled", row, project_key, after=out)
        return out

    @staticmethod
    def _still_pending(row: dict[str, Any]) -> None:
        if row["status"] != "pending":
            raise Conflict(
                f"this scheduled change is {row['status']}: only a pending one can be changed",
                code="schedule_finished",
            )

    def _audit(
        self,
        conn: Connection,
        org: dict[str, Any],
        actor: Actor | None,
        action: str,
        row: dict[str, Any],
        project_key: str,
        *,
        before: Any = None,
        after: Any = None,
    ) -> None:
        record_audit(
            conn,
            self.rt,
            org_id=org["id"],
            actor=actor,
            action=action,
            resource=row["flag_key"],
            project=project_key,
            environment=row["environment_key"],
            flag=row["flag_key"],
            before=before,
            after=after,
        )
