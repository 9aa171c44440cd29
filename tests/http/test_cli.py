"""The `launchseq` command as an operator uses it: real processes, a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from launchsequence import __version__
from tests.support.live import free_port

LAUNCHSEQ = [sys.executable, "-m", "launchsequence"]


def run(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(data_dir)}
    env.pop("LAUNCHSEQ_DATABASE_URL", None)
    return subprocess.run(
        [*LAUNCHSEQ, *args], env=env, capture_output=True, text=True, timeout=60, check=check
    )


def test_version(tmp_path):
    assert run("version", data_dir=tmp_path).stdout.strip() == __version__


def test_serve_with_no_configuration_then_user_and_token(tmp_path):
    data = tmp_path / "data"
    created = run(
        "user", "create", "--email", "Ops@Example.com", "--password", "passw0rd!", data_dir=data
    )
    assert "ops@example.com" in created.stdout
    token = run("token", "create", "--email", "ops@example.com", "--name", "ci", data_dir=data)
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lst_"), "prints the token and nothing else"
    assert (data / "launchsequence.db").exists()
    assert (data / "secret_key").stat().st_mode & 0o077 == 0, "the secret is private"

    port = free_port()
    env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(data)}
    server = subprocess.Popen(
        [*LAUNCHSEQ, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        printed = [server.stdout.readline() for _ in range(3)]
        assert any(f"listening on http://127.0.0.1:{port}" in line for line in printed), printed
        deadline = time.monotonic() + 60  # a loaded CI machine starts Python slowly
        while True:
            try:
                me = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/me",
                    headers={"Authorization": f"Bearer {lines[0]}"},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.1)
        assert me.status_code == 200
        assert me.json()["user"]["email"] == "ops@example.com"
        assert me.json()["organizations"][0]["role"] == "owner"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_user_create_refuses_bad_input_clearly(tmp_path):
    short = run(
        "user",
        "create",
        "--email",
        "a@example.com",
        "--password",
        "short",
        data_dir=tmp_path,
        check=False,
    )
    assert short.returncode == 1
    assert "password" in short.stderr and "8" in short.stderr
    run(
        "user", "create", "--email", "a@example.com", "--password", "long enough", data_dir=tmp_path
    )
    again = run(
        "user",
        "create",
        "--email",
        "a@example.com",
        "--password",
        "long enough",
        data_dir=tmp_path,
        check=False,
    )
    assert again.returncode == 1 and "exists" in again.stderr
    missing = run(
        "token",
        "create",
        "--email",
        "nobody@example.com",
        "--name",
        "x",
        data_dir=tmp_path,
        check=False,
    )
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_unwritable_data_directory_is_a_clear_error(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    result = run("migrate", data_dir=blocked / "data", check=False)
    assert result.returncode != 0
    assert str(blocked) in result.stderr
    assert "Traceback" not in result.stderr


def test_backup_while_serving_and_restore_from_it(tmp_path):
    import sqlite3

    data = tmp_path / "data"
    run("user", "create", "--email", "b@example.com", "--password", "passw0rd!", data_dir=data)
    token = run("token", "create", "--email", "b@example.com", "--name", "t", data_dir=data)
    port = free_port()
    env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(data)}
    server = subprocess.Popen(
        [*LAUNCHSEQ, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    auth = {"Authorization": f"Bearer {token.stdout.strip()}"}
    base = f"http://127.0.0.1:{port}/api/v1/orgs/b/projects/default/flags"
    try:
        deadline = time.monotonic() + 60  # a loaded CI machine starts Python slowly
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        for i in range(5):
            assert httpx.post(base, json={"key": f"f{i}"}, headers=auth).status_code == 201
        copy = tmp_path / "backup.db"
        done = run("backup", str(copy), data_dir=data)
        assert "backed up" in done.stdout
        again = run("backup", str(copy), data_dir=data, check=False)
        assert again.returncode == 1 and "exists" in again.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = {row[0] for row in db.execute("SELECT key FROM flags")}
    assert keys == {f"f{i}" for i in range(5)}

    # Restoring is putting the file back as the database of a (stopped) server.
    restored = tmp_path / "restored"
    restored.mkdir()
    copy.rename(restored / "launchsequence.db")
    (data / "secret_key").rename(restored / "secret_key")
    token_again = run(
        "token", "create", "--email", "b@example.com", "--name", "u", data_dir=restored
    )
    assert token_again.stdout.startswith("lst_")


def test_backup_refuses_postgresql_clearly(tmp_path):
    env_url = "postgresql://postgres@127.0.0.1:5432/test"
    result = subprocess.run(
        [*LAUNCHSEQ, "backup", str(tmp_path / "x.db"), "--database-url", env_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "pg_dump" in result.stderr
