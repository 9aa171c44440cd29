"""The example CI workflow (examples/ci/code-refs.yml) is a valid GitHub Actions workflow that
runs `launchseq code-refs` on every push, with the token from a secret in the environment."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "code-refs.yml"


def test_the_example_workflow_scans_on_every_push():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # PyYAML reads the key `on` as True (YAML 1.1).
    triggers = workflow.get("on", workflow.get(True))
    assert triggers["push"]["branches"] == ["**"]
    steps = workflow["jobs"]["code-refs"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install launchseq")
    assert "pip install" in install["run"] and "launchsequence" in install["run"]
    scan = next(s for s in steps if s.get("name") == "Scan and upload")
    assert scan["run"].startswith("launchseq code-refs --dir . --project")
    assert scan["env"]["LAUNCHSEQ_TOKEN"] == "${{ secrets.LAUNCHSEQ_TOKEN }}"
    assert "${{" not in scan["run"], "values reach the script through the environment only"
    assert workflow["permissions"] == {"contents": "read"}
