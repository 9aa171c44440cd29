"""The flag page's metadata, prerequisites and dependents: form text to service values and back.

Metadata is edited as text, one entry a line, `name = value`; the value is read as a JSON
scalar when it is one (`true`, `3`, `2.5`, `"text"`), and as plain text otherwise, so that
`owner = web team` needs no quotes. Prerequisites are rows of one choice each, `flag:index`
(a flag key holds no colon), so that one select names both the flag and its variation.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..services import Invalid

__all__ = [
    "MAX_PREREQUISITE_ROWS",
    "format_metadata",
    "off_result",
    "parse_metadata",
    "prerequisite_choices",
    "prerequisites_from_draft",
    "prerequisites_from_form",
]

#: Rows the form reads at most; the page never offers more than the project has flags.
MAX_PREREQUISITE_ROWS = 100


def format_metadata(metadata: dict[str, Any]) -> str:
    """The text the metadata field shows: strings bare unless bare text would read back as
    something else (a number, a boolean, quotes, surrounding spaces)."""
    lines = []
    for name, value in metadata.items():
        if isinstance(value, str) and value == value.strip() and value and _bare(value):
            shown = value
        else:
            shown = orjson.dumps(value).decode()
        lines.append(f"{name} = {shown}")
    return "\n".join(lines)


def _bare(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return True
    return False


def parse_metadata(text: str) -> dict[str, Any]:
    """The metadata the text describes; raises Invalid (field `metadata`) naming the line.
    The service checks the bounds (entries, name and string lengths)."""
    out: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, raw = line.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name:
            raise Invalid(
                f"line {number}: write one entry a line, as name = value", field="metadata"
            )
        if name in out:
            raise Invalid(f"line {number}: {name} is named twice", field="metadata")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        if value is None or isinstance(value, (list, dict)):
            raise Invalid(
                f"line {number}: a value is true, false, a number or text "
                '(quote text that reads as JSON, as "null")',
                field="metadata",
            )
        out[name] = value
    return out


def prerequisites_from_form(form: dict[str, str]) -> list[str]:
    """The rows as typed (`prereq0`, `prereq1`, ...), empty ones kept so the page shows them."""
    rows = []
    for i in range(MAX_PREREQUISITE_ROWS):
        if f"prereq{i}" not in form:
            break
        rows.append(form[f"prereq{i}"])
    return rows


def prerequisites_from_draft(rows: list[str]) -> list[dict[str, Any]]:
    """The configuration's prerequisites: rows left empty are none. Raises Invalid naming the
    row for a choice no form of the page sends."""
    out = []
    for i, raw in enumerate(r for r in rows if r):
        key, sep, index = raw.partition(":")
        if not sep or not index.isascii() or not index.isdigit() or len(index) > 6:
            raise Invalid("choose a flag and a variation", field=f"prerequisites[{i}].flag")
        out.append({"flag": key, "variation": int(index)})
    return out


def prerequisite_choices(flags: list[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    """(value, label) for every variation of every other flag the project serves."""
    choices = []
    for f in flags:
        if f["key"] == key or f["archived"]:
            continue
        for i, v in enumerate(f["variations"]):
            label = v.get("name") or f"variation {i + 1}"
            choices.append((f"{f['key']}:{i}", f"{f['key']} serves {label} ({_shown(v['value'])})"))
    return choices


def off_result(flag: dict[str, Any], config: dict[str, Any]) -> str:
    """What a flag serves when off (or when its prerequisite fails), in the page's words."""
    off = config["off_variation"]
    if off is None:
        return "the application's default (its fallback value)"
    v = flag["variations"][off]
    label = v.get("name") or f"variation {off + 1}"
    return f"{label} ({_shown(v['value'])})"


def _shown(value: Any) -> str:
    """A variation's value in at most 40 characters; a value stored before the bounds on values
    (one that cannot be written as JSON: its flag is set aside) must not break the page."""
    try:
        return orjson.dumps(value).decode()[:40]
    except (TypeError, ValueError):
        return "a value that cannot be shown"
