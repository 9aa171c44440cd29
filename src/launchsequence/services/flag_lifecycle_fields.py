"""Reading a flag's lifecycle fields from a request body: `owner` (the email of a member of
the organization, or null), `kind` ("temporary" or "permanent") and `removal_date`
("YYYY-MM-DD" or null). Invalid names the field."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import Connection

from ..store import orgs as org_store
from .errors import Invalid

__all__ = ["KINDS", "LIFECYCLE_FIELDS", "lifecycle_fields"]

KINDS = ("temporary", "permanent")
LIFECYCLE_FIELDS = ("owner", "kind", "removal_date")


def lifecycle_fields(
    conn: Connection, org_id: int, body: dict[str, Any], *, creating: bool
) -> dict[str, Any]:
    """The lifecycle fields present in `body`, checked (all three, defaulted, when
    `creating`). An owner is matched case-insensitively and stored as the member's email."""
    out: dict[str, Any] = {}
    if creating:
        out = {"owner": None, "kind": "temporary", "removal_date": None}
    if "owner" in body:
        owner = body["owner"]
        if owner is None or owner == "":
            out["owner"] = None
        elif not isinstance(owner, str) or len(owner) > 320:
            raise Invalid("must be the email of a member of the organization, or null",
                          field="owner")  # fmt: skip
        else:
            emails = {m["email"].casefold(): m["email"]
                      for m in org_store.list_members(conn, org_id)}  # fmt: skip
            if owner.strip().casefold() not in emails:
                raise Invalid("is not a member of the organization", field="owner")
            out["owner"] = emails[owner.strip().casefold()]
    if "kind" in body:
        if body["kind"] not in KINDS:
            raise Invalid("must be 'temporary' or 'permanent'", field="kind")
        out["kind"] = body["kind"]
    if "removal_date" in body:
        raw = body["removal_date"]
        if raw is None or raw == "":
            out["removal_date"] = None
        else:
            try:
                if not isinstance(raw, str) or len(raw) != 10:
                    raise ValueError
                out["removal_date"] = _dt.date.fromisoformat(raw).isoformat()
            except ValueError:
                raise Invalid("must be a date as YYYY-MM-DD, or null",
                              field="removal_date") from None  # fmt: skip
    return out
