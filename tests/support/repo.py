"""A real git repository in a temporary directory, with the cases a code-refs scan must get
right: SDK calls in Python and TypeScript, keys in comments, keys computed at run time, keys
that are prefixes of others, and files to skip (ignored, vendored, minified, generated,
binary)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["FILES", "KEYS", "commit_all", "git", "make_repo"]

KEYS = frozenset({"beta", "beta-2", "new-checkout", "old-flag", "never-used"})

FILES = {
    ".gitignore": "ignored/\n*.log\n",
    "app/service.py": (
        "import launchsequence_sdk\n"
        "\n"
        'BETA = "beta"  # the constant\'s value is a plain string match\n'
        "\n"
        "def checkout(client, ctx):\n"
        '    if client.bool_value("new-checkout", ctx, False):\n'
        "        return 1\n"
        '    # client.bool_value("old-flag", ctx, False) was removed in May\n'
        "    shown = client.get_boolean_value(\n"
        '        flag_key="beta-2",\n'
        "        default_value=False,\n"
        "    )\n"
        "    n = 3\n"
        '    return client.bool_value(f"beta-{n}", ctx, False) or shown\n'
    ),
    "web/src/page.ts": (
        "import { useFlag } from '@launchsequence/react';\n"
        "const docs = \"https://example.com//not-a-comment\"; const b = 'beta-2';\n"
        "export function Page() {\n"
        "  const on = useFlag('new-checkout', false);\n"
        "  /* useFlag('old-flag', false) */\n"
        "  const dyn = client.value(`beta-${region}`, false);\n"
        "  // client.value('beta', false)\n"
        '  return client.getBooleanValue("beta", false) && on;\n'
        "}\n"
    ),
    "cmd/main.go": 'package main\n\nfunc main() { client.Bool("new-checkout", false) }\n',
    "web/dist/app.min.js": "x.value('new-checkout',!1);\n",
    "web/generated.js": "var a=" + "1+" * 600 + "client.value('new-checkout',false);\n",
    "node_modules/lib/index.js": "client.value('new-checkout', false);\n",
    "ignored/secret.py": 'client.bool_value("new-checkout", ctx, False)\n',
    "debug.log": "new-checkout 'new-checkout'\n",
}
BINARY = {"assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00'new-checkout'\x00"}


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_repo(repo: Path) -> str:
    """The repository on branch `main`, with its origin `github.com/acme/shop`; the head
    commit's id. node_modules/ is committed (vendored, not ignored): the scan skips it anyway."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", "https://github.com/acme/shop.git")
    (repo / "README.md").write_text("# shop\n")
    commit_all(repo, "first")
    for path, text in FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    for path, data in BINARY.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    return commit_all(repo, "the code")
