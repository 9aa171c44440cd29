"""The distribution as the Dockerfile installs it: the files a clean checkout has (the build
context), a fresh virtual environment, `pip install -c constraints.txt ./engine .` (not
editable), then `launchseq serve` from it. Catches files the package forgets (templates,
stylesheet, migrations) that an editable checkout, or its leftover egg-info, hides."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from launchsequence.jsassets import asset
from tests.faults.support import clean_env
from tests.support.live import free_port

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = ("constraints.txt", "pyproject.toml", "README.md", "engine", "src")  # the Dockerfile's


def clean_context(into: Path, paths: tuple[str, ...] = CONTEXT) -> Path:
    """The Dockerfile's build context (or `paths`) as a fresh clone has it: files git tracks or
    would track (no egg-info, caches or builds left by an editable install)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


@pytest.mark.slow
def test_the_installed_package_serves_the_api_the_dashboard_and_its_assets(tmp_path: Path) -> None:
    context = clean_context(tmp_path / "context")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "install", "-c", "constraints.txt", "./engine", "."],
        cwd=context,
        check=True,
        timeout=900,
    )
    launchseq = str(venv / "bin" / "launchseq")
    env = clean_env(tmp_path / "data")
    version = subprocess.run(
        [launchseq, "version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.strip(), version.stderr

    created = subprocess.run(
        [launchseq, "user", "create", "--email", "ops@example.com", "--password-stdin"],
        env=env,
        input="long enough\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr

    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [launchseq, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as http:
            for _ in range(300):  # 30 s at most
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                subprocess.run(["sleep", "0.1"], check=True)
            else:
                raise AssertionError("the installed server did not become ready")
            login = http.get("/login")
            assert login.status_code == 200 and "<form" in login.text, login.text[:300]
            css = http.get("/static/app.css")
            assert css.status_code == 200 and "text/css" in css.headers["content-type"]
            assert http.get("/static/app.js").status_code == 200
            for kind in ("esm", "classic"):  # the JS SDK it serves to browsers, from the package
                served = asset(kind)
                sdk = http.get(served.url_path)
                assert sdk.status_code == 200 and sdk.content == served.body, served.url_path
            signed_in = http.post(
                "/api/v1/auth/login", json={"email": "ops@example.com", "password": "long enough"}
            )
            assert signed_in.status_code == 200, signed_in.text
            dashboard = http.get("/", follow_redirects=True)  # the dashboard, for the user
            assert dashboard.status_code == 200 and "default" in dashboard.text
            assert http.get("/api/v1/openapi.json").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
