"""What `make serve` and `make test` would run on a fresh checkout (`make -n`, nothing is
installed): the server gets only its own requirements, the gates get the dev tools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.packaging.test_install import clean_context


def planned(target: str, tmp_path: Path, *args: str) -> list[str]:
    checkout = clean_context(
        tmp_path / "checkout",
        ("Makefile", "constraints.txt", "pyproject.toml", "engine", "sdks/python"),
    )
    # As a fresh shell runs it, not as a sub-make of `make test` (which would print
    # "make[1]: Entering directory" lines among the commands).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target, *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_serve_installs_the_engine_and_the_server_without_dev_tools(tmp_path: Path) -> None:
    installs = [line for line in planned("serve", tmp_path) if " install " in line]
    assert installs[-1].endswith("-c constraints.txt -e engine -e ."), installs
    assert not any("dev" in line or "sdks/python" in line for line in installs), installs


def test_make_test_installs_the_dev_tools(tmp_path: Path) -> None:
    installs = [line for line in planned("test", tmp_path) if " install " in line]
    assert any("'.[dev]'" in line and "sdks/python" in line for line in installs), installs


def test_make_serve_passes_the_port_through(tmp_path: Path) -> None:
    lines = planned("serve", tmp_path, "SERVE_ARGS=--port 9000")
    assert lines[-1].split() == [".venv/bin/launchseq", "serve", "--port", "9000"]


def test_make_dist_regenerates_the_served_js_builds_before_the_servers_wheel(
    tmp_path: Path,
) -> None:
    lines = planned("dist", tmp_path, "-o", "install")
    build_js = next(i for i, line in enumerate(lines) if "scripts/build.mjs --server" in line)
    server_wheel = lines.index(".venv/bin/python -m build --outdir dist .")
    assert "npm ci" in lines[build_js] and build_js < server_wheel, lines
    assert "cd sdks/js && npm pack --silent --pack-destination ../../dist" in lines[-2:]
    assert lines[-1].startswith("cd sdks/react && npm ci") and "npm pack" in lines[-1]
