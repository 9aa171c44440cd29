"""What SDKs that read only snapshot schema version 1 are sent (they do not ask for version 2).

An engine that reads only version 1 refuses a version 2 document, and ignores the fields it does
not know: it would serve a flag with prerequisites as if it had none. So such SDKs get the same
snapshot marked version 1, in which a flag that needs version 2 (prerequisites, an unset off
variation or fallthrough) has no off variation and fallthrough: that engine sets it aside and
answers the caller's default with PARSE_ERROR. Every other flag is sent as it is (its metadata
is ignored there), and evaluates as before, with reason DEFAULT where version 2 says STATIC.
"""

from __future__ import annotations

from typing import Any

__all__ = ["legacy_flag", "legacy_snapshot", "wants_v2"]


def wants_v2(schema: str | None) -> bool:
    """Whether a request's `schema` query parameter asks for version 2 (or later)."""
    return (
        schema is not None
        and schema.isascii()  # "²".isdigit() is true, and int("²") raises
        and schema.isdigit()
        and len(schema) < 4
        and int(schema) >= 2
    )


def legacy_flag(document: dict[str, Any]) -> dict[str, Any]:
    """One flag document as a version 1 engine must see it."""
    needs_v2 = (
        document.get("prerequisites")
        or document.get("off_variation") is None
        or document.get("fallthrough") is None
    )
    if not needs_v2:
        return document
    return {**document, "off_variation": None, "fallthrough": None}


def legacy_snapshot(document: dict[str, Any]) -> dict[str, Any]:
    """The snapshot as schema version 1."""
    return {
        **document,
        "schema_version": 1,
        "flags": {k: legacy_flag(f) for k, f in document["flags"].items()},
    }
