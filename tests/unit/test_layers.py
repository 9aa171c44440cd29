"""Imports point one way (DESIGN.md): api/sdk/web -> services -> store; realtime -> the engine,
and the store only through its database source (and the core's change feed); edge -> sdk,
realtime and the engine, never store or services; the engine imports nothing but the standard
library (engine/tests/test_purity.py). The edge process needs no database: importing its app
imports neither SQLAlchemy, Alembic nor Jinja2."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "launchsequence"

#: For each layer, the package's layers it must never import.
FORBIDDEN = {
    "store": {"services", "realtime", "api", "sdk", "web"},
    "services": {"realtime", "api", "sdk", "web"},
    "realtime": {"services", "api", "sdk", "web"},
    "api": {"store", "realtime", "sdk", "web"},
    "sdk": {"store", "services", "api", "web"},
    "web": {"store", "realtime", "sdk"},
    "edge": {"store", "services", "api", "web"},
}

#: The modules of `realtime/` that may read the store (everything else gets it from a source).
#: The database source and the core's change feeds (LISTEN/NOTIFY and its version check, and the
#: sibling feed of workers on one SQLite file, a version check too): the core's, never an edge's.
STORE_READERS = {"realtime/database.py", "realtime/feed.py", "realtime/siblings.py"}
#: Third-party packages only the core needs.
CORE_ONLY = ("sqlalchemy", "alembic", "jinja2", "psycopg", "fastapi")


def _targets(path: Path) -> list[tuple[int, str]]:
    """(line, first component under launchsequence) of every import of the package."""
    layer_depth = len(path.relative_to(PACKAGE).parts) - 1
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = (node.module or "").split(".")
                up = node.level - 1  # levels above this module's own package
                if up == layer_depth and parts[0]:
                    found.append((node.lineno, parts[0]))
                elif up < layer_depth:
                    continue  # inside its own layer
            elif node.module and node.module.startswith("launchsequence."):
                found.append((node.lineno, node.module.split(".")[1]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("launchsequence."):
                    found.append((node.lineno, alias.name.split(".")[1]))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer):
    problems = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, target in _targets(path):
            if target in FORBIDDEN[layer]:
                problems.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not problems, problems


def _third_party(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("layer", ["realtime", "sdk", "edge"])
def test_only_the_database_source_reads_the_store(layer):
    """sdk/, edge/ and the hub code get snapshots and keys from a source, never SQL."""
    problems = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        name = str(path.relative_to(PACKAGE))
        if name in STORE_READERS:
            continue
        for target in _third_party(path) & set(CORE_ONLY):
            problems.append(f"{name} imports {target}")
        for line, target in _targets(path):
            if target == "store":
                problems.append(f"{name}:{line} imports store")
    assert not problems, problems


def test_the_edge_app_imports_no_database_or_template_code():
    """In a fresh interpreter: the edge's app and its command line load, and neither brings
    SQLAlchemy, Alembic, Jinja2, psycopg or FastAPI into sys.modules."""
    code = (
        "import sys\n"
        "import launchsequence.edge.app, launchsequence.edge.serve, launchsequence.cli\n"
        f"print(','.join(sorted(m for m in {CORE_ONLY!r} if m in sys.modules)))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert found == "", f"the edge imports {found}"
