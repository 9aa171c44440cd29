"""Imports point one way (DESIGN.md): api/sdk/web -> services -> store; realtime -> store and
the engine; the engine imports nothing but the standard library (engine/tests/test_purity.py)."""

from __future__ import annotations

import ast
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
}


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
