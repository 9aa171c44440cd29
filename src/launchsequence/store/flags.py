"""Flags (project level), their configuration per environment, and segments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from .tables import environments, flag_configs, flags, segments

__all__ = [
    "CONFIG_FIELDS",
    "SUMMARY_COLUMNS",
    "create_config",
    "create_flag",
    "create_segment",
    "delete_flag",
    "delete_segment",
    "get_config",
    "get_flag",
    "get_segment",
    "list_config_states",
    "list_configs_for_environment",
    "list_configs_for_flag",
    "list_configs_for_project",
    "list_flags",
    "list_segments",
    "update_config",
    "update_flag",
    "update_segment",
]

#: The columns of a flag that `list_flags(summary=True)` reads.
SUMMARY_COLUMNS = ("id", "key", "name", "tags", "type", "archived", "created_at", "updated_at",
                   "owner", "kind")  # fmt: skip

CONFIG_FIELDS = (
    "on", "off_variation", "prerequisites", "targets", "rules", "fallthrough", "client_side",
)  # fmt: skip


def _one(conn: Connection, query: Any) -> dict[str, Any] | None:
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def create_flag(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(flags).values(values).returning(flags.c.id)).scalar_one())


def get_flag(conn: Connection, *, project_id: int, key: str) -> dict[str, Any] | None:
    return _one(conn, select(flags).where(flags.c.project_id == project_id, flags.c.key == key))


def list_flags(
    conn: Connection,
    *,
    project_id: int,
    archived: bool | None = False,
    tag: str | None = None,
    search: str | None = None,
    summary: bool = False,
) -> list[dict[str, Any]]:
    """Flags ordered by key; `archived=None` means both; `search` matches key or name.
    `summary`: only the SUMMARY_COLUMNS (a list of many flags reads no variations, defaults
    or metadata, whose JSON decoding would take most of its time)."""
    columns = [flags.c[name] for name in SUMMARY_COLUMNS] if summary else [flags]
    query = select(*columns).where(flags.c.project_id == project_id).order_by(flags.c.key)
    if archived is not None:
        query = query.where(flags.c.archived == archived)
    if search:
        pattern = (
            "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                flags.c.key.like(pattern, escape="\\"),
                flags.c.name.ilike(pattern, escape="\\"),
            )
        )
    result = conn.execute(query)
    keys = list(result.keys())  # once, not per row as `.mappings()` would: lists are long
    rows = [dict(zip(keys, r, strict=True)) for r in result.all()]  # one fetch, not per row
    if tag:
        rows = [r for r in rows if tag in r["tags"]]
    return rows


def get_flags(conn: Connection, *, project_id: int, keys: list[str]) -> list[dict[str, Any]]:
    """The project's flags with these keys (archived or not), by key."""
    query = (
        select(flags)
        .where(flags.c.project_id == project_id, flags.c.key.in_(keys))
        .order_by(flags.c.key)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def update_flag(conn: Connection, flag_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(flags).where(flags.c.id == flag_id).values(values))


def delete_flag(conn: Connection, flag_id: int) -> None:
    conn.execute(delete(flags).where(flags.c.id == flag_id))


def create_config(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(flag_configs).values(values))


def get_config(
    conn: Connection, *, flag_id: int, environment_id: int, for_update: bool = False
) -> dict[str, Any] | None:
    """One configuration. `for_update` locks its row until the transaction ends (PostgreSQL;
    SQLite's write transactions already hold the database's write lock), so that a
    read-modify-write cannot be overtaken by a concurrent writer."""
    query = select(flag_configs).where(
        flag_configs.c.flag_id == flag_id, flag_configs.c.environment_id == environment_id
    )
    if for_update:
        query = query.with_for_update()
    return _one(conn, query)


def list_configs_for_flag(conn: Connection, flag_id: int) -> list[dict[str, Any]]:
    query = (
        select(flag_configs, environments.c.key.label("environment_key"))
        .join(environments, environments.c.id == flag_configs.c.environment_id)
        .where(flag_configs.c.flag_id == flag_id)
        .order_by(environments.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def list_configs_for_project(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every configuration of the project's flags, with `environment_key`, in environment order."""
    query = (
        select(flag_configs, environments.c.key.label("environment_key"))
        .join(environments, environments.c.id == flag_configs.c.environment_id)
        .where(environments.c.project_id == project_id)
        .order_by(environments.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def list_configs_for_flags(conn: Connection, flag_ids: list[int]) -> list[dict[str, Any]]:
    """The configurations of these flags, with `environment_key`, in environment order."""
    query = (
        select(flag_configs, environments.c.key.label("environment_key"))
        .join(environments, environments.c.id == flag_configs.c.environment_id)
        .where(flag_configs.c.flag_id.in_(flag_ids))
        .order_by(environments.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def list_configs_for_environment(conn: Connection, environment_id: int) -> list[dict[str, Any]]:
    query = select(flag_configs).where(flag_configs.c.environment_id == environment_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def list_config_states(
    conn: Connection, project_id: int
) -> list[tuple[int, str, bool, int, bool, int]]:
    """(flag id, environment key, on, version, client_side, updated_at) of every configuration
    in the project, in environment order: one query, and none of the JSON columns (a flag list of a
    large project would spend most of its time decoding them)."""
    query = (
        select(
            flag_configs.c.flag_id,
            environments.c.key,
            flag_configs.c.on,
            flag_configs.c.version,
            flag_configs.c.client_side,
            flag_configs.c.updated_at,
        )
        .join(environments, environments.c.id == flag_configs.c.environment_id)
        .where(environments.c.project_id == project_id)
        .order_by(environments.c.id)
    )
    return [tuple(r) for r in conn.execute(query).all()]


def update_config(
    conn: Connection,
    *,
    flag_id: int,
    environment_id: int,
    values: dict[str, Any],
    expected_version: int | None,
    at: int,
) -> int | None:
    """Write the configuration and add one to its version; the new version.

    With `expected_version`, the write happens only if the stored version still equals it, in
    the same statement, so of two racing writers exactly one wins; None means it lost.
    """
    query = update(flag_configs).where(
        flag_configs.c.flag_id == flag_id, flag_configs.c.environment_id == environment_id
    )
    if expected_version is not None:
        query = query.where(flag_configs.c.version == expected_version)
    query = query.values(**values, version=flag_configs.c.version + 1, updated_at=at)
    if conn.execute(query).rowcount != 1:
        return None
    current = get_config(conn, flag_id=flag_id, environment_id=environment_id)
    return int(current["version"]) if current else None


def create_segment(conn: Connection, values: dict[str, Any]) -> int:
    query = insert(segments).values(values).returning(segments.c.id)
    return int(conn.execute(query).scalar_one())


def get_segment(conn: Connection, *, environment_id: int, key: str) -> dict[str, Any] | None:
    query = select(segments).where(
        segments.c.environment_id == environment_id, segments.c.key == key
    )
    return _one(conn, query)


def list_segments(conn: Connection, environment_id: int) -> list[dict[str, Any]]:
    query = (
        select(segments).where(segments.c.environment_id == environment_id).order_by(segments.c.key)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def update_segment(conn: Connection, segment_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        update(segments)
        .where(segments.c.id == segment_id)
        .values(**values, version=segments.c.version + 1)
    )


def delete_segment(conn: Connection, segment_id: int) -> None:
    conn.execute(delete(segments).where(segments.c.id == segment_id))
