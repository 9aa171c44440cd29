"""Whole numbers in the admin API's paths and queries: ASCII digits, nothing else.

Pydantic reads an integer from text leniently: " 3", "+3", "3.0" and "1_0" (ten) all pass.
An id is written in ASCII digits by every client that means one, so anything else is refused
(422 naming the parameter) before the range checks of the route, which bound every id to what
the database can bind. Digits of other scripts ("²", "٣") were already refused; this keeps
the API as strict as the dashboard (web/params.py).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from ..services.shapes import MAX_ID

__all__ = ["Limit", "OptionalRowIdQuery", "RowId", "VariationIndex"]

_DIGITS = re.compile(r"[0-9]{1,18}")


def _ascii_digits(value: Any) -> Any:
    if isinstance(value, str) and _DIGITS.fullmatch(value) is None:
        raise PydanticCustomError("int_parsing", "must be a whole number in ASCII digits")
    return value


_Whole = BeforeValidator(_ascii_digits)

#: A row's id in a path (a token, an invitation, a user).
RowId = Annotated[int, _Whole, Path(ge=1, le=MAX_ID)]
#: An index into a flag's variations, in a path.
VariationIndex = Annotated[int, _Whole, Path(ge=0, le=99)]
#: `before` of a page of the audit log.
OptionalRowIdQuery = Annotated[
    int | None, _Whole, Query(ge=1, le=MAX_ID, description="Entries older than this id")
]
#: `limit` of a page of the audit log.
Limit = Annotated[int, _Whole, Query(ge=1, le=500)]
