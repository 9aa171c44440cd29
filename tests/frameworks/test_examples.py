"""The Python framework examples (examples/python/) under their real servers, against one live
Launch Sequence server: Flask under gunicorn (sync workers, two of them, with and without
`--preload`), Django under gunicorn --preload, FastAPI under uvicorn, and a Celery worker (prefork
pool) on the Redis broker of this machine. Each first serves the flag as it is; the test turns
the flag off at the server and every worker answers the change within a second. Then each
example's own test suite (TestData, no server) passes with pytest, as its README says."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.frameworks.conftest import (
    BIN,
    EXAMPLES,
    Flags,
    HttpExample,
    Process,
    example_env,
    poll,
)

STARTUP = 60.0  # seconds for a server to start on a loaded machine
CHANGE = 1.0  # what the issue asks: a change is served within a second
REDIS = "redis://127.0.0.1:6379"

# gunicorn's control socket is one per machine by default: tests run side by side without it.
GUNICORN = [str(BIN / "gunicorn"), "--bind", "127.0.0.1:{port}", "--workers", "2",
            "--worker-class", "sync", "--graceful-timeout", "5", "--no-control-socket"]  # fmt: skip
SERVERS = {
    "flask": [*GUNICORN, "app:create_app()"],
    "flask --preload": [*GUNICORN, "--preload", "app:create_app()"],
    "django --preload": [*GUNICORN, "--preload", "shop.wsgi"],
    "fastapi": [str(BIN / "uvicorn"), "app:app", "--host", "127.0.0.1", "--port", "{port}"],
}


def workers_until(
    example: HttpExample, workers: int, want: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[int, dict[str, Any]]:
    """Bursts of concurrent requests (so that every worker takes some) until `workers`
    processes have answered and the latest answer of each satisfies `want`."""
    latest: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(4) as pool:
        while True:
            assert example.process.poll() is None, f"the server exited:\n{example.log()}"
            for answer in pool.map(lambda _: example.get(), range(4)):
                if answer is not None:
                    latest[answer["pid"]] = answer
            if len(latest) >= workers and all(want(a) for a in latest.values()):
                return latest
            if time.monotonic() > deadline:
                raise AssertionError(f"latest answers {latest}; log:\n{example.log()}")


def new(answer: dict[str, Any]) -> bool:
    return answer["checkout"] == "new" and answer["reason"] == "STATIC"


def classic(answer: dict[str, Any]) -> bool:
    return answer["checkout"] == "classic" and answer["reason"] == "DISABLED"


@pytest.mark.slow
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_each_web_example_serves_a_change_within_a_second(
    server: str, flags: Flags, started: list[Process], tmp_path: Path
) -> None:
    flags.toggle(True)
    directory = EXAMPLES / server.split()[0]
    example = HttpExample(SERVERS[server], directory, example_env(flags), tmp_path / "server.log")
    started.append(example)
    workers = 1 if server == "fastapi" else 2

    before = workers_until(example, workers, new, STARTUP)
    if workers > 1:
        assert example.process.pid not in before, "the answers come from the workers"

    flags.toggle(False)
    after = workers_until(example, workers, classic, CHANGE)
    # The same workers followed the change by themselves; with --preload, each was forked from
    # a master that had built the client (and streams again by the SDK's fork hook).
    assert set(after) == set(before)

    # uvicorn raises the SIGTERM again once it has shut down cleanly, as its own exit status
    assert example.stop() in (0, -signal.SIGTERM), f"a clean shutdown:\n{example.log()}"
    if server == "fastapi":
        assert "Application shutdown complete" in example.log(), "the lifespan closed the client"


@pytest.mark.slow
def test_the_celery_worker_serves_a_change_within_a_second(
    flags: Flags, started: list[Process], tmp_path: Path
) -> None:
    from celery import Celery

    flags.toggle(True)
    queue = f"flags-example-{uuid.uuid4().hex}"  # this test's own queue on the shared broker
    env = example_env(flags, CELERY_BROKER_URL=f"{REDIS}/0", CELERY_RESULT_BACKEND=f"{REDIS}/1",
                      CELERY_QUEUE=queue)  # fmt: skip
    worker = Process(
        [str(BIN / "celery"), "-A", "tasks", "worker", "--pool", "prefork", "--concurrency", "2",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--hostname", f"{queue}@127.0.0.1"],
        EXAMPLES / "celery", env, tmp_path / "worker.log",
    )  # fmt: skip
    started.append(worker)
    producer = Celery(broker=f"{REDIS}/0", backend=f"{REDIS}/1")

    def ask() -> dict[str, Any] | None:
        """Four tasks sent at once (both pool processes take some): one answer, `checkout`
        the one they agree on, else "mixed"; `pids` the processes that ran them."""
        sent = [producer.send_task("tasks.checkout_for", args=["u1"], queue=queue)
                for _ in range(4)]  # fmt: skip
        answers = [r.get(timeout=STARTUP) for r in sent]
        agreed = {(a["checkout"], a["reason"]) for a in answers}
        checkout, reason = agreed.pop() if len(agreed) == 1 else ("mixed", "")
        return {"checkout": checkout, "reason": reason, "pids": {a["pid"] for a in answers}}

    poll(ask, new, STARTUP, worker)
    flags.toggle(False)
    seen = poll(ask, classic, CHANGE, worker)
    assert worker.process.pid not in seen[-1]["pids"], "the pool processes ran the tasks"
    assert worker.stop() == 0, f"a clean (warm) shutdown:\n{worker.log()}"
    producer.close()


@pytest.mark.parametrize("example", ["celery", "django", "fastapi", "flask"])
def test_each_examples_own_tests_pass_with_test_data(example: str) -> None:
    env = example_env_without_server()
    run = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLES / example, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout, run.stdout


def example_env_without_server() -> dict[str, str]:
    """The environment of a user's test run: no Launch Sequence server, no key."""
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("LAUNCHSEQ_", "PYTEST"))}
