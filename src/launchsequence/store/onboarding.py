"""What a project's first-steps checklist is ticked from: a flag made, an application seen,
an evaluation counted (each one indexed lookup of at most one row)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select, select

from .tables import flags, usage_applications, usage_daily, usage_hourly

__all__ = ["progress"]


def progress(conn: Connection, project_id: int, env_ids: Iterable[int]) -> dict[str, bool]:
    """{"flag": the project has a flag (archived ones count), "application": an application
    was ever seen in one of `env_ids`, "evaluation": an evaluation was ever counted in one}."""
    envs = list(env_ids)

    def exists(query: Select[Any]) -> bool:
        return conn.execute(query.limit(1)).first() is not None

    has_flag = exists(select(flags.c.id).where(flags.c.project_id == project_id))
    seen = bool(envs) and exists(
        select(usage_applications.c.environment_id).where(
            usage_applications.c.environment_id.in_(envs)
        )
    )
    counted = bool(envs) and any(
        exists(select(t.c.environment_id).where(t.c.environment_id.in_(envs)))
        for t in (usage_hourly, usage_daily)
    )
    return {"flag": has_flag, "application": seen, "evaluation": counted}
