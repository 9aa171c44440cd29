"""Lifecycle for the REST API and the dashboard: each flag's status with its evidence, the
cleanup list, a flag's usage panel (last evaluated, charts, applications) and the usage
evidence that archiving or deleting a flag names.

Statuses come from `lifecycle.status` (pure) fed with the flag's configurations and the
flushed usage counts; thresholds are the `lifecycle_*` settings. Counts reach the database
once per flush interval, so the current interval's evaluations show after the next flush.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..store import flags as flag_store
from ..store import orgs as org_store
from ..store import usage as usage_store
from . import lifecycle
from .errors import NotFound
from .live import usage_sentence
from .orgs import org_for, project_for
from .runtime import Actor, Runtime
from .usage import Usage

__all__ = ["CHART_RANGES", "Lifecycle", "project_statuses", "recent_applications", "thresholds",
           "usage_sentence"]  # fmt: skip

HOUR_MS = usage_store.HOUR_MS
DAY_MS = usage_store.DAY_MS
#: The flag page's charts: name -> (bucket granularity, number of buckets).
CHART_RANGES = {"24h": ("hour", 24), "7d": ("day", 7), "30d": ("day", 30)}


def thresholds(rt: Runtime) -> lifecycle.Thresholds:
    s = rt.settings
    return lifecycle.Thresholds(
        stale_days=s.lifecycle_stale_days,
        launched_days=s.lifecycle_launched_days,
        recent_days=s.lifecycle_recent_days,
    )


def project_statuses(
    conn: Connection, rt: Runtime, project: dict[str, Any], flags: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """{flag key: lifecycle.status(...)} for these flags of the project, in three queries."""
    now = rt.now()
    t = thresholds(rt)
    envs = org_store.list_environments(conn, project["id"])
    env_ids = [e["id"] for e in envs]
    last = usage_store.last_evaluated(conn, env_ids)
    # A few flags (a page, one flag): their rows only; many: one pass over every row.
    keys = [f["key"] for f in flags] if len(flags) <= 100 else None
    totals = usage_store.variation_totals(conn, env_ids, now - t.launched_days * DAY_MS, keys)
    configs: dict[tuple[int, int], dict[str, Any]] = {
        (c["flag_id"], c["environment_id"]): c
        for c in flag_store.list_configs_for_flags(conn, [f["id"] for f in flags])
    }
    per_flag: dict[tuple[int, str], dict[int, int]] = {}
    for (env_id, key, v), n in totals.items():
        per_flag.setdefault((env_id, key), {})[v] = n
    out = {}
    for f in flags:
        env_facts = []
        for e in envs:
            config = configs.get((f["id"], e["id"]))
            counts = per_flag.get((e["id"], f["key"]), {})
            env_facts.append(
                lifecycle.EnvFacts(
                    key=e["key"],
                    last_evaluated=last.get((e["id"], f["key"])),
                    serves=lifecycle.serves_everyone(config) if config else None,
                    config_changed_at=config["updated_at"] if config else now,
                    counts=counts,
                )
            )
        facts = lifecycle.FlagFacts(
            key=f["key"],
            kind=f.get("kind") or "temporary",
            archived=bool(f["archived"]),
            created_at=f["created_at"],
            removal_date=f.get("removal_date"),
            variation_names=tuple(v.get("name") or "" for v in f["variations"]),
            envs=tuple(env_facts),
        )
        out[f["key"]] = lifecycle.status(facts, now, t)
    return out


def recent_applications(
    conn: Connection, rt: Runtime, project: dict[str, Any], flag_key: str
) -> list[dict[str, Any]]:
    """The applications that evaluated the flag in the last `lifecycle_recent_days`, each
    `{"environment", "application", "count", "last_seen"}`, latest first."""
    days = rt.settings.lifecycle_recent_days
    envs = {e["id"]: e["key"] for e in org_store.list_environments(conn, project["id"])}
    rows = usage_store.applications(conn, list(envs), rt.now() - days * DAY_MS, flag_key)
    return [
        {"environment": envs[r["environment_id"]], "application": r["application"],
         "count": r["count"], "last_seen": r["last_seen"]}
        for r in rows
    ]  # fmt: skip


class Lifecycle:
    def __init__(self, rt: Runtime, usage: Usage) -> None:
        self.rt = rt
        self.usage = usage

    def _project(self, conn: Connection, actor: Actor, org_key: str, project_key: str) -> Any:
        return project_for(conn, org_for(conn, actor, org_key), project_key)

    def statuses(
        self, actor: Actor, org_key: str, project_key: str, keys: list[str]
    ) -> dict[str, dict[str, Any]]:
        """{flag key: status} of these flags of the project (missing keys are left out). A
        page of a list asks for its own rows only: the configurations are read for them."""
        with self.rt.db.connect() as conn:
            project = self._project(conn, actor, org_key, project_key)
            flags = flag_store.get_flags(conn, project_id=project["id"], keys=keys)
            return project_statuses(conn, self.rt, project, flags)

    def last_evaluated(self, actor: Actor, org_key: str, project_key: str) -> dict[str, int]:
        """{flag key: the latest time it may have been evaluated, in any environment} of the
        project's flags evaluated within the retention (others are absent)."""
        with self.rt.db.connect() as conn:
            project = self._project(conn, actor, org_key, project_key)
            envs = [e["id"] for e in org_store.list_environments(conn, project["id"])]
            last = usage_store.last_evaluated(conn, envs)
        out: dict[str, int] = {}
        for (_env, key), at in last.items():
            out[key] = max(out.get(key, 0), at)
        return out

    def flag_status(
        self, actor: Actor, org_key: str, project_key: str, flag_key: str
    ) -> dict[str, Any]:
        """One flag's status, its lifecycle fields, and the applications of the last
        `lifecycle_recent_days`."""
        with self.rt.db.connect() as conn:
            project = self._project(conn, actor, org_key, project_key)
            flag = flag_store.get_flag(conn, project_id=project["id"], key=flag_key)
            if flag is None:
                raise NotFound("no such flag")
            out = project_statuses(conn, self.rt, project, [flag])[flag_key]
            apps = recent_applications(conn, self.rt, project, flag_key)
        return {
            "flag": flag_key,
            "owner": flag["owner"],
            "kind": flag["kind"],
            "removal_date": flag["removal_date"],
            **out,
            "recent_applications": apps,
        }

    def entries(self, actor: Actor, org_key: str, project_key: str) -> list[dict[str, Any]]:
        """Every flag of the project (archived ones too), by key, with its lifecycle fields,
        status and evidence."""
        with self.rt.db.connect() as conn:
            project = self._project(conn, actor, org_key, project_key)
            flags = flag_store.list_flags(conn, project_id=project["id"], archived=None)
            statuses = project_statuses(conn, self.rt, project, flags)
        return [
            {"key": f["key"], "name": f["name"], "owner": f["owner"], "kind": f["kind"],
             "removal_date": f["removal_date"], "archived": f["archived"], **statuses[f["key"]]}
            for f in flags
        ]  # fmt: skip

    def cleanup(self, actor: Actor, org_key: str, project_key: str) -> list[dict[str, Any]]:
        """The flags that look safe to remove (or need a look): statuses in
        `lifecycle.CLEANUP` (archived but evaluated first, then stale, then launched; least
        lately evaluated first within each)."""
        rows = [
            r for r in self.entries(actor, org_key, project_key) if r["status"] in lifecycle.CLEANUP
        ]
        order = {s: i for i, s in enumerate(("archived_evaluated", "stale", "launched"))}
        rows.sort(key=lambda r: (order[r["status"]], r["last_evaluated"] or 0, r["key"]))
        return rows

    def panel(
        self, actor: Actor, org_key: str, project_key: str, flag_key: str, env_key: str
    ) -> dict[str, Any]:
        """The flag page's usage panel: last evaluated per environment, the charts of
        `CHART_RANGES` for `env_key` (buckets with zeros filled in, oldest first) and the
        applications that asked for the flag in the last 30 days."""
        now = self.rt.now()
        with self.rt.db.connect() as conn:
            project = self._project(conn, actor, org_key, project_key)
            if flag_store.get_flag(conn, project_id=project["id"], key=flag_key) is None:
                raise NotFound("no such flag")
            envs = org_store.list_environments(conn, project["id"])
        env = next((e for e in envs if e["key"] == env_key), envs[0] if envs else None)
        last = self.usage.last_evaluated([e["id"] for e in envs])
        charts = {}
        if env is not None:
            for name, (granularity, n) in CHART_RANGES.items():
                size = HOUR_MS if granularity == "hour" else DAY_MS
                end = now - now % size + size  # the current bucket included
                start = end - n * size
                got = {
                    b["start"]: b
                    for b in self.usage.variation_counts(
                        env["id"], flag_key, start, end, granularity
                    )
                }
                charts[name] = [
                    {"start": s, "size": granularity,
                     "variations": dict(got[s]["variations"]) if s in got else {}}
                    for s in range(start, end, size)
                ]  # fmt: skip
        env_keys = {e["id"]: e["key"] for e in envs}
        apps = self.usage.applications_for_flag(list(env_keys), flag_key, now - 30 * DAY_MS)
        return {
            "environment": env["key"] if env else None,
            "last_evaluated": [
                {"environment": e["key"], "name": e["name"], "at": last.get((e["id"], flag_key))}
                for e in envs
            ],
            "charts": charts,
            "applications": [{**a, "environment": env_keys[a["environment_id"]]} for a in apps],
        }
