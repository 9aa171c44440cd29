"""One live Launch Sequence server per test module, with an environment, its server key and the
examples' flag `new-checkout`; and helpers to run an example's own processes against it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "python"
FLAG = "new-checkout"
BIN = Path(sys.executable).parent


@dataclass
class Flags:
    """The live server, its production environment's server key, and the flag's switch."""

    url: str
    user: ApiUser
    base: str
    key: str

    def toggle(self, on: bool) -> None:
        r = self.user.patch(f"{self.base}/flags/{FLAG}/environments/production", json={"on": on})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def flags(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flags]:
    data = tmp_path_factory.mktemp("server")
    server = LiveServer(create_app(Settings(data_dir=str(data), secret_key="test-secret"))).start()
    try:
        user = signup(server.url, "frameworks@example.com")
        base = f"/api/v1/orgs/{user.org}/projects/default"
        r = user.post(f"{base}/flags", json={"key": FLAG})
        assert r.status_code == 201, r.text
        config = {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}}
        r = user.put(f"{base}/flags/{FLAG}/environments/production", json=config)
        assert r.status_code == 200, r.text
        r = user.post(
            f"{base}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
        )
        assert r.status_code == 201, r.text
        yield Flags(server.url, user, base, r.json()["key"])
        user.close()
    finally:
        server.stop()


def example_env(flags: Flags, **extra: str) -> dict[str, str]:
    """The environment an example runs with: the server's URL and key, and nothing of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAUNCHSEQ_", "PYTEST"))}
    return {**env, "LAUNCHSEQ_URL": flags.url, "LAUNCHSEQ_SERVER_KEY": flags.key, **extra}


class Process:
    """A server of an example (gunicorn, uvicorn, a Celery worker) started in its directory,
    with its output in a log file; stopped with SIGTERM (SIGKILL if it lingers)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return self.process.returncode


class HttpExample(Process):
    """An example served over HTTP on a free loopback port."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        super().__init__([a.format(port=self.port) for a in args], cwd, env, log)

    def get(self, query: str = "?user=u1") -> dict[str, Any] | None:
        """One request on its own connection (so that any worker may take it)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", f"/{query}")
            response = connection.getresponse()
            body = response.read()
            return json.loads(body) if response.status == 200 else None
        except OSError:
            return None  # not listening yet
        finally:
            connection.close()


def poll(
    ask: Callable[[], dict[str, Any] | None],
    want: Callable[[dict[str, Any]], bool],
    timeout: float,
    process: Process,
) -> list[dict[str, Any]]:
    """Ask until an answer satisfies `want`; answers every answer seen (the last one matching).
    Bounded: fails with the example's log after `timeout` seconds."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        assert process.process.poll() is None, f"the example exited:\n{process.log()}"
        answer = ask()
        if answer is not None:
            seen.append(answer)
            if want(answer):
                return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer matched; last {seen[-3:]}; log:\n{process.log()}")
        time.sleep(0.02)


@pytest.fixture
def started() -> Iterator[list[Process]]:
    """The processes a test starts, each stopped at its end."""
    processes: list[Process] = []
    yield processes
    for process in processes:
        process.stop()
