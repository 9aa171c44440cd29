"""The client under a pre-forking server: real gunicorn, `--preload`, two workers, a Flask and a
Django application that build their client at import (in the master, before the fork), against
a real `launchseq serve` process. Both workers follow a change within a second, and answer
STALE (with `is_stale`, the OpenFeature provider's status and a log line from each worker)
when they stop being kept current: the server killed, the key refused."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sdk_env import BOOL, Env, setup_env

from tests.support.live import free_port

APPS = Path(__file__).parent / "prefork"
TARGETS = {"flask": "flask_app:app", "django": "django_app:application"}


class Gunicorn:
    """`gunicorn --preload -w 2` serving one of the applications on 127.0.0.1."""

    def __init__(self, target: str, env: Env, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        environ = {**os.environ, "LS_URL": env.url, "LS_KEY": env.key}
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "--workers", "2",
             "--bind", f"127.0.0.1:{self.port}", "--chdir", str(APPS),
             "--graceful-timeout", "2", "--timeout", "60", target],
            env=environ, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ask(self) -> dict[str, Any] | None:
        """One request on its own connection (so that either worker may take it)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", "/flag?hold=0.02")
            response = connection.getresponse()
            body = response.read()
            return json.loads(body) if response.status == 200 else None
        except OSError:
            return None  # not listening yet
        finally:
            connection.close()

    def answers(self) -> dict[int, dict[str, Any]]:
        """A burst of concurrent requests: each busy worker leaves the next one to the other."""
        with ThreadPoolExecutor(6) as pool:
            found = [a for a in pool.map(lambda _: self.ask(), range(6)) if a is not None]
        return {a["pid"]: a for a in found}

    def until_both(self, predicate: Any, timeout: float, message: str) -> dict[int, Any]:
        """Poll until both workers have answered something that satisfies `predicate` (each
        worker's latest answer counts); answers them."""
        latest: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, self.log()
            latest.update(self.answers())
            if len(latest) == 2 and all(predicate(a) for a in latest.values()):
                return latest
            if time.monotonic() > deadline:
                raise AssertionError(f"{message}: latest answers {latest}; log:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def environment(server) -> Env:
    env = setup_env(server.url, "prefork@example.com")
    env.make_flag("banner", BOOL)
    return env


@pytest.fixture(params=sorted(TARGETS))
def workers(request, environment, tmp_path) -> Iterator[Gunicorn]:
    app = Gunicorn(TARGETS[request.param], environment, tmp_path / "gunicorn.log")
    try:
        yield app
    finally:
        app.stop()


def live(answer: dict[str, Any], value: bool, reason: str) -> bool:
    return (answer["value"], answer["reason"], answer["is_stale"], answer["provider_status"]) == (
        value, reason, False, "READY")  # fmt: skip


def stale(answer: dict[str, Any], value: bool, status: str) -> bool:
    return (answer["value"], answer["reason"], answer["is_stale"], answer["provider_status"]) == (
        value, "STALE", True, status)  # fmt: skip


def worker_lines(log: str, pids: Any, pattern: str) -> dict[int, list[str]]:
    """The log lines matching `pattern` that each worker wrote."""
    return {pid: [ln for ln in log.splitlines() if ln.startswith(f"pid={pid} ")
                  and re.search(pattern, ln)] for pid in pids}  # fmt: skip


def test_both_workers_follow_changes_and_go_stale_with_the_server(server, environment, workers):
    before = workers.until_both(lambda a: live(a, True, "STATIC"), 60.0, "both workers up")
    assert workers.process.pid not in before, "answers come from the forked workers"

    started = time.monotonic()
    environment.toggle("banner", False)
    workers.until_both(lambda a: live(a, False, "DISABLED"), 10.0, "both workers see the change")
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"both workers saw the change {elapsed:.2f} s after it"

    server.kill()
    down = workers.until_both(lambda a: stale(a, False, "STALE"), 10.0, "both workers stale")
    lines = worker_lines(
        workers.log(), down, r"WARNING launchsequence_sdk: .*connection to the server failed"
    )
    assert all(lines.values()), f"each worker logs the lost connection: {lines}"

    server.start()
    workers.until_both(lambda a: live(a, False, "DISABLED"), 15.0, "both workers live again")
    # A restarted server builds its admin API on the first request to it (about a second of
    # CPU, docs/benchmarks.md): that is the API starting, not delivery, which is timed below.
    assert environment.user.get(f"{environment.base}/flags/banner").status_code == 200
    started = time.monotonic()
    environment.toggle("banner", True)
    workers.until_both(lambda a: live(a, True, "STATIC"), 10.0, "and following changes")
    assert time.monotonic() - started < 1.0


def test_both_workers_answer_stale_once_the_key_is_refused(environment, workers):
    answers = workers.until_both(lambda a: live(a, True, "STATIC"), 60.0, "both workers up")
    environment.rotate_key()  # grace 0: the workers' key stops at once, their streams close
    refused = workers.until_both(lambda a: stale(a, True, "ERROR"), 10.0, "both workers refused")
    assert not any(a["is_ready"] for a in refused.values())
    assert set(refused) == set(answers), "the same two workers"
    lines = worker_lines(workers.log(), refused, r"ERROR launchsequence_sdk: .*refused")
    assert all(len(found) == 1 for found in lines.values()), f"one error per worker: {lines}"
