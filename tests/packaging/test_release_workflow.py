"""The release workflow cannot run here; what it would do is read from its file: built by the
same `make dist` the tests build with, each package published where its users install it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((ROOT / ".github/workflows/release.yml").read_text())
    return loaded


def commands(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_release_runs_on_version_tags_and_builds_with_make_dist() -> None:
    release = workflow()
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    assert release[True] == {"push": {"tags": ["v*"]}}
    build = release["jobs"]["build"]
    assert "make dist" in commands(build)
    uploaded = [s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-art")]
    assert uploaded and uploaded[0]["with"]["path"] == "dist/"


def test_python_distributions_go_to_pypi_with_trusted_publishing() -> None:
    job = workflow()["jobs"]["pypi"]
    assert job["needs"] == "build" and job["permissions"] == {"id-token": "write"}
    uses = [step.get("uses", "") for step in job["steps"]]
    assert "pypa/gh-action-pypi-publish@release/v1" in uses
    publish = next(s for s in job["steps"] if s.get("uses", "").startswith("pypa/"))
    assert "password" not in publish.get("with", {})  # no token: trusted publishing
    # Every wheel and sdist make dist builds (engine, SDK, server) is in the published dir.
    assert publish["with"]["packages-dir"] == "dist/"
    assert commands(job) == ["rm dist/*.tgz"]


def test_the_js_sdk_then_the_react_binding_go_to_npm_with_provenance() -> None:
    job = workflow()["jobs"]["npm"]
    assert job["needs"] == "build" and job["permissions"] == {"id-token": "write"}
    # The JS SDK first: the React binding's peer dependency names it.
    assert commands(job) == [
        "npm publish --provenance --access public dist/launchsequence-js-*.tgz",
        "npm publish --provenance --access public dist/launchsequence-react-*.tgz",
    ]
