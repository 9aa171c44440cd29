"""Reading the audit log: who changed what, when, with the before and after."""

from __future__ import annotations

from typing import Any

from ..store import audit as store
from .errors import Invalid
from .orgs import org_for
from .runtime import Actor, Runtime

__all__ = ["Audit"]


class Audit:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def list_entries(
        self,
        actor: Actor,
        org_key: str,
        *,
        project: str | None = None,
        environment: str | None = None,
        flag: str | None = None,
        flags_only: bool = False,
        member: str | None = None,
        action: str | None = None,
        since: int | None = None,
        until: int | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """A page of entries, newest first, and the cursor of the next page (None at the end).
        `flags_only` keeps the entries about a flag (created, changed, deleted, imported);
        `member` the entries of one author (email); `action` one action or, ending with ".",
        a family ("flag."); `since`/`until` a time range (Unix ms). Each entry has the
        author's current name as `actor_name` (None once the account is gone)."""
        if not 1 <= limit <= 500:
            raise Invalid("must be 1 to 500", field="limit")
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            rows = store.list_entries(
                conn,
                org_id=org["id"],
                project=project,
                environment=environment,
                flag=flag,
                flags_only=flags_only,
                actor=member.strip().lower() if member else None,
                action=action,
                since=since,
                until=until,
                before_id=before,
                limit=limit + 1,
            )
        entries = [
            {
                k: r[k]
                for k in (
                    "id",
                    "at",
                    "actor",
                    "actor_name",
                    "action",
                    "resource",
                    "project",
                    "environment",
                    "flag",
                    "before",
                    "after",
                    "comment",
                )
            }
            for r in rows[:limit]
        ]
        return {"entries": entries, "next": entries[-1]["id"] if len(rows) > limit else None}
