"""A `launchseq serve` process for fault tests: started, killed and restarted on one store."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.live import free_port
from tests.support.procs import end

LAUNCHSEQ = [sys.executable, "-m", "launchsequence"]
SECRET = "fault-test-secret"
PROXIES = ("http_proxy", "https_proxy", "all_proxy")  # loopback must not go through one


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server process: no proxy, no inherited LAUNCHSEQ_* settings, and
    one process (LAUNCHSEQ_WORKERS=1, see tests/conftest.py): the pid a test starts is the one
    that serves. A test that wants workers passes LAUNCHSEQ_WORKERS in `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LAUNCHSEQ_")
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update({"LAUNCHSEQ_DATA_DIR": str(data_dir), "LAUNCHSEQ_LOG_LEVEL": "warning",
                "LAUNCHSEQ_WORKERS": "1"})  # fmt: skip
    env.update(extra)
    return env


class ServerProcess:
    """`launchseq serve` on a free port; the same data directory and database across restarts."""

    def __init__(
        self,
        workdir: Path,
        database_url: str = "",
        *,
        nofile: tuple[int, int] | None = None,
        **env: str,
    ) -> None:
        self.workdir = workdir
        self.nofile = nofile  # (soft, hard) open-file limit the process starts with
        self.data_dir = workdir / "data"
        self.database_url = database_url
        self.env = env
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, port: int = 0) -> ServerProcess:
        """Start it, on `port` if given (a restart where clients know the old address)."""
        self.port = port or free_port()
        args = [*LAUNCHSEQ, "serve", "--port", str(self.port)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        env = clean_env(self.data_dir, LAUNCHSEQ_SECRET_KEY=SECRET, **self.env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=self._limit
            )
        deadline = time.monotonic() + 60  # a loaded machine starts slowly
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()  # never leave a server behind the failed test
                raise AssertionError(f"the server did not become ready:\n{self.log_tail()}")
            time.sleep(0.05)

    def _limit(self) -> None:
        """In the child before exec: the open-file limit it was asked to start with."""
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean shutdown: what it holds is written), then reap; SIGKILL past
        `timeout`."""
        process, self.process = self.process, None
        if process is not None:
            end(process, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, then reap."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class EdgeProcess:
    """`launchseq edge` on a free port, fed by `upstream`; the same data directory across
    restarts (its id and its disk snapshot live there)."""

    def __init__(self, workdir: Path, upstream: str, key: str, *, name: str = "", **env: str):
        self.workdir = workdir
        self.data_dir = workdir / "edge-data"
        self.upstream = upstream
        self.key = key
        self.name = name
        self.env = env
        self.log_path = workdir / "edge.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready: bool = True) -> EdgeProcess:
        """Start it; with `ready`, wait until /readyz answers 200, else until it answers."""
        self.port = free_port()
        args = [*LAUNCHSEQ, "edge", "--upstream", self.upstream, "--port", str(self.port)]
        if self.name:
            args += ["--name", self.name]
        # The key through the environment: a command line is readable by every local user.
        env = clean_env(self.data_dir, LAUNCHSEQ_RELAY_KEY=self.key, **self.env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the edge exited at start:\n{self.log_tail()}")
            try:
                status = httpx.get(f"{self.url}/readyz", timeout=2).status_code
                if status == 200 or not ready:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the edge did not become ready:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean shutdown: it forwards what it counted), then reap; SIGKILL past
        `timeout`."""
        process, self.process = self.process, None
        if process is not None:
            end(process, timeout=timeout)

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
