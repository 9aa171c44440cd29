"""A flag's configuration in one environment as people read it, one line per fact, and the
difference between two of them, part by part and line by line.

Pure functions over the flag (its variations) and stored configurations; no I/O. Rule ids are
left out of the lines and of the comparison: two rules that say the same thing are the same
rule, whatever id each environment gave it.
"""

from __future__ import annotations

import difflib
from typing import Any

import orjson

__all__ = ["PARTS", "PART_LABELS", "compare_configs", "part_lines"]

#: The parts of a configuration that are compared and copied, in the order they are shown.
PARTS = ("on", "off_variation", "prerequisites", "targets", "rules", "fallthrough", "client_side")

PART_LABELS = {
    "on": "On / off",
    "off_variation": "Off variation",
    "prerequisites": "Prerequisites",
    "targets": "Individual targets",
    "rules": "Rules",
    "fallthrough": "Default rule (fallthrough)",
    "client_side": "Client-side availability",
}

_OPERATORS = {
    "in": "is one of",
    "contains": "contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "semver_eq": "semver =",
    "semver_lt": "semver <",
    "semver_gt": "semver >",
    "before": "is before",
    "after": "is after",
    "segment_match": "is in segment",
}


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return "(a value that cannot be shown)"


def _variation(variations: list[dict[str, Any]], index: Any) -> str:
    """`true (On)`, `"blue"`, or `variation 7 (missing)`."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(variations):
        return f"variation {index} (missing)"
    variation = variations[index]
    name = variation.get("name")
    text = _json(variation.get("value"))
    return f"{text} ({name})" if name else text


def _serve(variations: list[dict[str, Any]], serve: Any) -> str:
    if not isinstance(serve, dict):
        return "the application's own default (unset)"
    if "variation" in serve:
        return _variation(variations, serve["variation"])
    rollout = serve.get("rollout")
    if isinstance(rollout, dict):
        parts = []
        for weight in rollout.get("weights") or []:
            pct = f"{weight.get('weight', 0) / 1000:.3f}".rstrip("0").rstrip(".")
            parts.append(f"{pct}% {_variation(variations, weight.get('variation'))}")
        by = rollout.get("bucket_by") or "key"
        return f"a rollout of {', '.join(parts) or 'nothing'}, by {by}"
    return _json(serve)


def _clause(clause: dict[str, Any]) -> str:
    op = clause.get("op", "?")
    words = _OPERATORS.get(op, op)
    if clause.get("negate"):
        words = f"not {words}"
    values = ", ".join(v if isinstance(v, str) else _json(v) for v in clause.get("values") or [])
    if op == "segment_match":
        return f"the context {words} {values}"
    return f"{clause.get('attribute', '?')} {words} {values}"


def part_lines(part: str, config: dict[str, Any], variations: list[dict[str, Any]]) -> list[str]:
    """The lines that say what `part` of `config` is (never empty: "none" for an empty list)."""
    value = config.get(part)
    if part == "on":
        return ["On" if value else "Off"]
    if part == "client_side":
        return ["Available to client-side SDKs" if value else "Server-side SDKs only"]
    if part == "off_variation":
        if value is None:
            return ["Serve the application's own default (unset)"]
        return [f"Serve {_variation(variations, value)}"]
    if part == "fallthrough":
        return [f"Serve {_serve(variations, value)}"]
    if part == "prerequisites":
        lines = [
            f"{p.get('flag')} must serve its variation {p.get('variation')}"
            for p in value or []
            if isinstance(p, dict)
        ]
        return lines or ["none"]
    if part == "targets":
        lines = [
            f"Serve {_variation(variations, t.get('variation'))} to "
            + ", ".join(str(k) for k in t.get("values") or [])
            for t in value or []
            if isinstance(t, dict) and t.get("values")
        ]
        return lines or ["none"]
    if part == "rules":
        lines = []
        for i, rule in enumerate(value or [], 1):
            if not isinstance(rule, dict):
                continue
            title = f"Rule {i}" + (f": {rule['description']}" if rule.get("description") else "")
            lines.append(title)
            for j, clause in enumerate(rule.get("clauses") or []):
                lines.append(f"    {'if' if j == 0 else 'and'} {_clause(clause)}")
            lines.append(f"    serve {_serve(variations, rule.get('serve'))}")
        return lines or ["none"]
    return [_json(value)]


def _comparable(part: str, value: Any) -> Any:
    """The part as compared: rules without their ids."""
    if part == "rules" and isinstance(value, list):
        return [
            {k: v for k, v in rule.items() if k != "id"} if isinstance(rule, dict) else rule
            for rule in value
        ]
    if part in ("targets", "prerequisites") and value is None:
        return []
    return value


def _rows(old: list[str], new: list[str]) -> list[dict[str, Any]]:
    """Side by side: one row per line, `kind` "same", "changed" (both sides), "removed" (only
    in the first) or "added" (only in the second)."""
    rows: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend({"kind": "same", "from": line, "to": line} for line in old[i1:i2])
            continue
        left, right = old[i1:i2], new[j1:j2]
        for k in range(max(len(left), len(right))):
            a = left[k] if k < len(left) else None
            b = right[k] if k < len(right) else None
            kind = "added" if a is None else "removed" if b is None else "changed"
            rows.append({"kind": kind, "from": a, "to": b})
    return rows


def compare_configs(
    source: dict[str, Any], target: dict[str, Any], variations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each part of the two configurations: its `part` name, `label`, whether it `differs`,
    and its `lines` side by side (see `_rows`)."""
    out = []
    for part in PARTS:
        differs = _comparable(part, source.get(part)) != _comparable(part, target.get(part))
        old = part_lines(part, source, variations)
        new = part_lines(part, target, variations)
        out.append(
            {
                "part": part,
                "label": PART_LABELS[part],
                "differs": differs,
                "lines": _rows(old, new),
            }
        )
    return out
