"""Bounds on the JSON a write stores: one place, used by every write path (REST, dashboard,
import), so that whatever the server accepts it can also store, serve, stream, export and import.

Request bodies parse up to 1,024 levels deep, but the snapshot, the streams and every answer are
encoded by orjson, which stops at 255: a value nested between the two was stored and then froze
its whole environment. Numbers and text have the same kind of gap (an integer beyond 64 bits, a
lone surrogate, NaN typed in a dashboard form). Every limit here is refused with 422 before
anything is stored, with a stable code: `value_too_deep`, `value_too_large` or `invalid_value`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from .errors import Invalid

__all__ = [
    "MAX_INT",
    "MAX_VALUE_BYTES",
    "MAX_VALUE_DEPTH",
    "MIN_INT",
    "check_document",
    "check_value",
]

#: Levels of arrays and objects a value may nest: `1` is 0 deep, `[1]` 1, `{"a": [1]}` 2.
MAX_VALUE_DEPTH = 32
#: A variation value's size as compact UTF-8 JSON. Every string the 10,000-character rule for
#: string variations accepts fits, escapes and all (6 bytes per character at worst).
MAX_VALUE_BYTES = 65_536
#: Integers as orjson (and so every answer, the snapshot and the streams) can write them.
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1

_Path = tuple[str | int, ...]


def _where(field: str, path: _Path) -> str:
    out = field
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no JSON encoder writes it
        return False
    return True


def _walk(value: Any, field: str, *, whole: bool) -> None:
    """Raise Invalid, naming the place, for anything that cannot be stored and served; a value
    too deep is named as a `whole` (a variation value) or where it crosses the limit.

    Iterative, so that a value nested thousands of levels deep costs no stack.
    """
    stack: list[tuple[Any, _Path, int]] = [(value, (), 0)]
    while stack:
        item, path, depth = stack.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if depth >= MAX_VALUE_DEPTH:
                raise Invalid(
                    f"nests too deep: at most {MAX_VALUE_DEPTH} levels of arrays and objects",
                    field=field if whole else _where(field, path),
                    code="value_too_deep",
                )
            if kind is dict:
                for name, child in item.items():
                    if type(name) is not str or not _unicode(name):
                        raise Invalid(
                            "has a member name that is not valid Unicode text",
                            field=_where(field, path),
                            code="invalid_value",
                        )
                    stack.append((child, (*path, name), depth + 1))
            else:
                for index, child in enumerate(item):
                    stack.append((child, (*path, index), depth + 1))
        elif kind is str:
            if not _unicode(item):
                raise Invalid(
                    "is not valid Unicode text (it holds a lone surrogate)",
                    field=_where(field, path),
                    code="invalid_value",
                )
        elif kind is int:
            if not MIN_INT <= item <= MAX_INT:
                raise Invalid(
                    "is an integer beyond 64 bits: write it as a string or a decimal number",
                    field=_where(field, path),
                    code="invalid_value",
                )
        elif kind is float:
            if not math.isfinite(item):
                raise Invalid(
                    "must be a finite number (JSON has no NaN or Infinity)",
                    field=_where(field, path),
                    code="invalid_value",
                )
        elif item is not None and kind is not bool:
            raise Invalid("is not a JSON value", field=_where(field, path), code="invalid_value")


def check_value(value: Any, field: str) -> None:
    """Raise Invalid unless `value` (a variation value) is within the bounds: at most
    MAX_VALUE_DEPTH levels deep, at most MAX_VALUE_BYTES as JSON, numbers finite and within
    64 bits, text valid Unicode."""
    _walk(value, field, whole=True)
    size = len(orjson.dumps(value))
    if size > MAX_VALUE_BYTES:
        raise Invalid(
            f"is {size:,} bytes as JSON: at most {MAX_VALUE_BYTES:,} bytes are allowed",
            field=field,
            code="value_too_large",
        )


def check_document(document: dict[str, Any], field: str = "") -> None:
    """Raise Invalid, naming the place, unless every value in `document` (a configuration's or
    a segment's fields, by name) can be stored and served: the bounds of `check_value`, but no
    size bound (the request body's limit applies). The engine checks what the fields mean."""
    _walk(document, field, whole=False)
