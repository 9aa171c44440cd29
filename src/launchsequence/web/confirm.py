"""Environments that confirm changes (their `confirm_changes` setting): the dashboard asks
before a toggle or a saved configuration applies there, with room for a comment that the
audit log keeps.

With scripts, a `<dialog>` asks (app.js) and the form goes with `confirmed=1`; without, the
server answers a form sent without it with a confirmation step that sends it again with it.
The REST API never asks: it is explicit already.

What asks: a switch (flag_pages.toggle), a saved configuration (config_pages), turning
chosen flags on or off together (compare_pages.bulk), copying parts of a flag's
configuration into the environment (compare_pages.flag_compare), and a saved segment of the
environment (segment_pages). A viewer is refused (`access.refuse_read_only`, their role in
the project) before any confirmation step asks them."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..services.access import refuse_read_only
from .pages import Page

__all__ = ["asks_confirmation", "confirm_envs", "confirmation_page"]


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


def confirmation_page(
    p: Page,
    org: dict[str, Any],
    project: dict[str, Any],
    env_key: str,
    *,
    title: str,
    what: str,
    items: list[str],
    button: str,
    back: str,
) -> Response:
    """The confirmation step of a form sent without `confirmed=1` (confirm_change.html): what
    would change, the `items` it touches, a comment field, and the form as it was sent again
    (every field but the CSRF token, the comment and `confirmed`) with `confirmed=1`."""
    refuse_read_only(org["role"])
    env = next(e for e in project["environments"] if e["key"] == env_key)
    kept = [
        (name, value)
        for name, values in p.lists.items()
        if name not in ("csrf_token", "comment", "confirmed")
        for value in values
    ]
    asked = {
        "title": title,
        "what": what,
        "touched": items,
        "env": env,
        "action": p.request.url.path,
        "fields": kept,
        "comment": p.form.get("comment", ""),
        "button": button,
        "back": back,
    }
    return p.render("confirm_change.html", org=org, project=project, asked=asked)
