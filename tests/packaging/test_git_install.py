"""The git-URL install of docs/sdk-python.md, run for real: a fresh clone of this repository's
committed HEAD stands for the hosted repository (`git+file://`), and the documented command (the
engine's and the SDK's subdirectories in one pip command) installs them into a fresh virtual
environment with nothing else, which then evaluates a flag against a live server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.test_dist import served_flag
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "sdk-python.md"


def documented_command(repo: str) -> list[str]:
    """The git-URL `pip install` of the docs, its placeholder URL replaced with `repo`."""
    text = DOCS.read_text()
    start = text.index('pip install "launchsequence-engine @ $REPO')
    lines = []
    for line in text[start:].splitlines():
        lines.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    words = " ".join(lines).replace("$REPO", repo).split('"')
    # pip install "<engine requirement>" "<sdk requirement>": the quoted parts are the requirements
    assert words[0].split() == ["pip", "install"], words
    return [w for w in words[1:] if w.strip()]


@pytest.mark.slow
def test_the_documented_git_url_install_evaluates_against_a_live_server(
    tmp_path: Path, live: LiveServer
) -> None:
    clone = tmp_path / "launchsequence"
    subprocess.run(["git", "clone", "--quiet", ROOT.as_uri(), str(clone)], check=True, timeout=300)
    requirements = documented_command(f"git+{clone.as_uri()}")
    assert [r.split(" @ ")[0] for r in requirements] == [
        "launchsequence-engine",
        "launchsequence-sdk",
    ]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-U", "pip"], check=True, timeout=300)  # as documented
    subprocess.run([*pip, "install", *requirements], check=True, timeout=600)

    frozen = subprocess.run(
        [*pip, "freeze"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "launchsequence-engine @ git+file://" in frozen, frozen
    assert "launchsequence-sdk @ git+file://" in frozen, frozen
    assert "launchsequence==" not in frozen and "fastapi" not in frozen.lower(), frozen

    server_key = served_flag(live)
    script = (
        "import sys\nfrom launchsequence_sdk import Client\n"
        "with Client(sys.argv[1], base_url=sys.argv[2]) as client:\n"
        "    assert client.wait_until_ready(20)\n"
        "    r = client.bool_details('packaged', {'key': 'user-1'}, False)\n"
        "    print(r.value, r.reason)\n"
    )
    evaluated = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, server_key, live.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.split() == ["True", "STATIC"], evaluated.stdout
