"""The audit log as people read it: a sentence per entry, the objects it names as links, and
the difference between before and after, line by line.

Pure functions over the entries the audit service lists; no I/O.
"""

from __future__ import annotations

import difflib
from typing import Any

import orjson

__all__ = ["ACTIONS", "describe", "diff_lines"]

#: The actions the filter offers, grouped as the select shows them: (value, label).
ACTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Flags", [
        ("flag.", "Any flag change"),
        ("flag.toggled", "Turned on or off"),
        ("flag.configured", "Targeting changed"),
        ("flag.created", "Created"),
        ("flag.updated", "Edited"),
        ("flag.archived", "Archived"),
        ("flag.restored", "Restored"),
        ("flag.deleted", "Deleted"),
        ("flag.imported", "Imported"),
    ]),
    ("Segments", [("segment.", "Any segment change")]),
    ("Scheduled changes", [
        ("schedule.", "Any scheduled change"),
        ("schedule.applied", "Applied"),
        ("schedule.failed", "Failed"),
    ]),
    ("Change requests and protection", [
        ("change_request.", "Any change request"),
        ("change_request.approved", "Approved"),
        ("change_request.applied", "Applied"),
        ("environment.protection_changed", "Protection changed"),
        ("protection.bypassed", "Protection bypassed"),
    ]),
    ("Keys and environments", [
        ("sdk_key.", "SDK keys rotated"),
        ("environment.", "Environments"),
        ("project.", "Projects"),
    ]),
    ("People", [
        ("member.", "Members"),
        ("invitation.", "Invitations"),
        ("org.", "Organization"),
    ]),
]  # fmt: skip


def _on(value: Any) -> bool | None:
    return (
        value.get("on") if isinstance(value, dict) and isinstance(value.get("on"), bool) else None
    )


def describe(entry: dict[str, Any]) -> dict[str, Any]:
    """What an entry says: `who` (a name, else the email), `verb` (the words after the name),
    `object` (the name of what changed, shown as a link or code) and `where` (the environment
    or project words that follow), so that a template writes "Ana turned new-checkout on in
    production"."""
    action: str = entry["action"]
    name = entry.get("actor_name") or entry["actor"]
    env = entry.get("environment")
    resource = entry.get("resource") or ""
    after = entry.get("after")
    in_env = f"in {env}" if env else ""
    verb, obj, where = action.replace(".", " ").replace("_", " "), resource, in_env
    if action == "flag.toggled":
        state = _on(after)
        verb, obj = "turned", entry.get("flag") or resource
        where = f"{'on' if state else 'off'} {in_env}".strip() if state is not None else in_env
    elif action == "flag.configured":
        verb, obj = "changed the targeting of", entry.get("flag") or resource
    elif action.startswith("flag."):
        kind = action.split(".", 1)[1]
        words = {
            "created": "created flag",
            "updated": "edited flag",
            "archived": "archived flag",
            "restored": "restored flag",
            "deleted": "deleted flag",
            "imported": "imported flag",
        }
        verb, obj = words.get(kind, f"{kind} flag"), entry.get("flag") or resource
    elif action.startswith("segment."):
        kind = action.split(".", 1)[1]
        verb = {"created": "created segment", "updated": "changed segment",
                "deleted": "deleted segment", "imported": "imported segment"}.get(
            kind, f"{kind} segment")  # fmt: skip
    elif action.startswith("schedule."):
        obj = entry.get("flag") or resource
        details = after if isinstance(after, dict) else {}
        verb = {
            "schedule.created": "scheduled a change to",
            "schedule.updated": "changed the scheduled change to",
            "schedule.cancelled": "cancelled the scheduled change to",
            "schedule.applied": "applied the scheduled change to",
            "schedule.failed": "could not apply the scheduled change to",
        }.get(action, verb)
        why = details.get("note") or details.get("reason")
        if action in ("schedule.applied", "schedule.failed") and isinstance(why, str):
            where = f"{in_env} ({why})".strip()
    elif action.startswith("change_request."):
        obj = entry.get("flag") or resource
        number = f"#{after['id']} " if isinstance(after, dict) and "id" in after else ""
        kind = action.split(".", 1)[1]
        verb = {"opened": f"opened change request {number}for",
                "updated": f"edited change request {number}(approvals voided) for",
                "approved": f"approved change request {number}for",
                "scheduled": f"scheduled change request {number}for",
                "applied": f"applied change request {number}to",
                "rejected": f"rejected change request {number}for",
                "cancelled": f"cancelled change request {number}for",
                "failed": f"could not apply change request {number}to"}.get(kind, verb)  # fmt: skip
    elif action == "protection.bypassed":
        reason = after.get("reason") if isinstance(after, dict) else None
        verb, obj = "BYPASSED the protection of environment", resource
        where = f"({reason})" if isinstance(reason, str) else ""
    elif action == "environment.protection_changed":
        verb = "changed the protection of environment"
        where = f"in project {entry['project']}" if entry.get("project") else ""
    elif action == "sdk_key.rotated":
        key_kind = after.get("kind") if isinstance(after, dict) else None
        named = f"{key_kind} " if isinstance(key_kind, str) else ""
        verb, obj = f"rotated the {named}SDK key", ""
    elif action.startswith("environment."):
        kind = action.split(".", 1)[1]
        verb = f"{kind} environment"
        where = f"in project {entry['project']}" if entry.get("project") else ""
    elif action.startswith("project."):
        verb = f"{action.split('.', 1)[1]} project"
        where = ""
    elif action == "member.project_role_changed":
        verb = "changed the project role of"
        where = f"in project {entry.get('project') or '?'}"
        details = after if isinstance(after, dict) else {}
        role, own = details.get("role"), details.get("project_role")
        if isinstance(role, str):
            where += f" to {role}" if own else f" back to their organization role ({role})"
    elif action.startswith("member."):
        verb = {"member.added": "added member", "member.removed": "removed member",
                "member.role_changed": "changed the role of",
                "member.joined_by_sso": "joined through single sign-on as"}.get(
            action, verb)  # fmt: skip
        where = ""
    elif action.startswith("invitation."):
        verb = {"invitation.created": "invited", "invitation.revoked": "revoked the invitation of",
                "invitation.accepted": "accepted the invitation as"}.get(action, verb)  # fmt: skip
        where = ""
    elif action.startswith("org."):
        verb, where = f"{action.split('.', 1)[1]} the organization", ""
        if action == "org.sso_changed":
            verb = "changed the single sign-on settings of"
    return {"who": name, "verb": verb, "object": obj, "where": where}


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return ["(this value cannot be shown: it cannot be written as JSON)"]
    return text.splitlines()


def diff_lines(before: Any, after: Any, context: int = 2) -> list[tuple[str, str]]:
    """(kind, text) per line of the difference: kind is "add", "del", "same" or "gap" (lines
    left out between changes). Only the changed lines and `context` lines around them."""
    old, new = _lines(before), _lines(after)
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if out:
            out.append(("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(("same", line) for line in old[i1:i2])
                continue
            if tag in ("replace", "delete"):
                out.extend(("del", line) for line in old[i1:i2])
            if tag in ("replace", "insert"):
                out.extend(("add", line) for line in new[j1:j2])
    return out
