"""Reading usage: what the REST API, the dashboard and the lifecycle work ask of the counts.

The methods taking an `actor` check membership (another organization's flag or environment
answers NotFound exactly as a missing one). The ones without (`last_evaluated`,
`variation_counts`, `applications_for_flag`) are for other services that already checked
access, and take environment ids.

Times are Unix ms. A bucket is an hour (rows younger than `usage_hourly_days`) or a UTC day
(older rows, compacted); `variation` -1 counts answers without a variation (an error, or the
caller's own default). Counts reach the database once per flush interval, so the current
interval's evaluations show after the next flush.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..store import orgs as org_store
from ..store import usage as store
from ..store.flags import get_flag
from .errors import Invalid, NotFound
from .orgs import environment_for, org_for, project_for
from .runtime import Actor, Runtime

__all__ = ["APPLICATION_WINDOW_MS", "GRANULARITIES", "MAX_RANGE_MS", "Usage"]

GRANULARITIES = {"hour": store.HOUR_MS, "day": store.DAY_MS}
MAX_RANGE_MS = 400 * store.DAY_MS  # the longest interval one request may ask for
APPLICATION_WINDOW_MS = 7 * store.DAY_MS  # the applications page: seen in the last 7 days

#: env id -> {(application, sdk, sdk version): streams open now on this process}
OpenStreams = Callable[[int], dict[tuple[str, str, str], int]]


def _floor(ms: int, size: int) -> int:
    return ms - ms % size


class Usage:
    def __init__(self, rt: Runtime, open_streams: OpenStreams | None = None) -> None:
        self.rt = rt
        self._open_streams = open_streams or (lambda _env_id: {})

    # --- for other services (access already checked) ------------------------------------

    def last_evaluated(self, env_ids: Iterable[int]) -> dict[tuple[int, str], int]:
        """{(environment id, flag key): the latest time it may have been evaluated}, from the
        flushed rows: the end of the latest hour (or day, once compacted) with a count. A
        flag never evaluated (or not since the retention) is absent."""
        with self.rt.db.connect() as conn:
            return store.last_evaluated(conn, env_ids)

    def variation_counts(
        self, env_id: int, flag_key: str, start: int, end: int, granularity: str = "hour"
    ) -> list[dict[str, Any]]:
        """Buckets of [start, end) in time order with a count, each `{"start", "size"
        ("hour" or "day"), "total", "variations": {variation: count}}`. With granularity
        "day" hourly rows are summed into days; with "hour", days already compacted appear
        as day buckets (their hours are no longer known)."""
        size = GRANULARITIES[granularity]
        with self.rt.db.connect() as conn:
            rows = store.counts(conn, [env_id], flag_key, start, end)
        buckets: dict[int, dict[str, Any]] = {}
        for _env, variation, _app, bucket, bucket_size, n in rows:
            key = _floor(bucket, max(size, bucket_size))
            entry = buckets.setdefault(
                key,
                {
                    "start": key,
                    "size": "day" if max(size, bucket_size) == store.DAY_MS else "hour",
                    "total": 0,
                    "variations": {},
                },
            )
            entry["total"] += n
            entry["variations"][variation] = entry["variations"].get(variation, 0) + n
        return [buckets[k] for k in sorted(buckets)]

    def applications_for_flag(
        self, env_ids: Iterable[int], flag_key: str, since: int
    ) -> list[dict[str, Any]]:
        """The applications that evaluated a flag since `since`: `{"environment_id",
        "application", "count", "last_seen"}`, latest first."""
        with self.rt.db.connect() as conn:
            return store.applications(conn, env_ids, since, flag_key)

    # --- for the REST API and the dashboard --------------------------------------------

    def flag_usage(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        flag_key: str,
        *,
        start: int | None,
        end: int | None,
        environment: str | None,
        granularity: str,
    ) -> dict[str, Any]:
        """A flag's counts per environment (or one) over [start, end): default the last 24
        hours by the hour. Invalid for a reversed, too long, or unknown-granularity range."""
        if granularity not in GRANULARITIES:
            raise Invalid("must be 'hour' or 'day'", field="granularity")
        now = self.rt.now()
        end = now if end is None else end
        start = end - store.DAY_MS if start is None else start
        if start >= end:
            raise Invalid("must be before `to`", field="from")
        if end - start > MAX_RANGE_MS:
            raise Invalid("the interval may be at most 400 days", field="from")
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            flag = get_flag(conn, project_id=project["id"], key=flag_key)
            if flag is None:
                raise NotFound("no such flag")
            if environment is not None:
                envs = [environment_for(conn, project, environment)]
            else:
                envs = org_store.list_environments(conn, project["id"])
        ids = [e["id"] for e in envs]
        last = self.last_evaluated(ids)
        out = []
        for env in envs:
            buckets = self.variation_counts(env["id"], flag_key, start, end, granularity)
            out.append(
                {
                    "environment": env["key"],
                    "last_evaluated": last.get((env["id"], flag_key)),
                    "total": sum(b["total"] for b in buckets),
                    "buckets": [_public_bucket(b) for b in buckets],
                }
            )
        return {
            "flag": flag_key,
            "from": start,
            "to": end,
            "granularity": granularity,
            "environments": out,
        }

    def applications(
        self, actor: Actor, org_key: str, project_key: str, env_key: str
    ) -> dict[str, Any]:
        """The applications and SDK versions seen in an environment in the last 7 days (by
        evaluations, streams and usage posts), latest first, each with the streams it has
        open on this server now."""
        since = self.rt.now() - APPLICATION_WINDOW_MS
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            env = environment_for(conn, project, env_key)
            rows = store.applications(conn, [env["id"]], since)
        streams = self._open_streams(env["id"])
        apps = [
            {
                "application": r["application"],
                "sdk": r["sdk"],
                "sdk_version": r["sdk_version"],
                "instances": r["instance_count"],
                "first_seen": r["first_seen"],
                "last_seen": r["last_seen"],
                "open_streams": streams.get((r["application"], r["sdk"], r["sdk_version"]), 0),
            }
            for r in rows
        ]
        return {
            "environment": env["key"],
            "since": since,
            "applications": apps,
            "open_streams": sum(streams.values()),
        }


def _public_bucket(bucket: dict[str, Any]) -> dict[str, Any]:
    variations = [
        {"variation": None if v < 0 else v, "count": n}
        for v, n in sorted(bucket["variations"].items())
    ]
    return {
        "start": bucket["start"],
        "size": bucket["size"],
        "total": bucket["total"],
        "variations": variations,
    }
