"""What a change request's page shows beyond the request itself: its diff against the
configuration as it is now, and what the reader may do with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..store import flags as flag_store
from .protection import counted_approvals, may_change
from .runtime import Actor
from .schedule_runner import patch_now

__all__ = ["permissions", "request_diff"]


def request_diff(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """The request's diff: `before` (the fields it sets, as they were when it was made or last
    edited), `after`, `current` with `current_version`, and `conflict`: why it could not apply
    now (the scheduled-change rule, `patch_now`), or None."""
    changes = row["changes"]
    current = None
    if row["flag_id"] is not None:
        current = flag_store.get_config(
            conn, flag_id=row["flag_id"], environment_id=row["environment_id"]
        )
    conflict = None
    if current is None:
        conflict = "the flag was deleted"
    elif row["state"] == "open":
        conflict = patch_now(row, current)[1] or None
    return {
        "before": {f: row["base"].get(f) for f in changes},
        "after": changes,
        "current": {f: current[f] for f in changes} if current else None,
        "current_version": current["version"] if current else None,
        "conflict": conflict,
    }


def permissions(
    conn: Connection,
    org: dict[str, Any],
    project: dict[str, Any],
    actor: Actor,
    row: dict[str, Any],
    public: dict[str, Any],
) -> dict[str, bool]:
    """What the caller may do with the request now (the dashboard shows those buttons; the
    service enforces the same rules on each step)."""
    writer = may_change(conn, org, project, actor.user_id)
    author = row["author_id"] == actor.user_id
    open_ = public["state"] in ("open", "approved")
    approvers = {a["user_id"] for a in counted_approvals(conn, org, project, row)}
    return {
        "approve": writer and open_ and not author and actor.user_id not in approvers,
        "reject": writer and open_ and not author,
        "cancel": (author or writer) and public["state"] in ("open", "approved", "scheduled"),
        "edit": writer and author and open_,
        "apply": writer
        and public["state"] == "approved"
        and (author or actor.user_id in approvers),
    }
