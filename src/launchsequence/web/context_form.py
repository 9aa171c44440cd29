"""The "test a context" panel's fields: a key and attribute rows beside the raw JSON.

Fields: `ctx.key`; per row `ctx.a{i}.name`, `ctx.a{i}.value`, `ctx.a{i}.type` (`string`,
`number` or `boolean`); `ctx.rows` (how many rows); `context` (the raw JSON, as before the rows
existed); `ctx.built` (the JSON the rows stood for when the page was drawn).

Which one is evaluated: the raw JSON when it was edited (it no longer says what `ctx.built`
says), otherwise the rows. A request without `ctx.rows` (an API client, an old link) is read
as the raw JSON alone. app.js keeps both in step as either is typed, so with scripts both say
the same; without scripts the one the user changed wins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from . import params

__all__ = ["MAX_ROWS", "TYPES", "context_rows", "context_text"]

MAX_ROWS = 50
TYPES = ("string", "number", "boolean")


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return ValueError  # a marker no JSON value equals


def _from_rows(fields: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """The context the rows build, and the first problem found (None when there is none)."""
    context: dict[str, Any] = {}
    key = fields.get("ctx.key", "")
    if key:
        context["key"] = key
    count = params.clamped(fields.get("ctx.rows"), "ctx.rows", lo=0, hi=MAX_ROWS, default=0)
    for i in range(count):
        name = fields.get(f"ctx.a{i}.name", "").strip()
        if not name:  # an empty row: left out
            continue
        raw = fields.get(f"ctx.a{i}.value", "")
        kind = fields.get(f"ctx.a{i}.type", "string")
        value: Any = raw
        if kind == "number":
            value = params.number(raw)
            if value is None or not math.isfinite(value):
                return context, f"attribute {name}: {raw!r} is not a number"
        elif kind == "boolean":
            if raw.strip().lower() not in ("true", "false"):
                return context, f"attribute {name}: a boolean is true or false, not {raw!r}"
            value = raw.strip().lower() == "true"
        context[name] = value
    return context, None


def context_text(fields: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The JSON text to evaluate (None when the panel was not sent) and, when the rows cannot
    make a context, why (the text is then the raw JSON, shown again as sent)."""
    raw = fields.get("context")
    if "ctx.rows" not in fields:
        return raw, None
    if raw is not None and _loads(raw) != _loads(fields.get("ctx.built")):
        return raw, None  # the JSON was edited: it wins
    context, problem = _from_rows(fields)
    if problem:
        return raw, problem
    if raw is not None and _loads(raw) == context:
        return raw, None  # nothing changed: keep the text as typed
    return json.dumps(context), None


def _cell(value: Any) -> tuple[str, str] | None:
    """A JSON value as a row's (value, type); None when a row cannot hold it."""
    if isinstance(value, bool):
        return ("true" if value else "false"), "boolean"
    if isinstance(value, int | float):
        return json.dumps(value), "number"
    if isinstance(value, str):
        return value, "string"
    return None


def context_rows(text: str | None) -> dict[str, Any]:
    """The rows that show a context's JSON: `key`, `rows` (name, value, type; one empty row
    last, to add one without scripts), `complete` (False when part of it, a nested object, a
    list or a non-text key, can only be edited as JSON) and `built`, the JSON the rows make."""
    value = _loads(text)
    key = ""
    rows: list[dict[str, str]] = []
    complete = isinstance(value, dict)
    built: dict[str, Any] = {}
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "key" and isinstance(item, str):
                key = item
                if item:
                    built["key"] = item
                continue
            cell = _cell(item) if name.strip() == name and name else None
            if cell is None or len(rows) >= MAX_ROWS - 1:
                complete = False
                continue
            rows.append({"name": name, "value": cell[0], "type": cell[1]})
            built[name] = item
    rows.append({"name": "", "value": "", "type": "string"})
    return {"key": key, "rows": rows, "complete": complete, "built": json.dumps(built)}
