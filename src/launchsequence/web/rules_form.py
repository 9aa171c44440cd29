"""The rule editor's form: between stored rules (typed JSON) and the fields of the page.

A draft keeps what the user typed (strings), so that a refused form comes back as typed; it
becomes a configuration only when saved. Field names: `r{i}.description`,
`r{i}.c{j}.attribute|op|values|negate`, `r{i}.serve` (a variation index or `rollout`),
`r{i}.w{k}` (percent per variation), `r{i}.bucket_by`; the fallthrough is `ft.*`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..services import Invalid
from . import params

__all__ = [
    "OPERATORS",
    "apply_action",
    "draft_from_form",
    "draft_rules",
    "draft_serve",
    "engine_field",
    "rollout_split",
    "rules_from_draft",
    "serve_from_draft",
    "split_keys",
]

OPERATORS = (
    ("in", "is one of"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("ends_with", "ends with"),
    ("lt", "<"),
    ("lte", "≤"),
    ("gt", ">"),
    ("gte", "≥"),
    ("semver_eq", "semver ="),
    ("semver_lt", "semver <"),
    ("semver_gt", "semver >"),
    ("before", "before (time)"),
    ("after", "after (time)"),
    ("segment_match", "is in segment"),
)
_NUMERIC = {"lt", "lte", "gt", "gte"}
_TIME = {"before", "after"}
MAX_RULES = 100
MAX_CLAUSES = 50


def split_keys(text: str) -> list[str]:
    """Keys pasted one per line or separated by commas or spaces, without duplicates."""
    out: list[str] = []
    for key in re.split(r"[\s,]+", text):
        if key and key not in out:
            out.append(key)
    return out


def _pct(weight: int) -> str:
    text = f"{weight / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def rollout_split(weights: list[str]) -> dict[str, Any]:
    """How a rollout's typed percentages draw: per variation its start and width on a 0-100
    bar (what cannot be read counts as 0, the bar stops at 100), and the note under it: what
    is left unassigned, what is too much, or that it adds up to 100%. app.js draws the same
    as the numbers are typed."""
    parts = []
    total = 0.0
    for raw in weights:
        pct = params.number(raw or "0")
        pct = pct if pct is not None and math.isfinite(pct) and pct > 0 else 0.0
        start = min(total, 100.0)
        parts.append({"x": round(start, 3), "width": round(min(pct, 100.0 - start), 3)})
        total += pct
    total = round(total, 3)
    if total == 100:
        note, ok = "Adds up to 100%", True
    elif total < 100:
        note, ok = f"{_pct(round((100 - total) * 1000))}% unassigned: must add up to 100%", False
    else:
        note, ok = f"{_pct(round((total - 100) * 1000))}% too much: must add up to 100%", False
    return {"parts": parts, "note": note, "ok": ok}


def draft_serve(serve: dict[str, Any] | None, count: int) -> dict[str, Any]:
    if serve is None:  # an unset fallthrough: the application's own default
        return {"serve": "default", "weights": ["0"] * count, "bucket_by": "key"}
    if "rollout" in serve:
        weights = {w["variation"]: w["weight"] for w in serve["rollout"].get("weights", [])}
        return {
            "serve": "rollout",
            "weights": [_pct(weights.get(k, 0)) for k in range(count)],
            "bucket_by": serve["rollout"].get("bucket_by", "key"),
        }
    return {"serve": str(serve.get("variation", 0)), "weights": ["0"] * count, "bucket_by": "key"}


def _values_text(values: list[Any]) -> str:
    return "\n".join(str(v) for v in values)


def draft_rules(
    rules: list[dict[str, Any]], count: int, *, serve: bool = True
) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        entry = {
            "id": rule.get("id", ""),
            "description": rule.get("description", ""),
            "clauses": [
                {
                    "attribute": c.get("attribute", ""),
                    "op": c.get("op", "in"),
                    "values": _values_text(c.get("values", [])),
                    "negate": bool(c.get("negate", False)),
                }
                for c in rule.get("clauses", [])
            ],
        }
        if serve:
            entry.update(draft_serve(rule.get("serve", {"variation": 0}), count))
        out.append(entry)
    return out


def _serve_fields(form: dict[str, str], prefix: str, count: int) -> dict[str, Any]:
    return {
        "serve": form.get(f"{prefix}.serve", "0"),
        "weights": [form.get(f"{prefix}.w{k}", "0") for k in range(count)],
        "bucket_by": form.get(f"{prefix}.bucket_by", "key") or "key",
    }


def _count(form: dict[str, str], name: str, limit: int) -> int:
    """How many rules or clauses the form holds (a hidden field): at most `limit` are read."""
    return params.clamped(form.get(name), name, lo=0, hi=limit, default=0)


def draft_from_form(
    form: dict[str, str], count: int, *, serve: bool = True
) -> list[dict[str, Any]]:
    rules = []
    for i in range(_count(form, "rule_count", MAX_RULES)):
        p = f"r{i}"
        rule: dict[str, Any] = {
            "id": form.get(f"{p}.id", ""),
            "description": form.get(f"{p}.description", ""),
            "clauses": [
                {
                    "attribute": form.get(f"{p}.c{j}.attribute", ""),
                    "op": form.get(f"{p}.c{j}.op", "in"),
                    "values": form.get(f"{p}.c{j}.values", ""),
                    "negate": form.get(f"{p}.c{j}.negate") == "1",
                }
                for j in range(_count(form, f"{p}.clause_count", MAX_CLAUSES))
            ],
        }
        if serve:
            rule.update(_serve_fields(form, p, count))
        rules.append(rule)
    return rules


def fallthrough_from_form(form: dict[str, str], count: int) -> dict[str, Any]:
    return _serve_fields(form, "ft", count)


def apply_action(
    rules: list[dict[str, Any]], action: str, count: int, *, serve: bool = True
) -> bool:
    """Add, remove or move a rule or clause as the pressed button says; whether it did."""
    name, _, args = action.partition(":")
    nums: list[int] = []
    for part in args.split(":") if args else []:
        num = params.index(part, MAX_RULES + MAX_CLAUSES)
        if num is None:  # the buttons name positions: this one was made up
            raise Invalid(f"unknown action {action[:100]!r}")
        nums.append(num)
    blank_clause = {"attribute": "", "op": "in", "values": "", "negate": False}
    if name == "add-rule" and len(rules) < MAX_RULES:
        rule: dict[str, Any] = {"id": "", "description": "", "clauses": [dict(blank_clause)]}
        if serve:
            rule.update({"serve": "0", "weights": ["0"] * count, "bucket_by": "key"})
        rules.append(rule)
        return True
    if not nums or nums[0] >= len(rules):
        return False
    i = nums[0]
    if name == "remove-rule":
        rules.pop(i)
    elif name == "up" and i > 0:
        rules[i - 1], rules[i] = rules[i], rules[i - 1]
    elif name == "down" and i + 1 < len(rules):
        rules[i + 1], rules[i] = rules[i], rules[i + 1]
    elif name == "add-clause" and len(rules[i]["clauses"]) < MAX_CLAUSES:
        rules[i]["clauses"].append(dict(blank_clause))
    elif name == "remove-clause" and len(nums) == 2 and nums[1] < len(rules[i]["clauses"]):
        rules[i]["clauses"].pop(nums[1])
    else:
        return False
    return True


def _clause_values(op: str, text: str, field: str) -> list[Any]:
    values: list[Any] = [v.strip() for v in text.splitlines() if v.strip()]
    if op in _NUMERIC or op in _TIME:
        out: list[Any] = []
        for v in values:
            number = params.number(v)
            if number is None and op in _NUMERIC:
                raise Invalid("must be numbers, one per line", field=field)
            if number is not None and not math.isfinite(number):
                raise Invalid("must be finite numbers", field=field)
            if isinstance(number, float) and number.is_integer() and abs(number) < 2**63:
                number = int(number)  # "1e3" and "5.0" are stored as 1000 and 5
            # Not a number: a timestamp such as 2026-01-01T00:00:00Z.
            out.append(v if number is None else number)
        values = out
    return values


def serve_from_draft(d: dict[str, Any], prefix: str, count: int) -> dict[str, Any] | None:
    """A serve from its form fields; None for the default rule's "the application's default"."""
    if d["serve"] == "default" and prefix == "ft":
        return None
    if d["serve"] != "rollout":
        variation = params.index(d["serve"], count)
        if variation is None:
            raise Invalid("choose a variation or a rollout", field=f"{prefix}.serve")
        return {"variation": variation}
    weights = []
    for k, raw in enumerate(d["weights"]):
        pct = params.number(raw or "0")
        if pct is None:
            raise Invalid("must be a percentage", field=f"{prefix}.w{k}")
        if not 0 <= pct <= 100:
            raise Invalid("must be 0 to 100", field=f"{prefix}.w{k}")
        weights.append({"variation": k, "weight": round(pct * 1000)})
    total = sum(w["weight"] for w in weights)
    if total != 100_000:
        raise Invalid(f"the percentages add up to {_pct(total)}, not 100", field=f"{prefix}.serve")
    bucket_by = d["bucket_by"].strip() or "key"
    return {"rollout": {"bucket_by": bucket_by, "weights": [w for w in weights if w["weight"]]}}


