"""What every package declares about itself, read from the files a release is built from: one
license text shipped in each package, and (below) one version for all of them."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PYPROJECTS = {
    "launchsequence": ROOT / "pyproject.toml",
    "launchsequence-engine": ROOT / "engine" / "pyproject.toml",
    "launchsequence-sdk": ROOT / "sdks" / "python" / "pyproject.toml",
}
PACKAGE_JSON = ROOT / "sdks" / "js" / "package.json"
NPM_PACKAGES = {
    "@launchsequence/js": ROOT / "sdks" / "js",
    "@launchsequence/react": ROOT / "sdks" / "react",
}


def pyproject(name: str) -> dict[str, Any]:
    return tomllib.loads(PYPROJECTS[name].read_text())


def package_json(name: str = "@launchsequence/js") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((NPM_PACKAGES[name] / "package.json").read_text())
    return loaded


def package_lock(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((NPM_PACKAGES[name] / "package-lock.json").read_text())
    return loaded


def test_the_repository_and_every_package_carry_the_apache_license_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    for package_dir in (ROOT / "engine", ROOT / "sdks" / "python", *NPM_PACKAGES.values()):
        # A package is built from its own directory and cannot reach the root file, so it
        # holds a copy; the copies must not drift from the root.
        assert (package_dir / "LICENSE").read_text() == text, package_dir


def test_every_python_package_declares_apache_and_ships_the_license_file() -> None:
    for name in PYPROJECTS:
        data = pyproject(name)
        assert data["project"]["name"] == name
        assert data["project"]["license"] == "Apache-2.0", name
        assert data["project"]["license-files"] == ["LICENSE"], name
        # Older setuptools rejects an SPDX string license and ignores license-files.
        assert data["build-system"]["requires"] == ["setuptools>=77"], name


def test_the_js_packages_declare_apache_and_pack_the_license_file() -> None:
    for name in NPM_PACKAGES:
        data = package_json(name)
        assert data["name"] == name
        assert data["license"] == "Apache-2.0", name
        assert "LICENSE" in data["files"], name
        assert package_lock(name)["packages"][""]["license"] == "Apache-2.0", name


# Where each package states its version at run time, besides its metadata.
RUNTIME_VERSIONS = {
    "launchsequence": ROOT / "src" / "launchsequence" / "__init__.py",
    "launchsequence-engine": ROOT / "engine" / "src" / "launchsequence_engine" / "__init__.py",
    "launchsequence-sdk": ROOT / "sdks" / "python" / "src" / "launchsequence_sdk" / "version.py",
}


def runtime_version(path: Path) -> str:
    found = re.findall(r'^__version__ = "([^"]+)"$', path.read_text(), flags=re.MULTILINE)
    assert len(found) == 1, path
    return str(found[0])


def test_engine_sdks_and_server_share_one_version_everywhere_they_state_it() -> None:
    version = pyproject("launchsequence")["project"]["version"]
    stated = {f"{name} metadata": pyproject(name)["project"]["version"] for name in PYPROJECTS}
    stated |= {f"{name} __version__": runtime_version(p) for name, p in RUNTIME_VERSIONS.items()}
    for name in NPM_PACKAGES:
        stated[f"{name} package.json"] = package_json(name)["version"]
        lock = package_lock(name)
        stated[f"{name} package-lock.json"] = lock["version"]
        stated[f"{name} package-lock.json root"] = lock["packages"][""]["version"]
    # The React binding runs on the JS SDK of its own version, and on no other.
    peer = package_json("@launchsequence/react")["peerDependencies"]["@launchsequence/js"]
    stated["@launchsequence/react peer @launchsequence/js"] = peer
    # The JS SDK names itself to the server with its version on every request.
    sent = re.findall(
        r"'X-LaunchSequence-SDK': 'js/([^']+)'", (ROOT / "sdks/js/src/version.js").read_text()
    )
    stated["@launchsequence/js X-LaunchSequence-SDK header"] = sent[0] if sent else "missing"
    assert {where: v for where, v in stated.items() if v != version} == {}


def test_the_sdk_and_the_server_require_exactly_the_engine_of_their_own_version() -> None:
    for name in ("launchsequence", "launchsequence-sdk"):
        project = pyproject(name)["project"]
        engine = [d for d in project["dependencies"] if d.startswith("launchsequence-engine")]
        assert engine == [f"launchsequence-engine=={project['version']}"], name


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        pins[name.strip().lower()] = version.strip()
    return pins


def test_the_server_allows_only_the_uvicorn_and_httptools_it_is_tested_with() -> None:
    """httpserver.py subclasses uvicorn's private HttpToolsProtocol: a release of uvicorn may
    change it, so the server must not accept versions its tests never ran with."""
    requirements = {
        r.name: r for r in map(Requirement, pyproject("launchsequence")["project"]["dependencies"])
    }
    tested = constraints()
    for name in ("uvicorn", "httptools"):
        allowed = requirements[name].specifier
        assert any(s.operator == "<" for s in allowed), f"{name} has no upper bound: {allowed}"
        assert allowed.contains(tested[name]), (name, str(allowed), tested[name])
        # No minor version beyond the tested one: the next one is refused.
        major, minor, *_ = (int(part) for part in tested[name].split("."))
        assert not allowed.contains(f"{major}.{minor + 1}.0"), (name, str(allowed))


def test_the_server_requires_uvicorn_without_its_standard_extras() -> None:
    """uvicorn's package imports its reloader, which loads watchfiles (1.2 MB, and anyio) into
    every server and edge process when it is installed: the server names the two extras it
    runs on (httptools, uvloop) instead of `uvicorn[standard]`, which would also install
    watchfiles, websockets, python-dotenv and PyYAML."""
    requirements = {
        r.name: r for r in map(Requirement, pyproject("launchsequence")["project"]["dependencies"])
    }
    assert requirements["uvicorn"].extras == set(), requirements["uvicorn"]
    assert {"httptools", "uvloop"} <= set(requirements)
    assert not {"watchfiles", "websockets"} & set(requirements)
