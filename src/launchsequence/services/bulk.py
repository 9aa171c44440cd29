"""Bulk actions on chosen flags of a project: turn on or off in one environment, archive, add
or remove a tag.

Each flag goes through the very service call a single change of it makes (`write_config` for
a toggle, `update_flag` for archiving and tags), in its own transaction, so each is validated,
audited (with the caller's comment), sent to webhooks and gated exactly as one made by hand.
One flag's failure (missing, on somewhere when archiving, refused by a gate) does not stop the
others: every flag gets its own result, and nothing is left out of the answer.
"""

from __future__ import annotations

from typing import Any

from .access import environment_for, project_access
from .errors import Invalid, ServiceError
from .flags import Flags, check_tag
from .runtime import Actor, Runtime, check_key

__all__ = ["ACTIONS", "MAX_FLAGS", "Bulk"]

#: What a bulk action may do: {action: what the audit log and the page call it}.
ACTIONS = {
    "on": "Turn on",
    "off": "Turn off",
    "archive": "Archive",
    "add_tag": "Add tag",
    "remove_tag": "Remove tag",
}
#: The most flags one request may name.
MAX_FLAGS = 500


def _flag_keys(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FLAGS:
        raise Invalid(f"must be a list of 1 to {MAX_FLAGS} flag keys", field="flags")
    keys: list[str] = []
    for i, key in enumerate(raw):
        check_key(key, f"flags[{i}]")
        if key not in keys:
            keys.append(key)
    return keys


class Bulk:
    def __init__(self, rt: Runtime, flags: Flags) -> None:
        self.rt = rt
        self.flags = flags

    def run(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        *,
        action: Any,
        flags: Any,
        environment: Any = None,
        tag: Any = None,
    ) -> dict[str, Any]:
        """Apply `action` to each of `flags` in turn. Invalid for an unknown action, a bad
        list, or a missing `environment` (on, off) or `tag` (add_tag, remove_tag); NotFound for
        another organization's project or an unknown environment, Forbidden for a viewer: all
        before any flag changes. Then one result per flag, in the order given: `ok`, whether
        it `changed` anything, or the `error` ({code, message}) that refused it."""
        if action not in ACTIONS:
            raise Invalid(f"must be one of {', '.join(ACTIONS)}", field="action")
        keys = _flag_keys(flags)
        env_key: str | None = None
        if action in ("on", "off"):
            if environment is None:
                raise Invalid("is required to turn flags on or off", field="environment")
            env_key = check_key(environment, "environment")
        if action in ("add_tag", "remove_tag"):
            tag = check_tag(tag, "tag")
        with self.rt.db.connect() as conn:
            _, project = project_access(conn, actor, org_key, project_key, write=True)
            if env_key is not None:
                environment_for(conn, project, env_key)
        results = []
        for key in keys:
            try:
                changed = self._one(actor, org_key, project_key, key, action, env_key, tag)
            except ServiceError as exc:
                results.append(
                    {"flag": key, "ok": False, "error": {"code": exc.code, "message": exc.message}}
                )
            else:
                results.append({"flag": key, "ok": True, "changed": changed})
        failed = sum(1 for r in results if not r["ok"])
        return {
            "action": action,
            "environment": env_key,
            "tag": tag if action in ("add_tag", "remove_tag") else None,
            "succeeded": len(results) - failed,
            "failed": failed,
            "results": results,
        }

    def _one(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        key: str,
        action: str,
        env_key: str | None,
        tag: str | None,
    ) -> bool:
        """Whether the action changed the flag (False: it already was as asked)."""
        if action in ("on", "off"):
            assert env_key is not None
            before = self.flags.get_config(actor, org_key, project_key, key, env_key)
            after = self.flags.write_config(
                actor, org_key, project_key, key, env_key, {"on": action == "on"},
                if_match=None, replace=False,
            )  # fmt: skip
            return bool(after["version"] != before["version"])
        flag = self.flags.get_flag(actor, org_key, project_key, key)
        if action == "archive":
            if flag["archived"]:
                return False
            self.flags.update_flag(actor, org_key, project_key, key, {"archived": True})
            return True
        assert tag is not None
        tags: list[str] = flag["tags"]
        if action == "add_tag":
            if tag in tags:
                return False
            wanted = [*tags, tag]
        else:
            if tag not in tags:
                return False
            wanted = [t for t in tags if t != tag]
        self.flags.update_flag(actor, org_key, project_key, key, {"tags": wanted})
        return True
