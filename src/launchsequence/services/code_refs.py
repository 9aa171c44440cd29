"""Code references: where a project's flag keys appear in its repositories' code.

`launchseq code-refs` scans a checkout (in CI, or on a developer's machine) and uploads what
it found; the server only keeps uploads, it never reads anyone's code. Each upload replaces
the previous scan of its (project, repository, branch) whole.

Authorization: uploading and deleting need an admin (or owner) of the organization, in
practice through a personal API token; viewers read. Another organization's project or flag
answers NotFound exactly as a missing one.

Bounds, each with its stable error code (HTTP 422): at most `MAX_REFS` references
(`too_many_refs`) in at most `MAX_FILES` files (`too_many_files`), at most
`MAX_CONTEXT_LINES` context lines of at most `MAX_LINE_CHARS` characters per reference
(`context_too_large`); any other malformed field is `invalid` with `field` naming it.
"""

from __future__ import annotations

import re
import string
from typing import Any
from urllib.parse import quote

from ..store import code_refs as store
from ..store.flags import get_flag
from .access import org_for, project_access, project_for
from .errors import Invalid, NotFound
from .runtime import KEY_PATTERN, Actor, Runtime, record_audit

__all__ = [
    "KINDS",
    "MAX_CONTEXT_LINES",
    "MAX_FILES",
    "MAX_LINE_CHARS",
    "MAX_REFS",
    "CodeRefs",
    "link_for",
]

MAX_REFS = 5000
MAX_FILES = 1000
MAX_CONTEXT_LINES = 7
MAX_LINE_CHARS = 300
MAX_PATH_CHARS = 500
KINDS = ("call", "string", "comment")
PLACEHOLDERS = {"commit", "path", "line", "branch"}

_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or _CONTROL.search(value):
        raise Invalid(f"must be 1 to {limit} characters, no control characters", field=field)
    return value


def _link_template(value: Any) -> str | None:
    if value is None or value == "":
        return None
    template = _text(value, "link_template", 500)
    if not template.startswith(("https://", "http://")):
        raise Invalid("must be an http(s) URL", field="link_template")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        raise Invalid("unbalanced braces", field="link_template") from None
    if not names <= PLACEHOLDERS:
        raise Invalid(
            "placeholders may be {commit}, {path}, {line} and {branch}", field="link_template"
        )
    return template


def link_for(template: str | None, *, commit: str, branch: str, path: str, line: int) -> str:
    """The template with its placeholders filled in (URL-escaped); "" without a template."""
    if not template:
        return ""
    return (
        template.replace("{commit}", quote(commit, safe=""))
        .replace("{branch}", quote(branch, safe=""))
        .replace("{path}", quote(path, safe="/"))
        .replace("{line}", str(line))
    )


def _ref(raw: Any, i: int) -> dict[str, Any]:
    where = f"refs.{i}"
    if not isinstance(raw, dict):
        raise Invalid("must be an object", field=where)
    flag = raw.get("flag")
    if not isinstance(flag, str) or not KEY_PATTERN.fullmatch(flag):
        raise Invalid("must be a flag key", field=f"{where}.flag")
    path = _text(raw.get("path"), f"{where}.path", MAX_PATH_CHARS)
    if path.startswith("/") or "\\" in path:
        raise Invalid("must be relative to the repository, with '/'", field=f"{where}.path")
    line = raw.get("line")
    if not isinstance(line, int) or isinstance(line, bool) or not 1 <= line <= 10**7:
        raise Invalid("must be a line number", field=f"{where}.line")
    kind = raw.get("kind", "call")
    if kind not in KINDS:
        raise Invalid("must be call, string or comment", field=f"{where}.kind")
    context = raw.get("context") or {"start": line, "lines": []}
    lines = context.get("lines") if isinstance(context, dict) else None
    start = context.get("start") if isinstance(context, dict) else None
    if (
        not isinstance(lines, list)
        or not all(isinstance(x, str) for x in lines)
        or not isinstance(start, int)
        or isinstance(start, bool)
        or (lines and not 1 <= start <= line < start + len(lines))
    ):
        raise Invalid(
            "must be {start, lines} with the reference's line among them", field=f"{where}.context"
        )
    if len(lines) > MAX_CONTEXT_LINES or any(len(x) > MAX_LINE_CHARS for x in lines):
        raise Invalid(
            f"at most {MAX_CONTEXT_LINES} lines of at most {MAX_LINE_CHARS} characters",
            field=f"{where}.context",
            code="context_too_large",
        )
    return {"flag": flag, "path": path, "line": line, "kind": kind,
            "context": {"start": start, "lines": lines}}  # fmt: skip


