"""Which files of a checkout a scan reads: git's own list in a git work tree (tracked files
and untracked ones not ignored), else a walk that honours every .gitignore on the way (with
`pathspec`, git's rules). Either way `.git`, vendored directories, lock files, minified and
generated files, binary files and files over `MAX_FILE_BYTES` are left out, each counted by
the reason."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pathspec

__all__ = ["MAX_FILE_BYTES", "MAX_LINE_CHARS", "git", "git_root", "list_files", "skip_reason"]

MAX_FILE_BYTES = 1_000_000
#: A file with a longer line is generated or minified: its "lines" are not what people read.
MAX_LINE_CHARS = 1000
VENDORED = frozenset(
    {"node_modules", "vendor", "third_party", "bower_components", "site-packages", ".venv",
     "venv", "__pycache__", ".git", ".hg", ".svn", ".tox", ".mypy_cache", ".ruff_cache"}
)  # fmt: skip
LOCK_FILES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Cargo.lock",
     "Gemfile.lock", "composer.lock", "go.sum", "uv.lock", "Pipfile.lock"}
)  # fmt: skip
MINIFIED_SUFFIXES = (".min.js", ".min.mjs", ".min.css", ".bundle.js", ".map")


def git(root: Path, *args: str) -> str | None:
    try:
        # git from PATH, as the user runs it; arguments are ours, never a shell's.
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(root), *args],  # noqa: S607
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "surrogateescape") if done.returncode == 0 else None


def git_root(directory: Path) -> Path | None:
    """The top of the git work tree holding `directory`, or None (no git, or not a checkout)."""
    top = git(directory, "rev-parse", "--show-toplevel")
    return Path(top.strip()) if top and top.strip() else None


def _git_files(top: Path, directory: Path) -> list[str]:
    under = directory.resolve().relative_to(top.resolve()).as_posix()
    listing = git(top, "ls-files", "-co", "--exclude-standard", "-z", "--", under or ".")
    return sorted({p for p in (listing or "").split("\0") if p})


def _walk(root: Path) -> Iterator[str]:
    """Files under `root` (paths relative to it, '/'-separated) that no .gitignore on the way
    ignores: a nested .gitignore's patterns apply below its own directory."""
    specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []
    for current, dirs, files in os.walk(root):
        rel = Path(current).relative_to(root).as_posix()
        rel = "" if rel == "." else rel + "/"
        ignore = Path(current) / ".gitignore"
        if ignore.is_file():
            lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
            specs.append((rel, pathspec.GitIgnoreSpec.from_lines(lines)))

        def ignored(path: str, is_dir: bool) -> bool:
            for base, spec in specs:
                if path.startswith(base) and spec.match_file(
                    path[len(base) :] + ("/" if is_dir else "")
                ):
                    return True
            return False

        dirs[:] = sorted(d for d in dirs if d != ".git" and not ignored(rel + d, True))
        for name in sorted(files):
            if not ignored(rel + name, False):
                yield rel + name


def list_files(directory: Path) -> tuple[Path, list[str]]:
    """(the root paths are relative to, the files to consider). In a git work tree the root
    is its top (so that paths are the repository's, as links need them)."""
    top = git_root(directory)
    if top is not None:
        return top, _git_files(top, directory)
    return directory, list(_walk(directory))


def skip_reason(path: str, root: Path) -> tuple[str | None, str]:
    """(why the file is skipped, or None; its text when it is read)."""
    parts = path.split("/")
    if any(p in VENDORED for p in parts[:-1]):
        return "vendored", ""
    name = parts[-1]
    if name in LOCK_FILES:
        return "lock file", ""
    if name.endswith(MINIFIED_SUFFIXES):
        return "minified", ""
    full = root / path
    try:
        if not full.is_file() or full.is_symlink():
            return "not a file", ""
        if full.stat().st_size > MAX_FILE_BYTES:
            return "too large", ""
        data = full.read_bytes()
    except OSError:
        return "unreadable", ""
    if b"\0" in data[:8192]:
        return "binary", ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", ""
    if any(len(line) > MAX_LINE_CHARS for line in text.splitlines()):
        return "minified", ""
    return None, text
