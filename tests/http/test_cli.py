"""The `launchseq` command as an operator uses it: real processes, a real SQLite file."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from launchsequence import __version__
from launchsequence.cpus import cpu_budget
from tests.support.live import free_port

LAUNCHSEQ = [sys.executable, "-m", "launchsequence"]


def run(
    *args: str, data_dir: Path, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(data_dir)}
    env.pop("LAUNCHSEQ_DATABASE_URL", None)
    return subprocess.run(
        [*LAUNCHSEQ, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def create_user(email: str, password: str, *, data_dir: Path, check: bool = True) -> Any:
    """`user create` with the password on standard input, as scripts give it."""
    return run(
        "user",
        "create",
        "--email",
        email,
        "--password-stdin",
        data_dir=data_dir,
        check=check,
        stdin=password + "\n",
    )


def test_version(tmp_path):
    assert run("version", data_dir=tmp_path).stdout.strip() == __version__


def test_serve_with_no_configuration_then_user_and_token(tmp_path):
    data = tmp_path / "data"
    created = create_user("Ops@Example.com", "passw0rd!", data_dir=data)
    assert "ops@example.com" in created.stdout
    token = run("token", "create", "--email", "ops@example.com", "--name", "ci", data_dir=data)
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lst_"), "prints the token and nothing else"
    assert (data / "launchsequence.db").exists()
    assert (data / "secret_key").stat().st_mode & 0o077 == 0, "the secret is private"

    port = free_port()
    env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(data)}
    env.pop("LAUNCHSEQ_WORKERS", None)  # the default: one worker per CPU (tests/conftest.py sets 1)
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
        # The startup line says how many processes serve, and why.
        budget = cpu_budget()
        plan = f"{budget.count} workers" if budget.count > 1 else "one process"
        banner = f"listening on http://127.0.0.1:{port} ({plan}; auto: {budget.describe()})"
        assert any(banner in line for line in printed), printed
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
        server.terminate()
        # A clean stop: the master exits 0 once its workers have drained; one process drains,
        # then ends by the SIGTERM it was sent, as uvicorn does (re-raised after shutdown).
        assert server.wait(timeout=30) == (0 if budget.count > 1 else -signal.SIGTERM)
    finally:
        server.kill()  # only if it is still there
        server.wait(timeout=10)


def test_user_create_refuses_bad_input_clearly(tmp_path):
    short = create_user("a@example.com", "short", data_dir=tmp_path, check=False)
    assert short.returncode == 1
    assert "password" in short.stderr and "8" in short.stderr
    create_user("a@example.com", "long enough", data_dir=tmp_path)
    again = create_user("a@example.com", "long enough", data_dir=tmp_path, check=False)
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


def test_edge_refuses_an_unusable_upstream_or_proxy_at_start(tmp_path, monkeypatch):
    """The edge says at once what is wrong with its upstream URL or its proxy (exit code 2),
    rather than starting and failing to connect forever."""
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    bad_url = run(
        "edge", "--upstream", "ftp://core", "--key", "ls_rly_x", data_dir=tmp_path, check=False
    )
    assert bad_url.returncode == 2
    assert "the upstream must be an http:// or https:// URL" in bad_url.stderr
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example.com:3128")
    bad_proxy = run(
        "edge",
        "--upstream",
        "https://core.example.com",
        "--key",
        "ls_rly_x",
        data_dir=tmp_path,
        check=False,
    )
    assert bad_proxy.returncode == 2
    assert "the proxy for https:// URLs must be an http:// URL" in bad_proxy.stderr
    assert "Traceback" not in bad_url.stderr + bad_proxy.stderr


def test_backup_while_serving_and_restore_from_it(tmp_path):
    import sqlite3

    data = tmp_path / "data"
    create_user("b@example.com", "passw0rd!", data_dir=data)
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


def test_user_create_takes_the_password_from_stdin_or_a_prompt_never_an_argument(tmp_path):
    data = tmp_path / "data"
    as_argument = run(
        "user", "create", "--email", "x@example.com", "--password", "passw0rd!", data_dir=data,
        check=False,
    )  # fmt: skip
    assert as_argument.returncode == 2 and "unrecognized arguments" in as_argument.stderr
    no_terminal = run("user", "create", "--email", "x@example.com", data_dir=data, check=False)
    assert no_terminal.returncode == 1 and "--password-stdin" in no_terminal.stderr
    created = create_user("x@example.com", "spaces and all ", data_dir=data)
    assert "created x@example.com" in created.stdout
    token = run("token", "create", "--email", "x@example.com", "--name", "t", data_dir=data)
    port = free_port()
    with served(data, port) as url:
        login = httpx.post(
            f"{url}/api/v1/auth/login",
            json={"email": "x@example.com", "password": "spaces and all "},
        )
        assert login.status_code == 200, "the whole first line is the password"
        assert token.stdout.strip().startswith("lst_")


@contextlib.contextmanager
def served(data: Path, port: int) -> Iterator[str]:
    """`launchseq serve` on `data` at `port`, answering; its URL. Ended (SIGTERM) on exit."""
    env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(data)}
    server = subprocess.Popen(
        [*LAUNCHSEQ, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/healthz")
            return
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "server did not answer"
            time.sleep(0.1)


def test_every_account_command_has_help(tmp_path):
    for command in (
        ("user", "create"),
        ("user", "list"),
        ("user", "disable"),
        ("user", "enable"),
        ("user", "reset-password"),
        ("user", "reset-second-factor"),
        ("token", "create"),
        ("token", "list"),
        ("token", "revoke"),
    ):
        shown = run(*command, "--help", data_dir=tmp_path)
        assert shown.stdout.startswith(f"usage: launchseq {' '.join(command)}"), shown.stdout
    for group in ("user", "token"):
        listing = run(group, "--help", data_dir=tmp_path).stdout
        for line in listing.splitlines():
            if line.startswith("    ") and line.split()[0] in ("create", "list", "revoke"):
                assert len(line.split()) > 1, f"{group} {line.strip()} has no help text"


def test_list_disable_enable_users_and_list_revoke_tokens(tmp_path):
    data = tmp_path / "data"
    create_user("ann@example.com", "passw0rd!", data_dir=data)
    create_user("ben@example.com", "passw0rd!", data_dir=data)
    ci = run("token", "create", "--email", "ben@example.com", "--name", "ci", data_dir=data)
    run("token", "create", "--email", "ann@example.com", "--name", "laptop", data_dir=data)
    port = free_port()
    ben_token = {"Authorization": f"Bearer {ci.stdout.strip()}"}
    with served(data, port) as url:
        ben = httpx.Client(base_url=url)
        assert (
            ben.post(
                "/api/v1/auth/login", json={"email": "ben@example.com", "password": "passw0rd!"}
            ).status_code
            == 200
        )
        assert ben.get("/api/v1/me").status_code == 200
        assert httpx.get(f"{url}/api/v1/me", headers=ben_token).status_code == 200

        users = run("user", "list", data_dir=data).stdout
        assert re.search(r"ann@example\.com\s+active .* ann:owner", users), users
        assert re.search(r"ben@example\.com\s+active", users), users

        disabled = run("user", "disable", "--email", "Ben@Example.com", data_dir=data)
        assert "ben@example.com is disabled" in disabled.stdout
        assert re.search(r"ben@example\.com\s+disabled", run("user", "list", data_dir=data).stdout)
        # The running server sees it at once: session, token and log-in all refused.
        assert ben.get("/api/v1/me").status_code == 401
        assert httpx.get(f"{url}/api/v1/me", headers=ben_token).status_code == 401
        refused = httpx.post(
            f"{url}/api/v1/auth/login", json={"email": "ben@example.com", "password": "passw0rd!"}
        )
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "account_disabled"
        wrong = httpx.post(
            f"{url}/api/v1/auth/login", json={"email": "ben@example.com", "password": "wrong one"}
        )
        assert wrong.json()["error"]["code"] == "invalid_credentials", "no hint without it"
        no_link = run("user", "reset-password", "--email", "ben@example.com",
                      "--base-url", url, data_dir=data, check=False)  # fmt: skip
        assert no_link.returncode == 1 and "no active user" in no_link.stderr

        run("user", "enable", "--email", "ben@example.com", data_dir=data)
        assert httpx.get(f"{url}/api/v1/me", headers=ben_token).status_code == 200
        assert ben.get("/api/v1/me").status_code == 401, "sessions do not come back"

        tokens = run("token", "list", data_dir=data).stdout
        assert re.search(r"ben@example\.com\s+ci\s+lst_", tokens), tokens
        assert "laptop" in tokens
        assert ci.stdout.strip() not in tokens, "never the secret part"
        only_ann = run("token", "list", "--email", "ann@example.com", data_dir=data).stdout
        assert "laptop" in only_ann and " ci " not in only_ann
        token_id = re.search(r"^\s*(\d+)\s+ben@example\.com\s+ci\b", tokens, re.M)
        assert token_id
        revoked = run("token", "revoke", token_id.group(1), data_dir=data)
        assert "revoked token" in revoked.stdout and "ben@example.com" in revoked.stdout
        assert httpx.get(f"{url}/api/v1/me", headers=ben_token).status_code == 401
        again = run("token", "revoke", token_id.group(1), data_dir=data, check=False)
        assert again.returncode == 1 and "no token" in again.stderr


def test_reset_password_prints_a_one_time_link(tmp_path):
    data = tmp_path / "data"
    create_user("cy@example.com", "passw0rd!", data_dir=data)
    no_base = run("user", "reset-password", "--email", "cy@example.com", data_dir=data,
                  check=False)  # fmt: skip
    assert no_base.returncode == 1 and "LAUNCHSEQ_BASE_URL" in no_base.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    printed = run("user", "reset-password", "--email", "cy@example.com", "--base-url", url,
                  data_dir=data)  # fmt: skip
    link = printed.stdout.strip()
    assert re.fullmatch(re.escape(url) + r"/reset\?token=lsr_[A-Za-z0-9_-]+", link), link
    with served(data, port):
        with httpx.Client(base_url=url, follow_redirects=False) as browser:
            assert browser.get(link).headers["location"] == "/reset"
            page = browser.get("/reset").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert csrf
            done = browser.post(
                "/reset",
                data={"password": "new one here", "password_again": "new one here",
                      "csrf_token": csrf.group(1)},
            )  # fmt: skip
            assert done.status_code == 303
            assert browser.get(link).status_code == 404, "used once"
        login = httpx.post(
            f"{url}/api/v1/auth/login", json={"email": "cy@example.com", "password": "new one here"}
        )
        assert login.status_code == 200
