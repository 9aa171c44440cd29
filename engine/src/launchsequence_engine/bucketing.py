"""Deterministic percentage bucketing, specified bit for bit in `spec/evaluation.md`."""

from __future__ import annotations

from hashlib import sha1
from typing import Any, Final

__all__ = ["BUCKETS", "bucket", "bucket_value", "utf8"]

BUCKETS: Final = 100_000


def bucket(flag_key: str, salt: str, value: str) -> int:
    """The bucket in [0, 100000) of `value` for this flag and salt.

    SHA-1 of the UTF-8 bytes (`utf8`) of `flag_key + "." + salt + "." + value`; the first four
    bytes of the digest as an unsigned big-endian integer, modulo 100000.
    """
    digest = sha1(utf8(f"{flag_key}.{salt}.{value}"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % BUCKETS


def utf8(text: str) -> bytes:
    """The UTF-8 bytes of `text`, with every lone surrogate encoded as U+FFFD.

    JSON text can hold a lone surrogate (`"\\ud800"`), which has no UTF-8 encoding. Like
    WHATWG's TextEncoder (what a JavaScript port uses), read the string as UTF-16 code units:
    a high surrogate followed by a low one is one character, any other surrogate is U+FFFD.
    """
    try:
        return text.encode()
    except UnicodeEncodeError:
        units = text.encode("utf-16-le", "surrogatepass")
        return units.decode("utf-16-le", "replace").encode()


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
