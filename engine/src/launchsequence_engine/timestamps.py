"""Timestamps for `before` and `after`: Unix milliseconds or RFC 3339 strings."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

__all__ = ["parse_timestamp"]

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def parse_timestamp(raw: Any) -> float | None:
    """Unix time in milliseconds, or None when `raw` is not a timestamp.

    A number is already Unix milliseconds. A string must be an RFC 3339 date-time with a time
    zone (`2026-11-24T12:00:00Z`, `...+01:00`); fractions beyond microseconds are truncated.
    """
    kind = type(raw)
    if kind is int or kind is float:
        try:
            millis = float(raw)
        except OverflowError:  # an integer beyond any float: no moment
            return None
        return millis if math.isfinite(millis) else None
    if kind is not str or _RFC3339.fullmatch(raw) is None:
        return None
    text: str = raw.upper().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    frac = re.search(r"\.(\d+)", text)
    if frac is not None and len(frac.group(1)) > 6:
        text = text[: frac.start(1)] + frac.group(1)[:6] + text[frac.end(1) :]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() * 1000.0
