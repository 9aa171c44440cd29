"""`make dist` from a clean checkout, then the artifacts as a user gets them: the Python SDK's and
the engine's wheels in a fresh virtual environment with nothing else (httpx from the index), and
the JS SDK's and the React binding's tarballs in a fresh Node project (React from the registry);
each evaluates a flag against a live server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.packaging.test_install import clean_context
from tests.support.api import signup
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = ("LICENSE", "Makefile", "README.md", "constraints.txt", "pyproject.toml", "engine")
CHECKOUT += ("sdks/python", "sdks/js", "sdks/react", "src")
VERSION = "0.1.0"
ARTIFACTS = {
    f"launchsequence-{VERSION}-py3-none-any.whl",
    f"launchsequence-{VERSION}.tar.gz",
    f"launchsequence_engine-{VERSION}-py3-none-any.whl",
    f"launchsequence_engine-{VERSION}.tar.gz",
    f"launchsequence_sdk-{VERSION}-py3-none-any.whl",
    f"launchsequence_sdk-{VERSION}.tar.gz",
    f"launchsequence-js-{VERSION}.tgz",
    f"launchsequence-react-{VERSION}.tgz",
}
# What the React binding is tested with (sdks/react/package-lock.json).
REACT = ("react@19.3.1", "react-dom@19.3.1")


def make_dist(tmp_path: Path) -> Path:
    checkout = clean_context(tmp_path / "checkout", CHECKOUT)
    venv = Path(sys.executable).parent.parent  # the one running the tests has `build`
    subprocess.run(
        # -o install: use that environment as it is; never install the copy into it.
        ["make", "-o", "install", "dist", f"VENV={venv}"],
        cwd=checkout,
        check=True,
        timeout=900,
    )
    return checkout / "dist"


def served_flag(live: LiveServer) -> str:
    """A boolean flag `packaged`, on in production; returns the production server key."""
    user = signup(live.url, "pack@example.com")
    project = f"/api/v1/orgs/{user.org}/projects/default"
    user.post(f"{project}/flags", json={"key": "packaged", "name": "Packaged"}).raise_for_status()
    user.patch(
        f"{project}/flags/packaged/environments/production", json={"on": True}
    ).raise_for_status()
    created = user.post(
        f"{project}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
    )
    created.raise_for_status()
    return str(created.json()["key"])


def client_side_flag(live: LiveServer) -> str:
    """In another organization: a client-side boolean flag `packaged-ui`, on in production;
    returns the production client key."""
    user = signup(live.url, "pack-ui@example.com")
    project = f"/api/v1/orgs/{user.org}/projects/default"
    user.post(
        f"{project}/flags", json={"key": "packaged-ui", "name": "UI", "client_side": True}
    ).raise_for_status()
    user.patch(
        f"{project}/flags/packaged-ui/environments/production", json={"on": True}
    ).raise_for_status()
    environment = user.get(f"{project}/environments/production")
    environment.raise_for_status()
    return str(next(k["key"] for k in environment.json()["sdk_keys"] if k["kind"] == "client"))


# The React binding's server render: the bootstrap fetched with the client key, then rendered.
REACT_SSR = """
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import { LaunchSequenceProvider, fetchBootstrap, useFlag } from '@launchsequence/react';
const [clientKey, baseUrl] = process.argv.slice(1);
const context = { key: 'user-1' };
const bootstrap = await fetchBootstrap({ clientKey, baseUrl, context });
const App = () => h('p', null, `packaged-ui is ${useFlag('packaged-ui', false)}`);
const props = { clientKey, baseUrl, context, bootstrap };
console.log(renderToString(h(LaunchSequenceProvider, props, h(App))));
"""


@pytest.mark.slow
def test_make_dist_artifacts_install_alone_and_evaluate_against_a_live_server(
    tmp_path: Path, live: LiveServer
) -> None:
    dist = make_dist(tmp_path)
    assert {p.name for p in dist.iterdir()} == ARTIFACTS
    license_text = (ROOT / "LICENSE").read_text()
    for wheel in dist.glob("*.whl"):
        with zipfile.ZipFile(wheel) as opened:
            names = [n for n in opened.namelist() if n.endswith("licenses/LICENSE")]
            assert len(names) == 1 and opened.read(names[0]).decode() == license_text, wheel
    for archive in [*dist.glob("*.tar.gz"), *dist.glob("*.tgz")]:
        with tarfile.open(archive) as opened:
            assert any(m.name.endswith("/LICENSE") for m in opened.getmembers()), archive
    # The server's wheel carries the JS SDK's browser builds it serves, as committed (and as the
    # checkout's `make dist` regenerated them: the same bytes).
    with zipfile.ZipFile(dist / f"launchsequence-{VERSION}-py3-none-any.whl") as opened:
        for name in ("launchsequence.mjs", "launchsequence.js"):
            committed = (ROOT / "src" / "launchsequence" / "jsbundle" / name).read_bytes()
            assert opened.read(f"launchsequence/jsbundle/{name}") == committed, name
    with tarfile.open(dist / f"launchsequence-js-{VERSION}.tgz") as opened:
        packed = {m.name for m in opened.getmembers()}
    assert {"package/dist/index.cjs", "package/dist/index.d.cts"} <= packed
    server_key = served_flag(live)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-c", str(ROOT / "constraints.txt"), "httpx"], check=True)
    subprocess.run(
        [*pip, "install", "--no-index", "--find-links", str(dist), "launchsequence-sdk"],
        check=True,
        timeout=300,
    )
    script = (
        "import sys\nfrom launchsequence_sdk import Client\n"
        "with Client(sys.argv[1], base_url=sys.argv[2]) as client:\n"
        "    assert client.wait_until_ready(20)\n"
        "    print(client.bool_value('packaged', {'key': 'user-1'}, False))\n"
    )
    evaluated = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, server_key, live.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert evaluated.stdout.strip() == "True", evaluated.stderr
    frozen = subprocess.run(
        [*pip, "freeze"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert f"launchsequence-engine=={VERSION}" in frozen and "launchsequence==" not in frozen

    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to test the JS package"
    project = tmp_path / "node-app"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "app", "private": True}))
    tarball = dist / f"launchsequence-js-{VERSION}.tgz"
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", str(tarball)],
        cwd=project,
        check=True,
        timeout=300,
    )
    esm = (
        "import { createServerClient } from '@launchsequence/js';\n"
        "const [key, baseUrl] = process.argv.slice(1);\n"
        "const client = createServerClient({ serverKey: key, baseUrl });\n"
        "console.log(await client.evaluate('packaged', { key: 'user-1' }, false));\n"
    )
    node = subprocess.run(
        ["node", "--input-type=module", "-e", esm, server_key, live.url],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert node.stdout.strip() == "true", node.stderr

    react_tarball = dist / f"launchsequence-react-{VERSION}.tgz"
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", str(tarball), str(react_tarball), *REACT],
        cwd=project,
        check=True,
        timeout=300,
    )
    rendered = subprocess.run(
        ["node", "--input-type=module", "-e", REACT_SSR, client_side_flag(live), live.url],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.stdout.strip() == "<p>packaged-ui is true</p>", rendered.stderr