def _public_scan(scan: dict[str, Any]) -> dict[str, Any]:
    return {
        "repository": scan["repository"],
        "branch": scan["branch"],
        "commit": scan["commit_sha"],
        "link_template": scan["link_template"],
        "refs": scan["ref_count"],
        "files": scan["file_count"],
        "scanned_at": scan["scanned_at"],
    }


class CodeRefs:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def upload(
        self, actor: Actor, org_key: str, project_key: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the scan of (project, body's repository, branch) with this one."""
        with self.rt.db.connect() as conn:  # 404 and 403 before any complaint about the body
            project_access(conn, actor, org_key, project_key, write=True)
        repository = body.get("repository")
        if not isinstance(repository, str) or not _REPOSITORY.fullmatch(repository):
            raise Invalid("must be a name like owner/name", field="repository")
        branch = _text(body.get("branch"), "branch", 200)
        commit = body.get("commit")
        if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
            raise Invalid("must be a commit id (hexadecimal)", field="commit")
        template = _link_template(body.get("link_template"))
        raw = body.get("refs")
        if not isinstance(raw, list):
            raise Invalid("must be a list", field="refs")
        if len(raw) > MAX_REFS:
            raise Invalid(
                f"at most {MAX_REFS} references per scan", field="refs", code="too_many_refs"
            )
        refs = [_ref(r, i) for i, r in enumerate(raw)]
        files = len({r["path"] for r in refs})
        if files > MAX_FILES:
            raise Invalid(
                f"references in at most {MAX_FILES} files per scan",
                field="refs",
                code="too_many_files",
            )
        with self.rt.write_db.begin() as conn:
            _, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            scan = store.replace_scan(
                conn,
                project_id=project["id"],
                repository=repository,
                branch=branch,
                commit=commit.lower(),
                link_template=template,
                refs=refs,
                file_count=files,
                user_id=actor.user_id,
                at=self.rt.now(),
            )
        return _public_scan(scan)

    def repositories(self, actor: Actor, org_key: str, project_key: str) -> dict[str, Any]:
        """The project's scans (one per repository and branch), by repository and branch."""
        with self.rt.db.connect() as conn:
            project = project_for(conn, org_for(conn, actor, org_key), project_key)
            return {"scans": [_public_scan(s) for s in store.list_scans(conn, project["id"])]}

    def delete(
        self, actor: Actor, org_key: str, project_key: str, repository: Any, branch: Any
    ) -> int:
        """Forget a repository's scans (or one branch's); NotFound if there were none."""
        with self.rt.write_db.begin() as conn:
            org, project = project_access(conn, actor, org_key, project_key, write=True, lock=True)
            if not isinstance(repository, str) or not repository:
                raise Invalid("name the repository", field="repository")
            if branch is not None and not isinstance(branch, str):
                raise Invalid("must be a branch name", field="branch")
            deleted = store.delete_scans(conn, project["id"], repository, branch)
            if not deleted:
                raise NotFound("no scan of that repository")
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="code_refs.deleted",
                resource=repository,
                project=project_key,
                before={"repository": repository, "branch": branch, "scans": deleted},
            )
        return deleted

    def for_flag(
        self, actor: Actor, org_key: str, project_key: str, flag_key: str
    ) -> dict[str, Any]:
        """A flag's references in the latest scan of every (repository, branch), each with a
        `link` when its scan has a link template. `scanned` is False when the project has
        no scan at all: "never scanned" is not "no references"."""
        with self.rt.db.connect() as conn:
            project = project_for(conn, org_for(conn, actor, org_key), project_key)
            if get_flag(conn, project_id=project["id"], key=flag_key) is None:
                raise NotFound("no such flag")
            scans = store.list_scans(conn, project["id"])
            rows = store.refs_for_flag(conn, project["id"], flag_key)
        refs = [
            {
                "repository": r["repository"],
                "branch": r["branch"],
                "commit": r["commit_sha"],
                "path": r["path"],
                "line": r["line"],
                "kind": r["kind"],
                "context": r["context"],
                "link": link_for(
                    r["link_template"],
                    commit=r["commit_sha"],
                    branch=r["branch"],
                    path=r["path"],
                    line=r["line"],
                ),
            }
            for r in rows
        ]
        return {
            "flag": flag_key,
            "scanned": bool(scans),
            "scans": [_public_scan(s) for s in scans],
            "refs": refs,
        }
