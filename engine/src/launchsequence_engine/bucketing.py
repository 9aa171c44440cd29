"""Deterministic percentage bucketing, specified bit for bit in `spec/evaluation.md`."""

from __future__ import annotations

from hashlib import sha1
from typing import Any, Final

__all__ = ["BUCKETS", "bucket", "bucket_value"]

BUCKETS: Final = 100_000


def bucket(flag_key: str, salt: str, value: str) -> int:
    """The bucket in [0, 100000) of `value` for this flag and salt.

    SHA-1 of the UTF-8 bytes of `flag_key + "." + salt + "." + value`; the first four bytes of
    the digest as an unsigned big-endian integer, modulo 100000.
    """
    digest = sha1(f"{flag_key}.{salt}.{value}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % BUCKETS


def bucket_value(raw: Any) -> str | None:
    """The string an attribute value is hashed as, or None when it cannot be bucketed.

    Strings hash as themselves and integers (including integral floats such as 42.0) as their
    decimal digits; anything else (booleans, fractions, lists, objects, null) cannot be bucketed.
    """
    kind = type(raw)
    if kind is str:
        return raw  # type: ignore[no-any-return]
    try:
        if kind is int:
            return str(raw)
        if kind is float and raw.is_integer():
            return str(int(raw))
    except ValueError:  # more digits than Python will print (sys.get_int_max_str_digits)
        return None
    return None
