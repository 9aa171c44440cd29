"""JSON Schemas (as OpenAPI documents hold them) made readable: a one-line type expression with
links to named schemas, and tables of properties for objects written in place.

Any JSON value renders: unknown keywords are ignored, and a part of the wrong JSON type counts
as missing. Text stays text for the template to escape; descriptions go through `markdown`,
which escapes before it adds any tag."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from markupsafe import Markup, escape

__all__ = [
    "Field",
    "Part",
    "SchemaView",
    "Schemas",
    "as_dict",
    "as_list",
    "as_str",
    "markdown",
    "to_json",
]

SCHEMA_REF = "#/components/schemas/"
#: Objects written in place nest this deep as tables; deeper ones are shown as their JSON.
MAX_DEPTH = 5
_NOTES = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("pattern", "pattern"),
    ("minimum", "minimum"),
    ("exclusiveMinimum", "above"),
    ("maximum", "maximum"),
    ("exclusiveMaximum", "below"),
    ("multipleOf", "multiple of"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
    ("minProperties", "min properties"),
    ("maxProperties", "max properties"),
    ("default", "default"),
    ("example", "example"),
)
_FLAGS = (
    ("uniqueItems", "unique items"),
    ("readOnly", "read only"),
    ("writeOnly", "write only"),
    ("deprecated", "deprecated"),
)
_CODE = re.compile(r"`([^`]+)`")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def to_json(value: Any, *, indent: bool = False, sort: bool = False) -> str:
    option = orjson.OPT_NON_STR_KEYS
    option |= orjson.OPT_INDENT_2 if indent else 0
    option |= orjson.OPT_SORT_KEYS if sort else 0
    try:
        return orjson.dumps(value, option=option).decode()
    except TypeError:  # not JSON (a document built in Python may hold anything)
        return repr(value)


def markdown(text: Any) -> Markup:
    """The little Markdown API descriptions use: paragraphs, `- ` lists and `code` spans.
    Anything else shows as written: the text is escaped before any tag is added."""
    html: list[str] = []
    for block in re.split(r"\n\s*\n", as_str(text).strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.startswith(("- ", "* ")) for line in lines):
            html.append("<ul>" + "".join(f"<li>{_inline(x[2:])}</li>" for x in lines) + "</ul>")
        else:
            html.append(f"<p>{_inline(' '.join(lines))}</p>")
    return Markup("".join(html))  # noqa: S704 - every piece of text was escaped by _inline


def _inline(text: str) -> str:
    return _CODE.sub(r"<code>\1</code>", str(escape(text)))


def _unescape(token: str) -> str:
    """One JSON Pointer token of a `$ref`."""
    return unquote(token).replace("~1", "/").replace("~0", "~")


@dataclass(frozen=True)
class Part:
    """A piece of a type expression: text, or a schema's name linking to its anchor."""

    text: str
    anchor: str = ""


@dataclass
class SchemaView:
    type: list[Part]
    description: Markup = field(default_factory=Markup)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (label, JSON or pattern)
    fields: list[Field] = field(default_factory=list)
    closed: bool = False  # additionalProperties: false, no other property is accepted
    variants: list[tuple[str, SchemaView]] = field(default_factory=list)
    raw: str = ""  # the schema's JSON, where the tables do not show all of it


@dataclass
class Field:
    name: str
    required: bool
    schema: SchemaView


