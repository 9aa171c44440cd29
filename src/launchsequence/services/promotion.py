"""Environments compared and promoted: one flag, or a whole project, across two environments,
and a flag's configuration (or chosen parts of it) copied from one to the other.

A copy is an ordinary configuration change of the target environment: `copy` works out the
proposed configuration and hands it to `Flags.write_config`, the write path every change takes
(validation, version bump, audit entry with the caller's comment, webhook events, and whatever
gate that path puts on protected environments). Into a protected environment it opens a change
request instead, in the same transaction that compared the two (`ChangeRequests.open_in`).

Segments are per environment: rules that name a segment the target does not have are refused
(422 `segments_missing`, naming them) rather than copied along, so that a copy never changes
who a segment of the target holds behind the back of the person copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from ..store import flags as store
from ..store import orgs as org_store
from .access import environment_for, flag_for, project_access
from .change_requests import ChangeRequests
from .config_text import PARTS, compare_configs
from .errors import Invalid, NotFound, PreconditionFailed
from .flags import Flags, public_config
from .runtime import Actor, Runtime

__all__ = ["Promotion", "check_parts"]


def check_parts(raw: Any) -> list[str]:
    """The parts to copy, in PARTS order; None means all of them. Invalid (field `parts`) for
    an empty list or an unknown part."""
    if raw is None:
        return list(PARTS)
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"must be a list of one or more of {', '.join(PARTS)}", field="parts")
    for i, part in enumerate(raw):
        if part not in PARTS:
            raise Invalid(f"must be one of {', '.join(PARTS)}", field=f"parts[{i}]")
    return [p for p in PARTS if p in raw]


def _segments_used(rules: Any) -> list[str]:
    used: list[str] = []
    for rule in rules or []:
        for clause in rule.get("clauses") or [] if isinstance(rule, dict) else []:
            if isinstance(clause, dict) and clause.get("op") == "segment_match":
                used.extend(v for v in clause.get("values") or [] if v not in used)
    return used


def _proposed(both: _Both, parts: list[str]) -> dict[str, Any]:
    """The PATCH body copying `parts` of the source's configuration makes to the target's
    (only the parts that differ); Invalid `segments_missing` when copied rules name segments
    the target lacks."""
    if "rules" in parts:
        missing = [s for s in _segments_used(both.a["rules"]) if s not in both.segments]
        if missing:
            names = ", ".join(missing)
            many = len(missing) > 1
            raise Invalid(
                f"the rules use segment{'s' if many else ''} {names}, which "
                f"{both.target['key']} does not have: create {'them' if many else 'it'} in "
                f"{both.target['key']} first, then copy",
                field="parts",
                code="segments_missing",
            )
    differing = {
        p["part"] for p in compare_configs(both.a, both.b, both.flag["variations"]) if p["differs"]
    }
    return {part: both.a[part] for part in parts if part in differing}


def _config_view(config: dict[str, Any]) -> dict[str, Any]:
    return {"version": config["version"], **{part: config[part] for part in PARTS}}


class _Both(NamedTuple):
    flag: dict[str, Any]
    source: dict[str, Any]
    target: dict[str, Any]
    a: dict[str, Any]
    b: dict[str, Any]
    segments: set[str]


class Promotion:
    def __init__(self, rt: Runtime, flags: Flags, change_requests: ChangeRequests) -> None:
        self.rt = rt
        self.flags = flags
        self.change_requests = change_requests

    def _pair(
        self,
        conn: Connection,
        project: dict[str, Any],
        from_key: str | None,
        to_key: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The two environments. Left out, `to` is the project's first environment and `from`
        the first other one (staging and production in a new project). NotFound for a key the
        project does not have; Invalid (`same_environment`) for one environment twice."""
        keys = [e["key"] for e in org_store.list_environments(conn, project["id"])]
        if to_key is None:
            to_key = next((k for k in keys if k != from_key), None)
        if from_key is None:
            from_key = next((k for k in keys if k != to_key), None)
        if from_key is None or to_key is None:
            raise Invalid("the project has one environment: nothing to compare", field="from")
        source = environment_for(conn, project, from_key)
        target = environment_for(conn, project, to_key)
        if source["id"] == target["id"]:
            raise Invalid(
                "compare or copy between two different environments", field="to",
                code="same_environment",
            )  # fmt: skip
        return source, target

    def _both(
        self,
        conn: Connection,
        project: dict[str, Any],
        flag_key: str,
        from_key: str | None,
        to_key: str | None,
    ) -> _Both:
        """The flag, both environments, their configurations and the target's segment keys;
        NotFound for a missing flag or environment."""
        source, target = self._pair(conn, project, from_key, to_key)
        flag = flag_for(conn, project, flag_key)
        a = store.get_config(conn, flag_id=flag["id"], environment_id=source["id"])
        b = store.get_config(conn, flag_id=flag["id"], environment_id=target["id"])
        if a is None or b is None:
            raise NotFound("no such flag")
        segments = {s["key"] for s in store.list_segments(conn, target["id"])}
        return _Both(flag, source, target, a, b, segments)

    def compare_flag(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        flag_key: str,
        from_key: str | None = None,
        to_key: str | None = None,
    ) -> dict[str, Any]:
        """One flag's configuration in both environments, and per part whether it differs
        and its lines side by side (see config_text.compare_configs)."""
        with self.rt.db.connect() as conn:
            _, project = project_access(conn, actor, org_key, project_key)
            flag, source, target, a, b, segments = self._both(
                conn, project, flag_key, from_key, to_key
            )
        parts = compare_configs(a, b, flag["variations"])
        missing = [s for s in _segments_used(a["rules"]) if s not in segments]
        return {
            "flag": {"key": flag["key"], "name": flag["name"], "archived": flag["archived"]},
            "from": source["key"],
            "to": target["key"],
            "differs": any(p["differs"] for p in parts),
            "differing_parts": [p["part"] for p in parts if p["differs"]],
            "parts": parts,
            "from_config": _config_view(a),
            "to_config": _config_view(b),
            "to_protected": bool(target["protected"]),
            "segments_missing": missing,
        }

    def compare_project(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        from_key: str | None = None,
        to_key: str | None = None,
    ) -> dict[str, Any]:
        """Every flag of the project (archived ones too, marked), with the parts that differ
        between the two environments; flags that differ first, then by key."""
        with self.rt.db.connect() as conn:
            _, project = project_access(conn, actor, org_key, project_key)
            source, target = self._pair(conn, project, from_key, to_key)
            flags = store.list_flags(conn, project_id=project["id"], archived=None)
            configs: dict[tuple[int, int], dict[str, Any]] = {
                (c["flag_id"], c["environment_id"]): c
                for c in store.list_configs_for_project(conn, project["id"])
                if c["environment_id"] in (source["id"], target["id"])
            }
        rows = []
        for flag in flags:
            a = configs.get((flag["id"], source["id"]))
            b = configs.get((flag["id"], target["id"]))
            if a is None or b is None:
                continue
            parts = compare_configs(a, b, flag["variations"])
            differing = [p["part"] for p in parts if p["differs"]]
            rows.append(
                {
                    "key": flag["key"],
                    "name": flag["name"],
                    "archived": flag["archived"],
                    "differs": bool(differing),
                    "differing_parts": differing,
                    "from_on": a["on"],
                    "to_on": b["on"],
                }
            )
        rows.sort(key=lambda r: (not r["differs"], r["key"]))
        return {
            "from": source["key"],
            "to": target["key"],
            "differing": sum(1 for r in rows if r["differs"]),
            "flags": rows,
        }

    def proposal(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        flag_key: str,
        from_key: str,
        to_key: str,
        parts: list[str],
    ) -> dict[str, Any]:
        """The change that copying `parts` of the flag's configuration in `from_key` makes to
        `to_key`: the PATCH body of the target's configuration (only the parts that differ).
        Invalid (`segments_missing`) when copied rules name segments the target lacks."""
        with self.rt.db.connect() as conn:
            _, project = project_access(conn, actor, org_key, project_key, write=True)
            both = self._both(conn, project, flag_key, from_key, to_key)
        return _proposed(both, parts)

    def copy(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        flag_key: str,
        *,
        from_key: str,
        to_key: str,
        parts: Sequence[str] | None = None,
        if_match: int | None = None,
    ) -> dict[str, Any]:
        """Copy `parts` (all of them when None) of the flag's configuration from `from_key` to
        `to_key`, through the write path of any configuration change. `if_match` is the
        target's version as the caller saw it (412 if it moved). Answers the parts asked,
        those that `changed` (none when the target already matched: nothing is written) and
        the target's configuration as it is now.

        A protected target takes the copy as a change request (`request`), like any change
        there: the comparison, the `if_match` check and the request are one transaction under
        the project's lock, so the request proposes exactly what was compared."""
        chosen = check_parts(parts)
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            both = self._both(conn, project, flag_key, from_key, to_key)
            changes = _proposed(both, chosen)
            opened = None
            if changes and both.target["protected"]:
                if if_match is not None and both.b["version"] != if_match:
                    raise PreconditionFailed(
                        f"{to_key} changed since version {if_match}: it is at {both.b['version']}",
                        current=both.b["version"],
                    )
                opened, recipients = self.change_requests.open_in(
                    conn, actor, org, project, both.flag, both.target, changes,
                    actor.comment or "",
                )  # fmt: skip
        if opened is not None:
            self.change_requests.mail_opened(org_key, opened, recipients)
            return {
                "flag": flag_key,
                "from": from_key,
                "to": to_key,
                "parts": chosen,
                "changed": [],
                "config": public_config(both.b, to_key),
                "request": opened,
            }
        config = self.flags.write_config(
            actor, org_key, project_key, flag_key, to_key, changes,
            if_match=if_match, replace=False,
        )  # fmt: skip
        return {
            "flag": flag_key,
            "from": from_key,
            "to": to_key,
            "parts": chosen,
            "changed": [p for p in chosen if p in changes],
            "config": config,
        }
