"""A project's first steps: create a flag, connect an application with a snippet, see the
first evaluation arrive. Each step is ticked from what the project holds, never from clicks:
a flag exists; an application was seen (its usage written) or a stream of this process is
open in one of its environments; an evaluation was counted. The checklist is shown until every
step is done or someone dismisses it for the project; either closes it for good (recorded on
the project, so that a closed checklist costs one read).

The flag list's scripts ask for the checklist every few seconds while a step is left, so a
look is cheap: the caller's access (three indexed reads) and one query for the three steps."""

from __future__ import annotations

from typing import Any

from ..store import onboarding as store
from ..store import orgs as org_store
from .access import project_access
from .runtime import Actor, Runtime
from .usage import OpenStreams

__all__ = ["STEPS", "Onboarding"]

#: The steps in order.
STEPS = ("flag", "application", "evaluation")


class Onboarding:
    def __init__(self, rt: Runtime, open_streams: OpenStreams | None = None) -> None:
        self.rt = rt
        self._open_streams = open_streams or (lambda _env_id: {})

    def checklist(self, actor: Actor, org_key: str, project_key: str) -> dict[str, Any]:
        """`{"project": its name, "role": the caller's role in the project (see
        `access.project_access`), "steps": {step: done}, "complete": every step done,
        "closed": dismissed or found complete before}`; it is shown while neither `complete`
        nor `closed`. Found complete now, it is closed (for everyone, from the next look on:
        this answer still says complete). A closed checklist reads nothing more."""
        with self.rt.db.connect() as conn:
            _, project = project_access(conn, actor, org_key, project_key)
            about = {"project": project["name"], "role": project["role"]}
            if project.get("onboarding_closed_at"):
                steps = dict.fromkeys(STEPS, False)
                return {**about, "steps": steps, "complete": False, "closed": True}
            steps = store.progress(conn, project["id"])
            if not steps["application"]:
                # A streaming SDK that connected a moment ago: seen before its usage is written.
                env_ids = [e["id"] for e in org_store.list_environments(conn, project["id"])]
                steps["application"] = any(self._open_streams(env_id) for env_id in env_ids)
        complete = all(steps.values())
        if complete:
            with self.rt.write_db.begin() as conn:
                org_store.set_onboarding_closed(conn, project["id"], self.rt.now())
        return {**about, "steps": steps, "complete": complete, "closed": False}

    def dismiss(self, actor: Actor, org_key: str, project_key: str) -> None:
        """Close the project's checklist for everyone. Forbidden for whoever is a viewer in
        the project (their project role counts, as for every change to it)."""
        with self.rt.write_db.begin() as conn:
            _, project = project_access(conn, actor, org_key, project_key, write=True)
            org_store.set_onboarding_closed(conn, project["id"], self.rt.now())
