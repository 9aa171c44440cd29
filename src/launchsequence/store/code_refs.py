"""Code reference scans: the latest per (project, repository, branch), and their references.

Every function takes a connection in a transaction the caller opened. `replace_scan` is
meant to run with the project's row locked, so that two uploads for one branch follow each
other (the later one wins) instead of clashing on the unique (project, repository, branch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .tables import code_ref_scans, code_refs

__all__ = ["delete_scans", "list_scans", "refs_for_flag", "replace_scan"]


def replace_scan(
    conn: Connection,
    *,
    project_id: int,
    repository: str,
    branch: str,
    commit: str,
    link_template: str | None,
    refs: Sequence[dict[str, Any]],
    file_count: int,
    user_id: int | None,
    at: int,
) -> dict[str, Any]:
    """Store a scan in place of the branch's previous one (its references go with it)."""
    delete_scans(conn, project_id, repository, branch)
    scan = {
        "project_id": project_id,
        "repository": repository,
        "branch": branch,
        "commit_sha": commit,
        "link_template": link_template,
        "ref_count": len(refs),
        "file_count": file_count,
        "uploaded_by": user_id,
        "scanned_at": at,
    }
    scan_id = int(
        conn.execute(insert(code_ref_scans).values(**scan).returning(code_ref_scans.c.id)).one().id
    )
    if refs:
        conn.execute(
            insert(code_refs),
            [
                {
                    "scan_id": scan_id,
                    "flag_key": r["flag"],
                    "path": r["path"],
                    "line": r["line"],
                    "kind": r["kind"],
                    "context": r["context"],
                }
                for r in refs
            ],
        )
    return {"id": scan_id, **scan}


def list_scans(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's scans by repository, then branch."""
    query = (
        select(code_ref_scans)
        .where(code_ref_scans.c.project_id == project_id)
        .order_by(code_ref_scans.c.repository, code_ref_scans.c.branch)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def refs_for_flag(conn: Connection, project_id: int, flag_key: str) -> list[dict[str, Any]]:
    """A flag's references in every scan of the project, each with its scan's repository,
    branch, commit and link template; by repository, branch, path and line."""
    query = (
        select(
            code_refs.c.path,
            code_refs.c.line,
            code_refs.c.kind,
            code_refs.c.context,
            code_ref_scans.c.repository,
            code_ref_scans.c.branch,
            code_ref_scans.c.commit_sha,
            code_ref_scans.c.link_template,
        )
        .join(code_ref_scans, code_ref_scans.c.id == code_refs.c.scan_id)
        .where(code_ref_scans.c.project_id == project_id, code_refs.c.flag_key == flag_key)
        .order_by(
            code_ref_scans.c.repository,
            code_ref_scans.c.branch,
            code_refs.c.path,
            code_refs.c.line,
        )
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def delete_scans(
    conn: Connection, project_id: int, repository: str, branch: str | None = None
) -> int:
    """Delete a repository's scans (one branch's, if given) with their references; how many."""
    where = [code_ref_scans.c.project_id == project_id, code_ref_scans.c.repository == repository]
    if branch is not None:
        where.append(code_ref_scans.c.branch == branch)
    ids = [r.id for r in conn.execute(select(code_ref_scans.c.id).where(*where))]
    if not ids:
        return 0
    conn.execute(delete(code_refs).where(code_refs.c.scan_id.in_(ids)))
    conn.execute(delete(code_ref_scans).where(code_ref_scans.c.id.in_(ids)))
    return len(ids)
