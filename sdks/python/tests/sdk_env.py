"""Setting up an environment through the admin API, as a user would, for the SDK's tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import ApiUser, signup

BOOL = {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}}


@dataclass
class Env:
    url: str
    user: ApiUser
    base: str  # /api/v1/orgs/{org}/projects/default
    key: str  # the production environment's server key

    def make_flag(self, key: str, config: dict[str, Any] | None = None, **fields: Any) -> None:
        r = self.user.post(f"{self.base}/flags", json={"key": key, **fields})
        assert r.status_code == 201, r.text
        if config is not None:
            self.configure(key, config)

    def configure(self, key: str, config: dict[str, Any]) -> None:
        path = f"{self.base}/flags/{key}/environments/production"
        write = self.user.put if "fallthrough" in config else self.user.patch
        r = write(path, json=config)
        assert r.status_code == 200, r.text

    def toggle(self, key: str, on: bool) -> None:
        self.configure(key, {"on": on})

    def rotate_key(self) -> str:
        body = {"kind": "server", "grace_seconds": 0}
        r = self.user.post(f"{self.base}/environments/production/sdk-keys", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


def setup_env(url: str, email: str) -> Env:
    user = signup(url, email)
    env = Env(url, user, f"/api/v1/orgs/{user.org}/projects/default", "")
    env.key = env.rotate_key()
    return env


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {message}")
        time.sleep(0.01)


#: One flag of each type and each way of being decided, for the evaluation tests.
def make_catalog(env: Env) -> None:
    env.make_flag("dark", {"on": False, "off_variation": 1, "fallthrough": {"variation": 0}})
    env.make_flag(
        "checkout",
        {"on": True, "off_variation": 1,
         "targets": [{"variation": 0, "values": ["vip-1"]}],
         "rules": [{"id": "eu", "clauses": [{"attribute": "country", "op": "in",
                                             "values": ["DE"]}],
                    "serve": {"variation": 0}}],
         "fallthrough": {"variation": 1}},
        client_side=True,
    )  # fmt: skip
    env.make_flag(
        "theme",
        {"on": True, "off_variation": 0,
         "fallthrough": {"rollout": {"weights": [{"variation": 0, "weight": 50_000},
                                                 {"variation": 1, "weight": 50_000}]}}},
        type="string",
        variations=[{"value": "light", "name": "Light"}, {"value": "dark", "name": "Dark"}],
    )  # fmt: skip
    env.make_flag(
        "limit",
        {"on": True, "off_variation": 0, "fallthrough": {"variation": 1},
         "targets": [{"variation": 2, "values": ["u-3"]}]},
        type="number", variations=[{"value": 10}, {"value": 2.5}, {"value": 7}],
    )  # fmt: skip
    env.make_flag(
        "layout",
        {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}},
        type="json", variations=[{"value": {"cols": 1}}, {"value": {"cols": 3}}],
    )  # fmt: skip


class ServerProcess:
    """A real `launchseq serve` process on one port and data directory: it can be killed and
    started again there (`live` runs in the test's process and cannot come back)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # One process (the default is one worker per CPU): the pid killed here is the server.
        env = {**os.environ, "LAUNCHSEQ_DATA_DIR": str(self.data_dir), "LAUNCHSEQ_WORKERS": "1"}
        env.pop("LAUNCHSEQ_DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "launchsequence", "serve", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60  # a loaded machine starts slowly
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, "the server exited"
            if time.monotonic() > deadline:
                self.kill()  # never leave a server behind the failed test
                raise AssertionError("the server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
