"""The engine is pure: standard library only, and no I/O, clock, logging or concurrency modules.

Static checks read every module of the package with `ast`; a subprocess checks what importing
the package actually loads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "launchsequence_engine"
SRC = Path(__file__).resolve().parents[1] / "src"
MODULES = sorted((SRC / PACKAGE).rglob("*.py"))

#: Standard modules the engine must not import: I/O, the clock, logging, randomness, processes,
#: threads, the network, dynamic imports.
FORBIDDEN = frozenset(
    {
        "time", "logging", "os", "io", "socket", "random", "threading", "asyncio", "pathlib",
        "subprocess", "multiprocessing", "concurrent", "select", "selectors", "signal", "ssl",
        "http", "urllib", "tempfile", "shutil", "secrets", "uuid", "sched", "importlib",
        "warnings", "zoneinfo", "locale",
    }
)  # fmt: skip
#: Builtins that do I/O or run code.
FORBIDDEN_CALLS = frozenset({"open", "print", "input", "breakpoint", "exec", "eval", "__import__"})
#: The one module allowed to run code it made: codegen.py compiles each flag into a function
#: from source of its own (identifiers and repr() of attribute names; values stay out of it).
CODE_GENERATOR = "codegen.py"
#: Attributes that read the clock (`datetime.now()`, `date.today()`): `now` is always passed in.
CLOCK_ATTRIBUTES = frozenset({"now", "utcnow", "today"})


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module name) of every absolute import in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.partition(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.partition(".")[0]))
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(SRC)}:{line}"


def test_the_package_has_modules() -> None:
    assert len(MODULES) >= 5, MODULES
    assert (SRC / PACKAGE / "__init__.py") in MODULES


def test_imports_only_the_standard_library() -> None:
    outside = [
        f"{_where(path, line)} imports {name}"
        for path in MODULES
        for line, name in _imports(path)
        if name not in sys.stdlib_module_names and name not in (PACKAGE, "__future__")
    ]
    assert not outside, outside


def test_imports_no_io_clock_logging_or_concurrency() -> None:
    forbidden = [
        f"{_where(path, line)} imports {name}"
        for path in MODULES
        for line, name in _imports(path)
        if name in FORBIDDEN
    ]
    assert not forbidden, forbidden


def test_calls_no_io_builtin_and_reads_no_clock() -> None:
    found = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in FORBIDDEN_CALLS
                and not (path.name == CODE_GENERATOR and node.func.id == "exec")
            ):
                found.append(f"{_where(path, node.lineno)} calls {node.func.id}()")
            if isinstance(node, ast.Attribute) and node.attr in CLOCK_ATTRIBUTES:
                found.append(f"{_where(path, node.lineno)} reads .{node.attr}")
    assert not found, found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import requests", [(1, "requests")]),
        ("import os.path", [(1, "os")]),
        ("from time import monotonic", [(1, "time")]),
        ("from . import flags\nfrom .x import y", []),
        ("if True:\n    import logging", [(2, "logging")]),
    ],
)
def test_the_import_scanner_sees_imports(tmp_path: Path, source: str, expected: object) -> None:
    module = tmp_path / "m.py"
    module.write_text(source, encoding="utf-8")
    assert _imports(module) == expected


_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
import launchsequence_engine
print(json.dumps({
    "file": launchsequence_engine.__file__,
    "modules": sorted(sys.modules),
    "loaded": sorted(set(sys.modules) - before),
}))
"""


def test_importing_loads_no_third_party_module() -> None:
    # -I: ignore PYTHON* variables and the user's site; -S: no site-packages, no .pth hooks, so
    # only the interpreter's own modules and what the package pulls in can be there.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _PROBE, str(SRC)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert Path(report["file"]).resolve().is_relative_to(SRC / PACKAGE)
    assert PACKAGE in report["loaded"]
    third_party = [
        name
        for name in report["modules"]
        if name.partition(".")[0] not in sys.stdlib_module_names
        and name.partition(".")[0] != PACKAGE
        and name != "__main__"
    ]
    assert not third_party, third_party
