"""Usage rows: adding an interval's counts, compacting, pruning, and reading them back.

Every function takes a connection in a transaction the caller opened (`write_interval` is
meant to be the whole of one, so that an interval is written entirely or not at all).
Counts are added, never overwritten (`INSERT ... ON CONFLICT DO UPDATE SET count = count +
excluded.count`, the same on SQLite and PostgreSQL): any number of instances flush into the
same rows and the sums are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from .tables import environments, flags, usage_applications, usage_daily, usage_hourly

__all__ = [
    "HOUR_MS",
    "DAY_MS",
    "applications",
    "archived_keys",
    "compact",
    "counts",
    "last_evaluated",
    "prune",
    "variation_totals",
    "write_interval",
]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

#: (environment id, flag key, variation, application) -> evaluations
Counts = Mapping[tuple[int, str, int, str], int]
#: (environment id, application, sdk, sdk version) -> (last seen, instance count)
Apps = Mapping[tuple[int, str, str, str], tuple[int, int]]


def _insert(conn: Connection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _add_counts(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["environment_id", "flag_key", "variation", "application", "bucket"],
        set_={"count": table.c.count + stmt.excluded.count},
    )
    conn.execute(stmt, list(rows))


def write_interval(conn: Connection, bucket: int, counts: Counts, apps: Apps) -> None:
    """Add `counts` to the hourly rows of `bucket` (an hour's start, Unix ms) and note `apps`
    as seen (a later `last_seen` wins; `instance_count` is the latest interval's)."""
    _add_counts(
        conn,
        usage_hourly,
        [
            {
                "environment_id": env_id,
                "flag_key": flag,
                "variation": variation,
                "application": app,
                "bucket": bucket,
                "count": n,
            }
            for (env_id, flag, variation, app), n in counts.items()
        ],
    )
    if not apps:
        return
    stmt = _insert(conn, usage_applications)
    t = usage_applications.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["environment_id", "application", "sdk", "sdk_version"],
        set_={
            "last_seen": func.max(t.last_seen, stmt.excluded.last_seen)
            if conn.dialect.name == "sqlite"
            else func.greatest(t.last_seen, stmt.excluded.last_seen),
            "instance_count": stmt.excluded.instance_count,
        },
    )
    conn.execute(
        stmt,
        [
            {
                "environment_id": env_id,
                "application": app,
                "sdk": sdk,
                "sdk_version": version,
                "instance_count": instances,
                "first_seen": seen,
                "last_seen": seen,
            }
            for (env_id, app, sdk, version), (seen, instances) in apps.items()
        ],
    )


def compact(conn: Connection, before: int) -> int:
    """Fold hourly rows of buckets before `before` (a day's start) into daily rows, adding to
    any already there, and delete them; the number of hourly rows folded."""
    h = usage_hourly.c
    day = h.bucket - (h.bucket % DAY_MS)
    grouped = (
        select(
            h.environment_id,
            h.flag_key,
            h.variation,
            h.application,
            day.label("day"),
            func.sum(h.count).label("n"),
        )
        .where(h.bucket < before)
        .group_by(h.environment_id, h.flag_key, h.variation, h.application, day)
    )
    rows = [
        {
            "environment_id": r.environment_id,
            "flag_key": r.flag_key,
            "variation": r.variation,
            "application": r.application,
            "bucket": int(r.day),
            "count": int(r.n),
        }
        for r in conn.execute(grouped)
    ]
    _add_counts(conn, usage_daily, rows)
    return conn.execute(delete(usage_hourly).where(h.bucket < before)).rowcount or 0


def prune(conn: Connection, before: int) -> int:
    """Delete daily rows and applications older than `before`; the number of rows deleted."""
    gone = conn.execute(delete(usage_daily).where(usage_daily.c.bucket < before)).rowcount or 0
    conn.execute(delete(usage_applications).where(usage_applications.c.last_seen < before))
    return gone


def _both(env_ids: Iterable[int], flag_key: str, start: int, end: int) -> list[Any]:
    """Hourly and daily rows of a flag in [start, end), as one union."""
    envs = list(env_ids)
    parts = []
    for table, size in ((usage_hourly, HOUR_MS), (usage_daily, DAY_MS)):
        c = table.c
        parts.append(
            select(
                c.environment_id,
                c.variation,
                c.application,
                c.bucket,
                c.count,
                literal(size).label("size"),
            ).where(
                c.environment_id.in_(envs),
                c.flag_key == flag_key,
                c.bucket >= start,
                c.bucket < end,
            )
        )
    return parts


def counts(
    conn: Connection, env_ids: Iterable[int], flag_key: str, start: int, end: int
) -> list[tuple[int, int, str, int, int, int]]:
    """(environment id, variation, application, bucket start, bucket size ms, count) of a
    flag's rows whose bucket starts in [start, end): hourly and daily rows alike."""
    hourly, daily = _both(env_ids, flag_key, start, end)
    rows = conn.execute(hourly.union_all(daily))
    return [(r[0], r[1], r[2], int(r[3]), int(r[5]), int(r[4])) for r in rows]


def last_evaluated(conn: Connection, env_ids: Iterable[int]) -> dict[tuple[int, str], int]:
    """{(environment id, flag key): start of the latest bucket with a count}, from the hourly
    rows and, for flags with none left, the daily ones."""
    envs = list(env_ids)
    out: dict[tuple[int, str], int] = {}
    for table, size in ((usage_daily, DAY_MS), (usage_hourly, HOUR_MS)):
        c = table.c
        query = (
            select(c.environment_id, c.flag_key, func.max(c.bucket))
            .where(c.environment_id.in_(envs))
            .group_by(c.environment_id, c.flag_key)
        )
        for env_id, flag, bucket in conn.execute(query):
            latest = int(bucket) + size - 1  # the bucket's last moment: the latest it can be
            out[(env_id, flag)] = max(out.get((env_id, flag), 0), latest)
    return out


def applications(
    conn: Connection, env_ids: Iterable[int], since: int, flag_key: str | None = None
) -> list[dict[str, Any]]:
    """Applications seen in these environments since `since`, latest first. With `flag_key`:
    the applications that evaluated that flag (from the count rows, hourly and daily)."""
    envs = list(env_ids)
    if flag_key is None:
        t = usage_applications.c
        rows = conn.execute(
            select(usage_applications)
            .where(t.environment_id.in_(envs), t.last_seen >= since)
            .order_by(t.last_seen.desc(), t.application, t.sdk, t.sdk_version)
        )
        return [dict(r._mapping) for r in rows]
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for table, size in ((usage_hourly, HOUR_MS), (usage_daily, DAY_MS)):
        c = table.c
        query = (
            select(c.environment_id, c.application, func.sum(c.count), func.max(c.bucket))
            .where(c.environment_id.in_(envs), c.flag_key == flag_key, c.bucket >= since)
            .group_by(c.environment_id, c.application)
        )
        for env_id, app, n, bucket in conn.execute(query):
            entry = found.setdefault(
                (env_id, app),
                {"environment_id": env_id, "application": app, "count": 0, "last_seen": 0},
            )
            entry["count"] += int(n)
            entry["last_seen"] = max(entry["last_seen"], int(bucket) + size - 1)
    return sorted(found.values(), key=lambda e: (-e["last_seen"], e["application"]))


def variation_totals(
    conn: Connection, env_ids: Iterable[int], since: int, flag_keys: list[str] | None = None
) -> dict[tuple[int, str, int], int]:
    """{(environment id, flag key, variation): evaluations} of every flag of these
    environments (or of `flag_keys`) in the hourly and daily rows whose bucket starts at or
    after `since` (a daily row counts whole once its day starts at or after `since`)."""
    envs = list(env_ids)
    out: dict[tuple[int, str, int], int] = {}
    for table in (usage_hourly, usage_daily):
        c = table.c
        query = (
            select(c.environment_id, c.flag_key, c.variation, func.sum(c.count))
            .where(c.environment_id.in_(envs), c.bucket >= since)
            .group_by(c.environment_id, c.flag_key, c.variation)
        )
        if flag_keys is not None:
            query = query.where(c.flag_key.in_(flag_keys))
        for env_id, flag, variation, n in conn.execute(query):
            key = (env_id, flag, int(variation))
            out[key] = out.get(key, 0) + int(n)
    return out


def archived_keys(conn: Connection) -> dict[int, frozenset[str]]:
    """{environment id: the keys of its project's archived flags}, for every environment."""
    query = (
        select(environments.c.id, flags.c.key)
        .join(flags, flags.c.project_id == environments.c.project_id)
        .where(flags.c.archived.is_(True))
    )
    out: dict[int, set[str]] = {}
    for env_id, key in conn.execute(query):
        out.setdefault(env_id, set()).add(key)
    return {env_id: frozenset(keys) for env_id, keys in out.items()}