class Schemas:
    """Views of the schemas of one document; `anchors` maps a named schema to its HTML id."""

    def __init__(self, anchors: dict[str, str]) -> None:
        self.anchors = anchors

    def ref_part(self, ref: str) -> Part:
        if ref.startswith(SCHEMA_REF):
            name = _unescape(ref[len(SCHEMA_REF) :])
            return Part(name, self.anchors.get(name, ""))
        return Part(_unescape(ref.rsplit("/", 1)[-1]) or ref)

    def type_parts(self, schema: Any) -> tuple[list[Part], bool]:
        """The schema as a type expression, and whether it is a union (to bracket it)."""
        if schema is False:
            return [Part("nothing")], False
        s = as_dict(schema)
        if isinstance(s.get("$ref"), str):
            return [self.ref_part(s["$ref"])], False
        if "const" in s:
            return [Part(to_json(s["const"]))], False
        if as_list(s.get("enum")):
            return [Part(" | ".join(to_json(v) for v in s["enum"]))], len(s["enum"]) > 1
        for key, sep in (("anyOf", " | "), ("oneOf", " | "), ("allOf", " & ")):
            branches = as_list(s.get(key))
            if branches:
                parts: list[Part] = []
                for i, branch in enumerate(branches):
                    parts.extend([Part(sep)] if i else [])
                    parts.extend(self.bracketed(branch))
                return parts, len(branches) > 1
        raw = s.get("type")
        types = [as_str(t) or to_json(t) for t in (raw if isinstance(raw, list) else [raw]) if t]
        if not types:
            if "properties" in s or "additionalProperties" in s:
                types = ["object"]
            elif "items" in s:
                types = ["array"]
            else:
                return [Part("any")], False
        if s.get("nullable") is True and "null" not in types:  # OpenAPI 3.0
            types.append("null")
        parts = []
        for i, t in enumerate(types):
            parts.extend([Part(" | ")] if i else [])
            parts.extend(self._single(t, s))
        return parts, len(types) > 1

    def _single(self, t: str, s: dict[str, Any]) -> list[Part]:
        if t == "array" and isinstance(s.get("items"), dict):
            return [Part("array of "), *self.bracketed(s["items"])]
        extra = s.get("additionalProperties")
        if t == "object" and "properties" not in s and isinstance(extra, dict) and extra:
            return [Part("map of string to "), *self.bracketed(extra)]
        if isinstance(s.get("format"), str) and t != "null":
            return [Part(f"{t} ({s['format']})")]
        return [Part(t)]

    def bracketed(self, schema: Any) -> list[Part]:
        parts, union = self.type_parts(schema)
        return [Part("("), *parts, Part(")")] if union else parts

    def view(self, schema: Any, depth: int = 0) -> SchemaView:
        """Type, description, constraints, and a table for each object written in place."""
        s = as_dict(schema)
        out = SchemaView(self.type_parts(schema)[0], markdown(s.get("description")))
        if "$ref" in s:
            return out
        out.notes = self.notes(s)
        for branch in (*as_list(s.get("anyOf")), *as_list(s.get("oneOf"))):
            if "$ref" not in as_dict(branch):
                out.notes.extend(self.notes(as_dict(branch)))
        inline = self.inline_objects(s)
        if depth >= MAX_DEPTH:
            if _has_fields(s) or inline:
                out.raw = to_json(s, indent=True)
            return out
        out.fields = self.fields(s, depth)
        out.closed = s.get("additionalProperties") is False and bool(out.fields)
        out.variants = [(label, self.view(sub, depth + 1)) for label, sub in inline]
        return out

    def fields(self, s: dict[str, Any], depth: int) -> list[Field]:
        required = {r for r in as_list(s.get("required")) if isinstance(r, str)}
        out = [
            Field(str(name), name in required, self.view(prop, depth + 1))
            for name, prop in as_dict(s.get("properties")).items()
        ]
        for pattern, prop in as_dict(s.get("patternProperties")).items():
            out.append(Field(f"names matching {pattern}", False, self.view(prop, depth + 1)))
        extra = s.get("additionalProperties")
        if out and isinstance(extra, dict) and extra:
            out.append(Field("any other name", False, self.view(extra, depth + 1)))
        return out

    def inline_objects(self, s: dict[str, Any], label: str = "") -> list[tuple[str, Any]]:
        """Objects with properties written in place in `s`'s items, variants or map values
        (not in its own properties, which are its fields): each gets a table under `s`."""
        subs: list[tuple[str, Any]] = []
        if isinstance(s.get("items"), dict):
            subs.append(("each item", s["items"]))
        if not _has_fields(s) and isinstance(s.get("additionalProperties"), dict):
            subs.append(("each value", s["additionalProperties"]))
        for key, word in (("anyOf", "option"), ("oneOf", "option"), ("allOf", "part")):
            branches = as_list(s.get(key))
            for i, branch in enumerate(branches, 1):
                subs.append((f"{word} {i}" if len(branches) > 1 else "", branch))
        found: list[tuple[str, Any]] = []
        for sub_label, sub in subs:
            sub = as_dict(sub)
            if "$ref" in sub:
                continue  # a named schema: the link is enough
            name = ", ".join(x for x in (label, sub_label) if x)
            if _has_fields(sub):
                found.append((name or "object", sub))
            else:
                found.extend(self.inline_objects(sub, name))
        return found

    @staticmethod
    def notes(s: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        for key, label in _NOTES:
            value = s.get(key)
            if key not in s or (isinstance(value, bool) and key.startswith("exclusive")):
                continue  # OpenAPI 3.0's boolean exclusiveMinimum only qualifies minimum
            if (
                isinstance(value, float)
                and value.is_integer()
                and key not in ("default", "example")
            ):
                value = int(value)  # FastAPI writes every bound as a float: `ge=0` is 0.0
            text = value if isinstance(value, str) and key == "pattern" else None
            out.append((label, text if text is not None else to_json(value)))
        out.extend((label, "") for key, label in _FLAGS if s.get(key) is True)
        return out


def _has_fields(s: dict[str, Any]) -> bool:
    return bool(as_dict(s.get("properties")) or as_dict(s.get("patternProperties")))
