"""Strict reading of the dashboard's parameters: path segments, query strings and form fields.

Browsers send text; pages need keys, ids, indexes and numbers. Python's own readers are too
lenient for that: `str.isdigit()` is true for "²", which `int()` then refuses (a 500);
`int()` and `float()` take Arabic-Indic and full-width digits, "1_000" and "infinity"; and a
Python integer has no bound, so an id of 30 digits reached the database, which could not bind
it (another 500). Every page reads its parameters through here instead: ASCII digits only,
within a stated range. What does not parse raises `Invalid` with a message that the page shows
(400, or 422 beside the field when the form has one) or, for a key in the path, `NotFound`, as
for any missing object. Nothing here reads the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..services import Invalid, NotFound
from ..services.runtime import KEY_PATTERN
from ..services.shapes import MAX_ID

__all__ = [
    "MAX_ID",
    "check_text",
    "clamped",
    "index",
    "integer",
    "key",
    "number",
    "optional_integer",
    "row_id",
]

_INTEGER = re.compile(r"([+-]?)0*([0-9]+)")
_DIGITS = re.compile(r"[0-9]{1,18}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Beyond these, a spelled number is out of every range used here: decided by its length,
# before `int()` (which refuses more than 4,300 digits) is asked.
_MAX_DIGITS = 18
_MAX_NUMBER_TEXT = 400
_INT64 = (-(2**63), 2**64 - 1)  # what orjson, and so the API, reads as an integer

_NOUNS = {"org": "organization", "env": "environment"}


def _whole(raw: str) -> int | None:
    """The integer `raw` spells (ASCII digits, an optional sign, spaces around), else None;
    one of more than 18 digits comes back as ±10**18, beyond any range below."""
    match = _INTEGER.fullmatch(raw.strip(" \t"))
    if match is None:
        return None
    sign, digits = match.groups()
    value = 10**_MAX_DIGITS if len(digits) > _MAX_DIGITS else int(digits)
    return -value if sign == "-" else value


def integer(raw: str | None, name: str, *, lo: int, hi: int) -> int:
    """`raw` as a whole number from `lo` to `hi`; Invalid (naming `name`) otherwise."""
    value = _whole(raw or "")
    if value is None or not lo <= value <= hi:
        raise Invalid(f"{name} must be a whole number from {lo} to {hi}", field=name)
    return value


def optional_integer(raw: str | None, name: str, *, lo: int, hi: int) -> int | None:
    """As `integer`, but an absent or empty parameter is None (an empty field of a GET form)."""
    if raw is None or raw == "":
        return None
    return integer(raw, name, lo=lo, hi=hi)


def row_id(raw: str | None, name: str) -> int:
    """The id of a row (a token, an invitation, a user): 1 to MAX_ID, as the API's paths."""
    return integer(raw, name, lo=1, hi=MAX_ID)


def clamped(raw: str | None, name: str, *, lo: int, hi: int, default: int) -> int:
    """A whole number of any size moved into `lo`..`hi` (a page number past the end shows the
    last page); absent or empty is `default`; anything else that is not a whole number is
    Invalid."""
    if raw is None or raw == "":
        return default
    value = _whole(raw)
    if value is None:
        raise Invalid(f"{name} must be a whole number", field=name)
    return min(max(value, lo), hi)


def index(raw: str | None, count: int) -> int | None:
    """A position among `count` things (ASCII digits, 0 to count - 1), or None: the caller
    says what was expected ("choose a variation")."""
    text = (raw or "").strip(" \t")
    if _DIGITS.fullmatch(text) is None or int(text) >= count:
        return None
    return int(text)


def number(raw: str) -> int | float | None:
    """A number typed in a form, as the API would read it from JSON: ASCII digits with an
    optional sign, fraction and exponent. Whole numbers written without a fraction or exponent
    are integers while they fit in 64 bits, floats beyond (as orjson reads them). None when
    `raw` is not a number; a number too large for a float is `inf` (the caller refuses it)."""
    text = raw.strip()
    if len(text) > _MAX_NUMBER_TEXT or _NUMBER.fullmatch(text) is None:
        return None
    if "." not in text and "e" not in text.lower() and len(text.lstrip("+-0")) <= 20:
        exact = int(text)
        if _INT64[0] <= exact <= _INT64[1]:
            return exact
    return float(text)  # "1e999" is inf: float() does not raise


def key(raw: str, name: str) -> str:
    """A key in a URL (organization, project, environment, flag, segment). One that no object
    can have is missing: NotFound, as for a key that is not there."""
    if KEY_PATTERN.fullmatch(raw) is None:
        raise NotFound(f"no such {_NOUNS.get(name, name)}")
    return raw


def check_text(items: Iterable[tuple[str, str]]) -> None:
    """Refuse a NUL character in any name or value: no field takes one (PostgreSQL cannot
    store it, and no browser sends it from a form)."""
    for name, value in items:
        if "\x00" in name or "\x00" in value:
            raise Invalid("a parameter contains a NUL character, which no field accepts")