def rules_from_draft(
    drafts: list[dict[str, Any]], count: int, *, serve: bool = True
) -> list[dict[str, Any]]:
    rules = []
    for i, d in enumerate(drafts):
        clauses = []
        for j, c in enumerate(d["clauses"]):
            field = f"r{i}.c{j}"
            if not c["attribute"].strip() and c["op"] != "segment_match":
                raise Invalid("name the attribute", field=f"{field}.attribute")
            values = _clause_values(c["op"], c["values"], f"{field}.values")
            if not values:
                raise Invalid("give at least one value, one per line", field=f"{field}.values")
            clauses.append(
                {
                    "attribute": c["attribute"].strip() or "key",
                    "op": c["op"],
                    "values": values,
                    "negate": c["negate"],
                }
            )
        rule: dict[str, Any] = {"clauses": clauses}
        if d["id"]:
            rule["id"] = d["id"]
        if d["description"].strip():
            rule["description"] = d["description"].strip()
        if serve:
            rule["serve"] = serve_from_draft(d, f"r{i}", count)
        rules.append(rule)
    return rules


_PATH = re.compile(r"(rules|targets)\[(\d+)\](?:\.clauses\[(\d+)\](?:\.(\w+))?)?")
_FORM_FIELD = re.compile(r"(r\d+|ft)\.")


def engine_field(path: str | None) -> str:
    """The form field for a path the engine or services named (`rules[0].clauses[1].op`).

    A name this module gave (`r0.c1.values`, `r0.w1`, `ft.serve`) is already a field of the
    form and comes back unchanged.
    """
    if not path:
        return "form"
    if _FORM_FIELD.match(path):
        return path
    if path.startswith("fallthrough"):
        return "ft.serve"
    if path in ("off_variation", "on", "client_side", "included", "excluded"):
        return path
    m = _PATH.match(path)
    if m is None:
        return "form"
    kind, i, j, leaf = m.groups()
    if kind == "targets":
        return "targets"
    if j is None:
        return f"r{i}.serve" if "serve" in path else f"r{i}.description"
    return f"r{i}.c{j}.{leaf if leaf in ('attribute', 'op', 'negate') else 'values'}"
