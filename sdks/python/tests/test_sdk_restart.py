"""The server process killed and started again (real `launchseq serve`, same port, same SQLite
directory): the client keeps serving while it is down, then reconnects and catches up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from launchsequence_sdk import Client
from sdk_env import BOOL, setup_env, wait_for

from tests.support.live import free_port

ANYONE = {"key": "u-1"}


class ServerProcess:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(self.data_dir)}
        env.pop("LAUNCHSEQ_DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "launchsequence", "serve", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", free_port())
    process.start()
    yield process
    process.kill()


def test_server_killed_and_restarted(server):
    env = setup_env(server.url, "restart@example.com")
    env.make_flag("banner", BOOL)
    with Client(env.key, base_url=server.url, initial_reconnect_delay=0.1,
                max_reconnect_delay=0.5) as client:  # fmt: skip
        assert client.wait_until_ready(5)
        version = client.version
        changes: list[str] = []
        client.on_change(changes.append)

        server.kill()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # down: the last values, no error, no waiting
            started = time.monotonic()
            details = client.bool_details("banner", ANYONE, False)
            assert (details.value, details.reason) == (True, "DEFAULT")
            assert time.monotonic() - started < 0.01
            time.sleep(0.05)

        server.start()
        env.toggle("banner", False)  # the session is in the database: it survived the restart
        wait_for(lambda: client.bool_value("banner", ANYONE, True) is False, 5.0, "catch up")
        assert changes == ["banner"]
        assert client.version is not None and version is not None and client.version > version
        assert client.bool_details("banner", ANYONE, True).reason == "DISABLED"
