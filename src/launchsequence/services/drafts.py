"""Unsaved work: a form kept across a log-in, and a configuration evaluated without saving it.

A dashboard form that can hold long edits carries an owner tag: the user's id, signed under the
server's secret together with the session the page was rendered for. When such a form arrives
after that session ended, the dashboard keeps it here under a random draft id (only its digest
is stored) for that user and that page, until DRAFT_KEEP_MS. After the log-in, the same user on
the same page takes it back once; another user, another page or a late return gets nothing.
"""

from __future__ import annotations

import copy
import hmac
import secrets
from typing import Any

import launchsequence_engine as engine

from ..secrets import digest, sign
from ..store import drafts as store
from ..store import flags as flag_store
from ..store.snapshot import build_snapshot, flag_document, snapshot_connection
from .errors import NotFound
from .flags import Flags, with_rule_ids
from .orgs import environment_for, org_for, project_for
from .runtime import Actor, Runtime

__all__ = ["DRAFTS_PER_USER", "DRAFT_KEEP_MS", "Drafts"]

#: How long a kept form waits for its author to log in again: a working day.
DRAFT_KEEP_MS = 8 * 3_600_000
#: At most this many kept forms per user (one per page; the oldest go first).
DRAFTS_PER_USER = 20

# Fields of the form that belong to the request, not to the user's edits.
_NOT_EDITS = ("csrf_token", "draft_owner")


class Drafts:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _sign(self, user_id: int, session_token: str) -> str:
        return sign(self.rt.settings.secret_key, f"draft-owner:{user_id}:{digest(session_token)}")

    def owner_tag(self, actor: Actor, session_token: str) -> str:
        """The tag a form rendered for this user in this session carries."""
        return f"{actor.user_id}.{self._sign(actor.user_id, session_token)}"

    def keep(
        self, *, session_token: str, owner_tag: str, path: str, form: dict[str, list[str]]
    ) -> str | None:
        """Keep `form` (sent to `path` with the ended session `session_token`) for the user
        its tag names; the new draft id, or None if the tag is not this session's."""
        user_part, _, signature = owner_tag.partition(".")
        if not user_part.isdigit() or len(user_part) > 12:
            return None
        user_id = int(user_part)
        if not hmac.compare_digest(self._sign(user_id, session_token), signature):
            return None
        draft_id = secrets.token_urlsafe(24)
        now = self.rt.now()
        edits = {k: v for k, v in form.items() if k not in _NOT_EDITS}
        with self.rt.write_db.begin() as conn:
            store.delete_expired(conn, now=now)
            store.make_room(conn, user_id=user_id, path=path, keep=DRAFTS_PER_USER)
            store.create_draft(
                conn,
                {
                    "token_hash": digest(draft_id),
                    "user_id": user_id,
                    "path": path,
                    "form": edits,
                    "created_at": now,
                    "expires_at": now + DRAFT_KEEP_MS,
                },
            )
        return draft_id

    def restore(self, actor: Actor, draft_id: str, path: str) -> dict[str, list[str]] | None:
        """The form kept under `draft_id` for this user and page, once; None otherwise."""
        if not draft_id or len(draft_id) > 100:
            return None
        with self.rt.write_db.begin() as conn:
            row = store.take_draft(
                conn,
                token_hash=digest(draft_id),
                user_id=actor.user_id,
                path=path,
                now=self.rt.now(),
            )
        if row is None or not isinstance(row["form"], dict):
            return None
        return {str(k): [str(x) for x in v] for k, v in row["form"].items() if isinstance(v, list)}

    def evaluate(
        self,
        actor: Actor,
        org_key: str,
        project_key: str,
        key: str,
        env_key: str,
        config: dict[str, Any],
        context: Any,
    ) -> tuple[engine.EvaluationResult, list[dict[str, Any]]]:
        """What the environment would answer for `context` if the flag's configuration there
        were `config` (every field of a configuration): the result and the rules it used.

        Nothing is stored. The rest of the snapshot (segments, other flags) is the one SDKs
        have now. Raises Invalid, naming the field, for a configuration the engine refuses,
        as saving it would; an archived flag answers as SDKs do (FLAG_NOT_FOUND).
        """
        with snapshot_connection(self.rt.db) as conn:
            org = org_for(conn, actor, org_key)
            project = project_for(conn, org, project_key)
            flag = flag_store.get_flag(conn, project_id=project["id"], key=key)
            if flag is None:
                raise NotFound("no such flag")
            env = environment_for(conn, project, env_key)
            current = flag_store.get_config(conn, flag_id=flag["id"], environment_id=env["id"])
            snapshot = build_snapshot(conn, env["id"])
        if current is None or snapshot is None:
            raise NotFound("no such flag")
        draft = {**copy.deepcopy(config), "rules": with_rule_ids(config["rules"])}
        Flags._validate(flag, draft, snapshot["segments"])  # the very check saving makes
        if not flag["archived"]:
            snapshot["flags"][key] = flag_document(flag, {**draft, "version": current["version"]})
        compiled = engine.compile(snapshot, strict=False)
        result = engine.evaluate(compiled, key, context, now=self.rt.now())
        return result, draft["rules"]
