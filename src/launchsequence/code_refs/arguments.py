"""The arguments of `launchseq code-refs` (kept apart from the command, so that building the
parser for `launchseq --help` imports no HTTP client)."""

from __future__ import annotations

import argparse

__all__ = ["DEFAULT_URL", "add_arguments"]

DEFAULT_URL = "http://127.0.0.1:8080"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", required=True, help="the checkout to scan")
    parser.add_argument("--project", required=True, help="the project whose flag keys to find")
    parser.add_argument("--org", help="its organization (default: your only one)")
    parser.add_argument("--url", help=f"the server (default: LAUNCHSEQ_URL, else {DEFAULT_URL})")
    parser.add_argument(
        "--token-env",
        default="LAUNCHSEQ_TOKEN",
        help="the environment variable holding a personal API token of an admin "
        "(default LAUNCHSEQ_TOKEN)",
    )
    parser.add_argument(
        "--repository", help="the repository's name (default: from git's origin, else the "
        "directory's name)"
    )  # fmt: skip
    parser.add_argument("--branch", help="default: git's current branch")
    parser.add_argument("--commit", help="default: git's HEAD")
    parser.add_argument(
        "--link-template",
        help="a URL to a line, e.g. https://github.com/o/r/blob/{commit}/{path}#L{line}",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the references; upload nothing"
    )
