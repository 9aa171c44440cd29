"""Where flags are live, and the refusal that guards them.

Archiving or deleting a flag that is on somewhere, or deleting an environment or a project
with flags on, takes those flags from every running application at once: SDKs answer
FLAG_NOT_FOUND and applications fall back to the default written in their code. Each such
change raises `InUse` naming what is live, and goes ahead only when asked again with `force`.
Archived flags are served nowhere, so they are never live.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..store import flags as store
from .errors import InUse
from .prerequisites import dependents


def usage_sentence(apps: list[dict[str, Any]], days: int) -> str:
    """`apps` (from `lifecycle_report.recent_applications`) as one phrase, or "" if none."""
    if not apps:
        return ""
    named = sorted({f"{a['application'] or 'an unnamed application'} ({a['environment']})"
                    for a in apps})  # fmt: skip
    total = sum(a["count"] for a in apps)
    return f"evaluated {total:,} times in the last {days} days by {', '.join(named)}"


__all__ = ["FALLBACK", "live_flags", "refuse_live_environment", "refuse_live_flag",
           "refuse_live_project", "usage_sentence"]  # fmt: skip

#: What applications get instead of a flag that is no longer served.
FALLBACK = "applications get the default written in their code (FLAG_NOT_FOUND)"


def live_flags(conn: Connection, project_id: int) -> dict[str, list[str]]:
    """Each active flag of the project that is on somewhere -> the environments (in the
    project's order) where it is on."""
    keys = {f["id"]: f["key"] for f in store.list_flags(conn, project_id=project_id)}
    live: dict[str, list[str]] = {}
    for flag_id, env_key, on, *_ in store.list_config_states(conn, project_id):
        if on and flag_id in keys:
            live.setdefault(keys[flag_id], []).append(env_key)
    return live


def refuse_live_flag(
    conn: Connection,
    project: dict[str, Any],
    flag: dict[str, Any],
    *,
    force: bool,
    doing: str,
    recent: list[dict[str, Any]] | None = None,
    recent_days: int = 7,
) -> None:
    """Raise InUse, unless `force`: code `flag_in_use` if `flag` is on in any environment,
    else `flag_has_dependents` if other flags that are served require it as a prerequisite
    (they would then serve what they serve when off). Either way `dependents` lists those
    flags by environment, so that one confirmation can name everything that changes.

    `doing` names the change in the message ("archiving", "deleting"). `recent` are the
    applications that evaluated the flag in the last `recent_days`
    (`lifecycle_report.recent_applications`): the message and `applications` name them, and
    a flag off everywhere and required by none but evaluated lately is refused with code
    `flag_evaluated` (`environments`: where it was evaluated): some code still asks for it.
    """
    if force or flag["archived"]:
        return
    recent = recent or []
    envs = live_flags(conn, project["id"]).get(flag["key"], [])
    required_by = dependents(conn, project["id"], flag["key"], served_only=True)
    usage = usage_sentence(recent, recent_days)
    if envs:
        raise InUse(
            f"the flag is on in {', '.join(envs)}"
            + (f" and was {usage}" if usage else "")
            + f": {doing} it stops serving it there at once, "
            f"and {FALLBACK}. Repeat with force=true to go ahead",
            code="flag_in_use",
            environments=envs,
            flags=[flag["key"]],
            dependents=required_by,
            applications=recent,
        )
    if recent and not required_by:
        asked = list(dict.fromkeys(a["environment"] for a in recent))
        raise InUse(
            f"the flag is off, but was {usage}: after {doing} it, {FALLBACK}. Repeat with "
            "force=true to go ahead",
            code="flag_evaluated",
            environments=asked,
            flags=[flag["key"]],
            applications=recent,
        )
    if required_by:
        named = "; ".join(f"{e}: {', '.join(keys)}" for e, keys in required_by.items())
        raise InUse(
            f"other flags require this one as a prerequisite ({named}): {doing} it makes "
            "their prerequisite fail, so they serve what they serve when off"
            + (f"; it was also {usage}" if usage else "")
            + ". Repeat with force=true to go ahead",
            code="flag_has_dependents",
            environments=list(required_by),
            flags=sorted({k for keys in required_by.values() for k in keys}),
            dependents=required_by,
            applications=recent,
        )


def refuse_live_environment(
    conn: Connection, project: dict[str, Any], env_key: str, *, force: bool
) -> None:
    """Raise InUse (code `environment_in_use`) if any flag is on in the environment, unless
    `force`."""
    if force:
        return
    flags = sorted(k for k, envs in live_flags(conn, project["id"]).items() if env_key in envs)
    if flags:
        raise InUse(
            f"flags are on in {env_key}: {', '.join(flags)}. Deleting the environment stops "
            f"serving them there at once, and {FALLBACK}. Repeat with force=true to go ahead",
            code="environment_in_use",
            environments=[env_key],
            flags=flags,
        )


def refuse_live_project(
    conn: Connection, project: dict[str, Any], env_keys: list[str], *, force: bool
) -> None:
    """Raise InUse (code `project_in_use`) if any of its flags is on anywhere, unless
    `force`."""
    if force:
        return
    live = live_flags(conn, project["id"])
    if live:
        envs = [e for e in env_keys if any(e in on for on in live.values())]
        raise InUse(
            f"flags are on in {', '.join(envs)}: {', '.join(sorted(live))}. Deleting the "
            f"project stops serving them at once, and {FALLBACK}. Repeat with force=true to "
            "go ahead",
            code="project_in_use",
            environments=envs,
            flags=sorted(live),
        )
