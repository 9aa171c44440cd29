"""`launchseq code-refs`: scan a checkout for a project's flag keys and upload the scan.

The personal API token comes from an environment variable (never an argument, which the
process list and shell histories show): `LAUNCHSEQ_TOKEN`, or the one `--token-env` names.
Exit status: 0 done, 1 the server refused or could not be reached, 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from .arguments import DEFAULT_URL
from .files import git, git_root, list_files, skip_reason
from .scan import Ref, scan_text

__all__ = ["run"]

#: Under the server's default body limit (1 MiB): beyond it the context lines are dropped.
BODY_BUDGET = 900_000
_REMOTE = re.compile(r"[:/]([A-Za-z0-9._-]+/[A-Za-z0-9._-]+?)(?:\.git)?/?\s*$")


class Failed(Exception):
    """The scan or the upload cannot go on; the message says why."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        field = f" ({error['field']})" if error.get("field") else ""
        return f"{error['code']}{field}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise Failed(f"the server answered {response.status_code} {_error_text(response)}")
    return response.json()


def _org(client: httpx.Client, org: str | None) -> str:
    if org:
        return org
    orgs = _checked(client.get("/api/v1/orgs"))["organizations"]
    if len(orgs) != 1:
        names = ", ".join(o["key"] for o in orgs) or "none"
        raise Failed(f"name the organization with --org (yours: {names})", 2)
    return str(orgs[0]["key"])


def _repository(args: argparse.Namespace, directory: Path, top: Path | None) -> str:
    if args.repository:
        return str(args.repository)
    remote = git(top, "remote", "get-url", "origin") if top else None
    found = _REMOTE.search(remote or "")
    return found.group(1) if found else (top or directory).resolve().name


def _git_state(args: argparse.Namespace, top: Path | None) -> tuple[str, str]:
    branch, commit = args.branch, args.commit
    if top is not None:
        if not branch:
            current = (git(top, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
            # A detached HEAD (as CI checks out): the CI's own variable names the branch.
            branch = current if current not in ("", "HEAD") else os.environ.get(
                "GITHUB_REF_NAME", os.environ.get("CI_COMMIT_REF_NAME", "")
            )  # fmt: skip
        if not commit:
            commit = (git(top, "rev-parse", "HEAD") or "").strip()
    if not branch or not commit:
        raise Failed("not a git checkout with a commit: give --branch and --commit", 2)
    return str(branch), str(commit)


def scan(directory: Path, keys: frozenset[str]) -> dict[str, Any]:
    """Every reference under `directory`, with what was skipped and why."""
    root, paths = list_files(directory)
    refs: list[Ref] = []
    dynamic: list[str] = []
    skipped: dict[str, int] = {}
    scanned = 0
    for path in paths:
        reason, text = skip_reason(path, root)
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        scanned += 1
        found, computed = scan_text(path, text, keys)
        refs.extend(found)
        dynamic.extend(f"{path}:{line}" for line in computed)
    return {"refs": refs, "dynamic": dynamic, "skipped": skipped, "scanned": scanned}


def _body(meta: dict[str, Any], refs: list[Ref]) -> bytes:
    body = orjson.dumps({**meta, "refs": [r.to_json() for r in refs]})
    if len(body) <= BODY_BUDGET:
        return body
    print("launchseq: the scan is large: uploading each reference's own line only", flush=True)
    return orjson.dumps(
        {
            **meta,
            "refs": [
                {
                    **r.to_json(),
                    "context": {"start": r.line, "lines": [r.context[r.line - r.context_start]]},
                }
                for r in refs
            ],
        }
    )


def _report(result: dict[str, Any], files: int) -> None:
    refs: list[Ref] = result["refs"]
    flags = len({r.flag for r in refs})
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(result["skipped"].items()))
    print(
        f"found {len(refs)} references to {flags} flags in {files} files "
        f"(scanned {result['scanned']} files" + (f"; skipped {skipped}" if skipped else "") + ")"
    )
    if result["dynamic"]:
        print(
            f"{len(result['dynamic'])} SDK calls with a key computed at run time "
            "(not resolvable, not uploaded):"
        )
        for where in result["dynamic"][:20]:
            print(f"  {where}")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except Failed as exc:
        print(f"launchseq: code-refs: {exc}", file=sys.stderr)
        return exc.status
    except httpx.HTTPError as exc:
        print(f"launchseq: code-refs: cannot reach the server: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    if not directory.is_dir():
        raise Failed(f"{args.dir} is not a directory", 2)
    token = os.environ.get(args.token_env, "").strip()
    if not token:
        raise Failed(f"set {args.token_env} to a personal API token (launchseq token create)", 2)
    top = git_root(directory)
    branch, commit = _git_state(args, top)
    repository = _repository(args, directory, top)
    url = (args.url or os.environ.get("LAUNCHSEQ_URL") or DEFAULT_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        org = _org(client, args.org)
        base = f"/api/v1/orgs/{org}/projects/{args.project}"
        flags = _checked(client.get(f"{base}/flags", params={"archived": "all"}))["flags"]
        keys = frozenset(f["key"] for f in flags)
        result = scan(directory, keys)
        refs: list[Ref] = result["refs"]
        files = len({r.path for r in refs})
        _report(result, files)
        if args.dry_run:
            for r in refs:
                print(f"{r.path}:{r.line}\t{r.flag}\t{r.kind}")
            return 0
        meta = {
            "repository": repository,
            "branch": branch,
            "commit": commit,
            "link_template": args.link_template,
        }
        stored = _checked(client.post(f"{base}/code-refs", content=_body(meta, refs)))
    print(
        f"uploaded {stored['refs']} references of {repository} {branch} at "
        f"{stored['commit'][:12]} to {org}/{args.project}"
    )
    return 0
