"""Where a flag's configuration uses a variation, and the configuration without one.

Configurations name variations by index, so removing one shifts every later index down by one:
`without_variation` does that, and `variation_uses` says what would stop the removal. Changes
waiting to apply (open change requests, pending schedules) name indexes too, and are not
renumbered: `refuse_pending_references` stops the removal while one names a moved index.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import Connection

from ..store import change_requests as request_store
from ..store import schedules as schedule_store
from .errors import Conflict

__all__ = ["refuse_pending_references", "variation_uses", "without_variation"]


def _serve_uses(serve: Any, index: int) -> bool:
    if not isinstance(serve, dict):
        return False
    if "rollout" in serve:
        weights = (serve.get("rollout") or {}).get("weights") or []
        return any(w.get("variation") == index and w.get("weight", 0) > 0 for w in weights)
    return bool(serve.get("variation") == index)


def variation_uses(config: dict[str, Any], index: int) -> list[str]:
    """What in one environment's configuration serves variation `index` (empty: unused).

    A rollout share of 0% does not count: it never serves the variation.
    """
    uses: list[str] = []
    if config.get("off_variation") == index:
        uses.append("the variation served when off")
    if any(t.get("variation") == index and t.get("values") for t in config.get("targets") or []):
        uses.append("individual targets")
    for i, rule in enumerate(config.get("rules") or []):
        if _serve_uses(rule.get("serve"), index):
            uses.append(f"rule {i + 1}")
    if _serve_uses(config.get("fallthrough"), index):
        uses.append("the default rule")
    return uses


def _shift(value: Any, index: int) -> Any:
    return value - 1 if isinstance(value, int) and value > index else value


def _serve_without(serve: Any, index: int) -> Any:
    if not isinstance(serve, dict):
        return serve
    if "rollout" in serve:
        rollout = dict(serve["rollout"] or {})
        rollout["weights"] = [
            {**w, "variation": _shift(w.get("variation"), index)}
            for w in rollout.get("weights") or []
            if w.get("variation") != index
        ]
        return {**serve, "rollout": rollout}
    return {**serve, "variation": _shift(serve.get("variation"), index)}


def without_variation(config: dict[str, Any], index: int) -> dict[str, Any]:
    """The configuration fields renumbered for a flag without variation `index`.

    Only for an unused variation (see `variation_uses`): empty targets and 0% shares of it are
    dropped, and every later index moves down by one.
    """
    out = copy.deepcopy(
        {k: config[k] for k in ("off_variation", "targets", "rules", "fallthrough")}
    )
    out["off_variation"] = _shift(out["off_variation"], index)
    out["targets"] = [
        {**t, "variation": _shift(t.get("variation"), index)}
        for t in out["targets"] or []
        if t.get("variation") != index
    ]
    out["rules"] = [
        {**r, "serve": _serve_without(r.get("serve"), index)} for r in out["rules"] or []
    ]
    out["fallthrough"] = _serve_without(out["fallthrough"], index)
    return out


def _named(serve: Any) -> set[int]:
    if not isinstance(serve, dict):
        return set()
    if "rollout" in serve:
        weights = (serve.get("rollout") or {}).get("weights") or []
        return {w["variation"] for w in weights if isinstance(w.get("variation"), int)}
    return {serve["variation"]} if isinstance(serve.get("variation"), int) else set()


def named_indexes(changes: dict[str, Any]) -> set[int]:
    """Every variation index a (partial) configuration names, even by an empty target or a
    0% share."""
    out = set()
    if isinstance(changes.get("off_variation"), int):
        out.add(changes["off_variation"])
    for t in changes.get("targets") or []:
        if isinstance(t, dict) and isinstance(t.get("variation"), int):
            out.add(t["variation"])
    for rule in changes.get("rules") or []:
        if isinstance(rule, dict):
            out |= _named(rule.get("serve"))
    return out | _named(changes.get("fallthrough"))


def refuse_pending_references(
    conn: Connection, project_id: int, flag: dict[str, Any], index: int
) -> None:
    """Conflict `variation_pending` if an open change request or a pending schedule of the flag
    names variation `index` or a later one: removing it would renumber those, and the waiting
    change would then serve another value than the one it was made (and approved) for."""
    found = [
        f"change request #{r['id']}"
        for r in request_store.list_for(
            conn, project_id=project_id, flag_id=flag["id"], states=("open",)
        )
        if any(i >= index for i in named_indexes(r["changes"]))
    ]
    found += [
        f"schedule #{s['id']}"
        for s in schedule_store.list_for(
            conn, project_id=project_id, flag_id=flag["id"], status="pending"
        )
        if any(i >= index for i in named_indexes(s["changes"]))
    ]
    if found:
        raise Conflict(
            f"{', '.join(found)} of {flag['key']} name variation {index} or a later one, which "
            "removing it would renumber: apply, cancel or reject them first",
            code="variation_pending",
        )
