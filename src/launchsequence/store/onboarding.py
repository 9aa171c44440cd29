"""What a project's first-steps checklist is ticked from: a flag made, an application seen,
an evaluation counted (one query of indexed lookups, each of at most one row)."""

from __future__ import annotations

from sqlalchemy import Connection, exists, or_, select

from .tables import environments, flags, usage_applications, usage_daily, usage_hourly

__all__ = ["progress"]


def progress(conn: Connection, project_id: int) -> dict[str, bool]:
    """{"flag": the project has a flag (archived ones count), "application": an application
    was ever seen in one of its environments, "evaluation": an evaluation was ever counted in
    one}, in one query."""
    envs = select(environments.c.id).where(environments.c.project_id == project_id)
    has_flag = exists().where(flags.c.project_id == project_id)
    seen = exists().where(usage_applications.c.environment_id.in_(envs))
    counted = or_(
        exists().where(usage_hourly.c.environment_id.in_(envs)),
        exists().where(usage_daily.c.environment_id.in_(envs)),
    )
    row = conn.execute(select(has_flag, seen, counted)).one()
    return {"flag": bool(row[0]), "application": bool(row[1]), "evaluation": bool(row[2])}
