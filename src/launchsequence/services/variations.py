"""Where a flag's configuration uses a variation, and the configuration without one.

Configurations name variations by index, so removing one shifts every later index down by one:
`without_variation` does that, and `variation_uses` says what would stop the removal.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["variation_uses", "without_variation"]


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
