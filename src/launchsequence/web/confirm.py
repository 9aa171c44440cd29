"""Environments that confirm changes (their `confirm_changes` setting): the dashboard asks
before a toggle or a saved configuration applies there, with room for a comment that the
audit log keeps.

With scripts, a `<dialog>` asks (app.js) and the form goes with `confirmed=1`; without, the
server answers a form sent without it with a confirmation step that sends it again with it.
The REST API never asks: it is explicit already."""

from __future__ import annotations

from typing import Any

from ..services import Forbidden

__all__ = ["asks_confirmation", "confirm_envs", "refuse_viewers"]


def refuse_viewers(org: dict[str, Any]) -> None:
    """Forbidden for a viewer, before a confirmation step would ask them for a change the
    service then refuses anyway."""
    if org.get("role") == "viewer":
        raise Forbidden("viewers can read but not change anything", code="read_only")


def asks_confirmation(project: dict[str, Any], env_key: str) -> bool:
    """Whether the project's environment `env_key` confirms changes (False if it has none,
    and for a protected one: its changes are change requests, reviewed before they apply)."""
    return any(
        e["key"] == env_key and e.get("confirm_changes") and not e.get("protected")
        for e in project.get("environments", [])
    )


def confirm_envs(project: dict[str, Any]) -> str:
    """The keys of the project's environments that confirm changes, separated by spaces (the
    flag list's switches read them in `data-confirm-envs`)."""
    return " ".join(
        e["key"]
        for e in project.get("environments", [])
        if e.get("confirm_changes") and not e.get("protected")
    )
