"""Private files: the data directory is 0700 and the database, its WAL, the secret and backups
are 0600, whatever the umask. Before, all but `secret_key` were created 0644: readable by every
user of the machine (password hashes, session hashes, every flag)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.faults.support import LAUNCHSEQ, ServerProcess, clean_env
from tests.support.api import signup


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask (022), under which files are born world-readable unless made private."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def preexec_usual_umask() -> None:
    os.umask(0o022)


def test_a_running_server_keeps_every_file_private(tmp_path: Path, usual_umask: None) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        user = signup(server.url, "modes@example.com")
        base = f"/api/v1/orgs/{user.org}/projects/default"
        assert user.post(f"{base}/flags", json={"key": "f"}).status_code == 201
        user.close()
        data = server.data_dir
        files = sorted(p.name for p in data.iterdir())
        # The server is running and writing, so the WAL and its index exist now.
        assert {"launchsequence.db", "launchsequence.db-wal", "launchsequence.db-shm"} <= set(
            files
        ), files
        assert mode(data) == 0o700
        for name in files:
            assert mode(data / name) == 0o600, f"{name}: {oct(mode(data / name))}"
        backup = tmp_path / "backup.db"
        done = subprocess.run(
            [*LAUNCHSEQ, "backup", str(backup)],
            env=clean_env(data),
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=preexec_usual_umask,
        )
        assert done.returncode == 0, done.stderr
        assert mode(backup) == 0o600
    finally:
        server.kill()


def test_the_secret_and_database_are_private_without_the_command_line(
    tmp_path: Path, usual_umask: None
) -> None:
    """Through create_app (an embedding or a test), where no `launchseq` command set a umask."""
    data = tmp_path / "fresh" / "data"
    app = create_app(Settings(data_dir=str(data)))
    app.state.services  # noqa: B018 - built: the database and the secret exist
    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600
    assert mode(data / "launchsequence.db") == 0o600


def test_an_older_installation_is_made_private_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = subprocess.run(
        [*LAUNCHSEQ, "user", "create", "--email", "old@example.com", "--password-stdin"],
        env=clean_env(data),
        input="passw0rd!x\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    # As an earlier version left them: a 0755 directory and 0644 files.
    data.chmod(0o755)
    for path in data.iterdir():
        path.chmod(0o644)
    server = ServerProcess(tmp_path).start()
    server.kill()
    assert mode(data) == 0o700
    for path in data.iterdir():
        assert mode(path) == 0o600, f"{path.name}: {oct(mode(path))}"
    log = server.log_path.read_text()
    assert f"made {data / 'launchsequence.db'} private" in log
