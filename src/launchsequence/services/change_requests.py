"""Change requests: how a configuration change reaches a protected environment.

A request holds a PATCH body (`changes`, as PATCH of a flag's configuration in one environment:
a toggle is `{"on": true}`), the values those fields had when it was made (`base`, at
`base_version`), a comment and its author. It needs approval by `required_approvals` members
other than its author (the environment's setting), then the author or an approver applies it,
now or at a time (a scheduled change that carries the request's approval through the gate).

- Editing a request (its changes or its comment) starts a new `revision`: approvals count only
  for the revision they approved, so an edit voids them. An approval may name the revision it
  approves; a request edited meanwhile answers Conflict `request_changed`.
- Every step takes the project's guard row and then the request's row (decision 0004): an edit
  racing an approval, an application or the scheduler resolves as if one came first.
- Applying follows the scheduled-change rule: if the flag changed since the request was made,
  it applies as a patch on top when every field it sets still holds its base value (or already
  holds the requested one; a toggle always applies), else it is refused naming the fields.
- Each step is audited and announced to webhooks (`change_request.*`); opening and editing a
  request mail the members who may approve it, when mail is configured.

Who may do what goes through `protection.may_change` (the one role check).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from sqlalchemy import Connection

from ..store import change_requests as store
from ..store import flags as flag_store
from ..store import schedules as schedule_store
from .access import environment_for, flag_for, project_access
from .errors import Conflict, Forbidden, Invalid, NotFound
from .flags import Flags, with_rule_ids
from .mail import Mailer
from .protection import Approved, counted_approvals
from .request_mail import approvers_of, mail_approvers
from .request_outcomes import STATES, announce, public_request
from .request_views import permissions, request_diff
from .runtime import Actor, Runtime, check_note, with_comment
from .schedule_runner import patch_now
from .schedules import add_pending, check_when, checked_changes, public_schedule

__all__ = ["ChangeRequests"]

log = logging.getLogger("launchsequence")

MAX_REASON = 1000


def _applied_note(row: dict[str, Any]) -> str:
    """The comment of the change a request makes: its number, then its own comment."""
    return f"change request #{row['id']}: {row['comment'] or ''}".rstrip(": ")


class ChangeRequests:
    """Open, list, read, edit, approve, reject, cancel and apply change requests."""

    def __init__(self, rt: Runtime, flags: Flags, mailer: Mailer | None = None) -> None:
        self.rt = rt
        self.flags = flags
        self.mailer = mailer

    # --- reading -----------------------------------------------------------------------------

    def list_requests(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        *,
        state: str | None = None,
        env_key: str | None = None,
        flag_key: str | None = None,
        waiting: bool = False,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """The project's requests, newest first (at most `limit`), optionally only those in
        `state` (a public state: `approved` and `scheduled` are open requests), or with
        `waiting` only those not closed (open, approved or scheduled), of one environment or
        one flag. The requests and their approvals are read in one query each. NotFound for
        a flag or environment the project lacks, as for another organization's."""
        if state is not None and state not in STATES:
            raise Invalid(f"must be one of {', '.join(STATES)}", field="state")
        stored = ("open",) if waiting else None
        if state is not None:
            stored = ("open",) if state in ("open", "approved", "scheduled") else (state,)
        with self.rt.db.connect() as conn:
            org, project = project_access(conn, actor, org_key, project_key)
            flag_id = flag_for(conn, project, flag_key)["id"] if flag_key else None
            env_id = environment_for(conn, project, env_key)["id"] if env_key else None
            rows = store.list_for(
                conn, project_id=project["id"], flag_id=flag_id, environment_id=env_id,
                states=stored, limit=limit,
            )  # fmt: skip
            every = store.approvals_of(conn, [r["id"] for r in rows])
            writers: dict[int, bool] = {}
            out = [
                public_request(conn, org, project, r, every=every.get(r["id"], []), writers=writers)
                for r in rows
            ]
        return [r for r in out if state is None or r["state"] == state]

    def get(self, actor: Actor, org_key: str, project_key: str, request_id: int) -> dict[str, Any]:
        """The request with its `diff`: `before` (the fields it sets, as they were when it was
        made or last edited), `after` (as it sets them), `current` (as they are now, with the
        configuration's `current_version`), and `conflict`: why it could not apply now, or
        null."""
        with self.rt.db.connect() as conn:
            org, project = project_access(conn, actor, org_key, project_key)
            row = self._row(conn, project, request_id)
            out = public_request(conn, org, project, row)
            out["diff"] = request_diff(conn, row)
            out["may"] = permissions(conn, org, project, actor, row, out)
        return out

    @staticmethod
    def _row(
        conn: Connection, project: dict[str, Any], request_id: int, *, lock: bool = False
    ) -> dict[str, Any]:
        row = store.get(conn, project_id=project["id"], request_id=request_id, for_update=lock)
        if row is None:
            raise NotFound("no such change request")
        return row

    # --- writing -----------------------------------------------------------------------------

    def _scope(
        self, conn: Connection, actor: Actor, org_key: str, project_key: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The organization and the project, locked, for a member who may change it."""
        return project_access(conn, actor, org_key, project_key, write=True, lock=True)

    def _checked(
        self,
        conn: Connection,
        actor: Actor,
        org: dict[str, Any],
        project: dict[str, Any],
        flag: dict[str, Any],
        env: dict[str, Any],
        changes: Any,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(`changes` as stored: rules given ids, the base: the fields it sets as they are now
        with `version`), after checking (`checked_changes`) it would apply now and change
        something."""
        if isinstance(changes, dict) and isinstance(changes.get("rules"), list):
            changes = {**changes, "rules": with_rule_ids(copy.deepcopy(changes["rules"]))}
        changes, base = checked_changes(
            self.flags, conn, actor, org, project, flag, env, changes, doing="request a change"
        )
        if all(base[f] == v for f, v in changes.items()):
            raise Invalid("changes nothing: the configuration is already so", field="changes")
        return changes, base

    def create(
        self, actor: Actor, org_key: str, project_key: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Open a request to apply `body["changes"]` to flag `body["flag"]` in protected
        environment `body["environment"]`, with `body["comment"]`. Conflict `not_protected` in
        an environment that is not protected (write the change directly there)."""
        comment = check_note(body.get("comment"), "comment")
        for field in ("flag", "environment"):
            if not isinstance(body.get(field), str):
                raise Invalid("is required", field=field)
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key)
            flag = flag_for(conn, project, body["flag"])
            env = environment_for(conn, project, body["environment"])
            out, recipients = self.open_in(
                conn, actor, org, project, flag, env, body.get("changes"), comment
            )
        self.mail_opened(org_key, out, recipients)
        return out

    def open_in(
        self,
        conn: Connection,
        actor: Actor,
        org: dict[str, Any],
        project: dict[str, Any],
        flag: dict[str, Any],
        env: dict[str, Any],
        changes: Any,
        comment: str,
    ) -> tuple[dict[str, Any], list[str]]:
        """`create` in the caller's transaction (which holds the project's lock, taken by a
        member who may change it, and checked `comment`): the request as answered, and whom to
        mail (`mail_opened`, after the commit)."""
        if not env["protected"]:
            raise Conflict(
                f"{env['key']} is not protected: change the flag there directly",
                code="not_protected",
            )
        now = self.rt.now()
        changes, base = self._checked(conn, actor, org, project, flag, env, changes)
        request_id = store.create(
            conn,
            {
                "project_id": project["id"],
                "environment_id": env["id"],
                "flag_id": flag["id"],
                "flag_key": flag["key"],
                "changes": changes,
                "base_version": base.pop("version"),
                "base": base,
                "comment": comment,
                "revision": 1,
                "author_id": actor.user_id,
                "author_email": actor.email,
                "state": "open",
                "created_at": now,
                "updated_at": now,
            },
        )
        out = public_request(conn, org, project, self._row(conn, project, request_id))
        announce(conn, self.rt, org, with_comment(actor, comment), "change_request.opened", out)
        return out, approvers_of(conn, org, project, actor.user_id)

    def mail_opened(self, org_key: str, request: dict[str, Any], recipients: list[str]) -> None:
        """Mail the members who may approve a request just opened (after its commit)."""
        mail_approvers(self.mailer, self.rt, recipients, org_key, request, "opened")

    def edit(
        self, actor: Actor, org_key: str, project_key: str, request_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The author changes the request's `changes` (checked against, and based on, the
        configuration as it is now) or `comment`: a new revision, voiding its approvals.
        Forbidden `not_author` for anyone else; Conflict once it is scheduled or closed."""
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key)
            row = self._row(conn, project, request_id, lock=True)
            self._still_open(row)
            if row["author_id"] != actor.user_id:
                raise Forbidden("only its author edits a change request", code="not_author")
            if self._scheduled(row):
                raise Conflict(
                    "this request is scheduled: cancel its schedule first", code="request_scheduled"
                )
            before = public_request(conn, org, project, row)
            values: dict[str, Any] = {"revision": row["revision"] + 1, "updated_at": self.rt.now()}
            if "comment" in body:
                values["comment"] = check_note(body["comment"], "comment")
            if "changes" in body:
                if row["flag_id"] is None:
                    raise Conflict("the flag was deleted", code="flag_deleted")
                flag = schedule_store.flag_by_id(conn, row["flag_id"])
                if flag is None:
                    raise Conflict("the flag was deleted", code="flag_deleted")
                env = environment_for(conn, project, row["environment_key"])
                changes, base = self._checked(conn, actor, org, project, flag, env, body["changes"])
                values.update(changes=changes, base_version=base.pop("version"), base=base)
            if len(values) == 2:
                raise Invalid("give changes or comment", field="changes")
            store.update_open(conn, request_id, values)
            out = public_request(conn, org, project, self._row(conn, project, request_id))
            announce(conn, self.rt, org, actor, "change_request.updated", out, before=before)
            recipients = approvers_of(conn, org, project, actor.user_id)
        mail_approvers(self.mailer, self.rt, recipients, org_key, out, "changed (approvals voided)")
        return out

    def approve(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        request_id: int,
        *,
        revision: int | None = None,
    ) -> dict[str, Any]:
        """Approve the request's current revision (or only `revision`: Conflict
        `request_changed` if it was edited since). Forbidden `self_approval` for its author;
        Conflict `already_approved` for a second approval of one revision."""
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key)
            row = self._row(conn, project, request_id, lock=True)
            self._still_open(row)
            if self._scheduled(row):
                raise Conflict("this request is already scheduled", code="request_scheduled")
            if row["author_id"] == actor.user_id:
                raise Forbidden(
                    "you opened this request: someone else must approve it", code="self_approval"
                )
            if revision is not None and revision != row["revision"]:
                raise Conflict(
                    f"the request was edited since you read it (revision {revision}, now "
                    f"{row['revision']}): read it again before approving",
                    code="request_changed",
                )
            mine = store.current_approvers(conn, request_id, row["revision"])
            if any(a["user_id"] == actor.user_id for a in mine):
                raise Conflict("you approved this revision already", code="already_approved")
            store.add_approval(
                conn, request_id=request_id, user_id=actor.user_id, email=actor.email,
                revision=row["revision"], at=self.rt.now(),
            )  # fmt: skip
            out = public_request(conn, org, project, self._row(conn, project, request_id))
            announce(conn, self.rt, org, actor, "change_request.approved", out)
        return out

    def reject(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        request_id: int,
        *,
        reason: Any = None,
    ) -> dict[str, Any]:
        """Close the request as rejected (by a member who may approve it; its author cancels
        instead), with an optional reason; a pending schedule of it is cancelled."""
        return self._close(actor, org_key, project_key, request_id, "rejected", reason)

    def cancel(
        self, actor: Actor, org_key: str, project_key: str, request_id: int
    ) -> dict[str, Any]:
        """Close the request as cancelled (its author, or a member who may change the
        project); a pending schedule of it is cancelled."""
        return self._close(actor, org_key, project_key, request_id, "cancelled", None)

    def _close(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        request_id: int,
        state: str,
        reason: Any,
    ) -> dict[str, Any]:
        why = check_note(reason, "reason", limit=MAX_REASON) or None
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key)
            row = self._row(conn, project, request_id, lock=True)
            self._still_open(row)
            if state == "rejected" and row["author_id"] == actor.user_id:
                raise Forbidden("you opened this request: cancel it instead", code="self_approval")
            now = self.rt.now()
            if self._scheduled(row):
                schedule_store.finish(
                    conn, row["schedule_id"],
                    {"status": "cancelled", "finished_at": now, "updated_at": now},
                )  # fmt: skip
            store.close(
                conn, request_id,
                {"state": state, "reason": why, "closed_by": actor.email, "closed_at": now,
                 "updated_at": now},
            )  # fmt: skip
            out = public_request(conn, org, project, self._row(conn, project, request_id))
            announce(conn, self.rt, org, actor, f"change_request.{state}", out)
        return out

    def apply(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        request_id: int,
        *,
        at: Any = None,
    ) -> dict[str, Any]:
        """Apply an approved request now (the configuration changes, through the gate with the
        request's approval), or at `at` (a scheduled change that carries the approval; the
        request is `scheduled` until the scheduler applies it, then `applied` or `failed`).

        By its author or one of its approvers only (Forbidden `not_approver`); Conflict
        `not_approved` without enough approvals of its current revision; Conflict
        `request_stale`, with the reason, when the flag changed since in a way that applying it
        would undo (edit the request to base it on the configuration as it is now).
        """
        when = self._when(at) if at is not None else None
        versions: dict[int, int] = {}
        with self.rt.write_db.begin() as conn:
            org, project = self._scope(conn, actor, org_key, project_key)
            row = self._row(conn, project, request_id, lock=True)
            self._still_open(row)
            if self._scheduled(row):
                raise Conflict(
                    "this request is already scheduled: cancel its schedule to apply it now",
                    code="request_scheduled",
                )
            approvers = counted_approvals(conn, org, project, row)
            if row["author_id"] != actor.user_id and all(
                a["user_id"] != actor.user_id for a in approvers
            ):
                raise Forbidden(
                    "only its author or an approver applies a change request", code="not_approver"
                )
            if len(approvers) < row["required_approvals"]:
                raise Conflict(
                    f"it has {len(approvers)} of the {row['required_approvals']} approvals it "
                    "needs",
                    code="not_approved",
                )
            flag = (
                schedule_store.flag_by_id(conn, row["flag_id"])
                if row["flag_id"] is not None
                else None
            )
            if flag is None or flag["archived"]:
                raise Conflict(
                    "the flag was deleted or archived since this request was made",
                    code="flag_archived",
                )
            current = flag_store.get_config(
                conn, flag_id=flag["id"], environment_id=row["environment_id"], for_update=True
            )
            assert current is not None
            patch, why = patch_now(row, current)
            if patch is None:
                raise Conflict(why, code="request_stale")
            env = environment_for(conn, project, row["environment_key"])
            now = self.rt.now()
            if when is not None:
                out = self._schedule(conn, actor, org, project, row, when, now)
            else:
                applier = with_comment(actor, _applied_note(row))
                config, versions = self.flags.configure(
                    conn, applier, org, project, flag, env, patch, passage=Approved(row["id"])
                )
                store.close(
                    conn, request_id,
                    {"state": "applied", "version": config["version"], "closed_by": actor.email,
                     "closed_at": now, "updated_at": now},
                )  # fmt: skip
                out = public_request(conn, org, project, self._row(conn, project, request_id))
                announce(conn, self.rt, org, actor, "change_request.applied", out)
        self.rt.changed(versions)
        return out

    def _schedule(
        self,
        conn: Connection,
        actor: Actor,
        org: dict[str, Any],
        project: dict[str, Any],
        row: dict[str, Any],
        at: int,
        now: int,
    ) -> dict[str, Any]:
        """Schedule the approved request at `at`; the request as it is then."""
        schedule_id = add_pending(
            conn,
            actor,
            project_id=project["id"],
            environment_id=row["environment_id"],
            flag={"id": row["flag_id"], "key": row["flag_key"]},
            at=at,
            changes=row["changes"],
            base=row["base"],
            base_version=row["base_version"],
            comment=_applied_note(row),
            now=now,
            change_request_id=row["id"],
        )
        store.update_open(conn, row["id"], {"schedule_id": schedule_id, "updated_at": now})
        schedule = schedule_store.get(conn, project_id=project["id"], schedule_id=schedule_id)
        assert schedule is not None
        out = public_request(conn, org, project, self._row(conn, project, row["id"]))
        announce(conn, self.rt, org, actor, "change_request.scheduled", out)
        out["schedule_detail"] = public_schedule(schedule, project["key"])
        return out

    def _when(self, value: Any) -> int:
        return check_when(value, self.rt.now())

    @staticmethod
    def _scheduled(row: dict[str, Any]) -> bool:
        return row["schedule_id"] is not None and row["schedule_status"] == "pending"

    @staticmethod
    def _still_open(row: dict[str, Any]) -> None:
        if row["state"] != "open":
            raise Conflict(
                f"this change request is {row['state']}: only an open one can be changed",
                code="request_closed",
            )
