"""`launchseq code-refs`' scan over a real git repository: what counts as a reference, of
which kind, and what is skipped."""

from __future__ import annotations

import shutil

from launchsequence.code_refs.command import scan
from tests.support.repo import KEYS, make_repo

#: (path, line, flag, kind) of every reference in tests/support/repo.py's repository.
EXPECTED = {
    ("app/service.py", 3, "beta", "string"),
    ("app/service.py", 6, "new-checkout", "call"),
    ("app/service.py", 8, "old-flag", "comment"),
    ("app/service.py", 10, "beta-2", "call"),
    ("web/src/page.ts", 2, "beta-2", "string"),
    ("web/src/page.ts", 4, "new-checkout", "call"),
    ("web/src/page.ts", 5, "old-flag", "comment"),
    ("web/src/page.ts", 7, "beta", "comment"),
    ("web/src/page.ts", 8, "beta", "call"),
    ("cmd/main.go", 3, "new-checkout", "string"),
}


def found(result):
    return {(r.path, r.line, r.flag, r.kind) for r in result["refs"]}


def test_a_git_checkout(tmp_path):
    repo = tmp_path / "shop"
    make_repo(repo)
    (repo / "notes.txt").write_text('untracked, not ignored: "beta"\n')
    result = scan(repo, KEYS)

    assert found(result) == EXPECTED | {("notes.txt", 1, "beta", "string")}
    # Exact keys only: "beta-2" is no reference to beta, "beta" none to beta-2.
    assert not any(r.flag == "beta" for r in result["refs"] if r.line == 10)
    # f-strings and template literals: not resolvable, listed apart, never uploaded.
    assert result["dynamic"] == ["app/service.py:14", "web/src/page.ts:6"]
    assert result["skipped"] == {"binary": 1, "minified": 2, "vendored": 1}
    assert not any(r.path.startswith("ignored/") or r.path.endswith(".log") for r in result["refs"])
    assert "never-used" not in {r.flag for r in result["refs"]}


def test_context_lines_around_each_reference(tmp_path):
    repo = tmp_path / "shop"
    make_repo(repo)
    refs = {(r.path, r.line): r for r in scan(repo, KEYS)["refs"]}
    first = refs["app/service.py", 3]
    assert first.context_start == 1
    assert first.context == (
        "import launchsequence_sdk",
        "",
        'BETA = "beta"  # the constant\'s value is a plain string match',
        "",
        "def checkout(client, ctx):",
    )
    last = refs["cmd/main.go", 3]
    assert (last.context_start, len(last.context)) == (1, 3)  # clipped at the file's end


def test_a_directory_without_git_honours_every_gitignore(tmp_path):
    repo = tmp_path / "shop"
    make_repo(repo)
    plain = tmp_path / "plain"
    shutil.copytree(repo, plain, ignore=shutil.ignore_patterns(".git"))
    (plain / "web" / ".gitignore").write_text("src/\n")  # a nested one: relative to web/
    result = scan(plain, KEYS)
    assert found(result) == {ref for ref in EXPECTED if not ref[0].startswith("web/src/")}
    assert result["dynamic"] == ["app/service.py:14"]


def test_a_subdirectory_of_a_checkout_keeps_the_repository_paths(tmp_path):
    repo = tmp_path / "shop"
    make_repo(repo)
    result = scan(repo / "web", KEYS)
    assert {r.path for r in result["refs"]} == {"web/src/page.ts"}
