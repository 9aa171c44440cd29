"""Semantic versions (semver.org 2.0.0) parsed into tuples that sort by precedence."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_semver"]

_SEMVER = re.compile(
    r"(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?",
    re.ASCII,
)

# A release sorts after every pre-release of the same version; numeric identifiers sort before
# alphanumeric ones; a shorter identifier list sorts first when it is a prefix of the longer.
_RELEASE = (1,)


def parse_semver(raw: Any) -> tuple[Any, ...] | None:
    """A precedence key for a version string, or None when it is not a version.

    A missing minor or patch counts as 0 ("1.2" is "1.2.0"); build metadata is ignored.
    """
    if type(raw) is not str or len(raw) > 256:
        return None
    match = _SEMVER.fullmatch(raw)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        pre_key: tuple[Any, ...] = _RELEASE
    else:
        parts: list[tuple[int, int | str]] = []
        for ident in pre.split("."):
            parts.append((0, int(ident)) if ident.isdigit() else (1, ident))
        pre_key = (0, tuple(parts))
    return (int(major), int(minor or 0), int(patch or 0), pre_key)
