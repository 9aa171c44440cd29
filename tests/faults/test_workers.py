"""`launchseq serve --workers 2`: real processes on one port, on SQLite and on PostgreSQL.

Which worker a connection landed on is read from /proc (tests/support/procs.py): the worker
holding the server side of the client's socket. The version check is set to 300 s, so only
the change feed between workers (datagrams on SQLite, LISTEN/NOTIFY on PostgreSQL) can carry a
change from one worker to the other within the waits below.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.support import LAUNCHSEQ, ServerProcess, clean_env
from tests.support.api import signup
from tests.support.databases import postgres_database
from tests.support.live import free_port
from tests.support.procs import alive, children, holder_of
from tests.support.sse import HEARTBEAT, read_events

pytestmark = pytest.mark.slow

WAIT = 20.0  # the bound of every wait for a condition, in seconds
ENV = "production"
SETTINGS = {
    "LAUNCHSEQ_WORKERS": "2",
    "LAUNCHSEQ_SSE_HEARTBEAT_SECONDS": "1",
    "LAUNCHSEQ_VERSION_CHECK_SECONDS": "300",
    "LAUNCHSEQ_STREAM_RECHECK_SECONDS": "300",
}


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f}s")
        time.sleep(0.05)


class Subscriber:
    """A server-stream subscriber on a thread, reconnecting after 0.2 s until closed; it notes
    the local port of each connection and every flag's `on` as patches arrive."""

    def __init__(self, url: str, key: str) -> None:
        self.url = f"{url}/sdk/v1/stream?schema=2"
        self.key = key
        self.ports: list[int] = []
        self.on: dict[str, bool] = {}
        self.puts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Subscriber:
        self._thread.start()
        wait_until(lambda: self.puts, f"a first put on {self.url}")
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=WAIT)

    def flag_on(self, key: str) -> bool | None:
        with self._lock:
            return self.on.get(key)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                self._read()
            self._stop.wait(0.2)

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=5.0)) as client,
            client.stream("GET", self.url, headers=headers) as response,
        ):
            if response.status_code != 200:
                return
            sock = response.extensions["network_stream"].get_extra_info("socket")
            with self._lock:
                self.ports.append(int(sock.getsockname()[1]))
            for event in read_events(response.iter_lines(), self._stop):
                if event is HEARTBEAT:
                    continue
                name, _, data = event
                with self._lock:
                    if name == "put":
                        self.puts += 1
                        self.on = {k: f["on"] for k, f in data["flags"].items()}
                    elif name == "patch" and data["kind"] == "flag":
                        self.on[data["key"]] = data["flag"]["on"]


class Pinned:
    """An HTTP client whose one kept-alive connection is served by a known worker."""

    def __init__(self, url: str, token: str, server_key: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10,
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        self.server_key = server_key
        self.port = 0

    def touch(self) -> None:
        with self.http.stream("GET", "/healthz") as response:
            sock = response.extensions["network_stream"].get_extra_info("socket")
            self.port = int(sock.getsockname()[1])
            response.read()

    def evaluate(self) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {self.server_key}"}
        response = self.http.post(
            "/sdk/v1/evaluate", json={"context": {"key": "someone"}}, headers=auth
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def evaluations(self) -> float:
        text = self.http.get("/metrics").text
        return sum(float(v) for v in re.findall(r"^launchseq_evaluations_total\{[^}]*\} (\S+)$",
                                                 text, re.M))  # fmt: skip


class Deployment:
    """A `--workers 2` server with a user, a flag, a server SDK key and an API token."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        assert server.process is not None
        self.master = server.process.pid
        user = signup(server.url, "workers@example.com")
        self.base = f"/api/v1/orgs/{user.org}/projects/default"
        with contextlib.closing(user):
            made = user.post(f"{self.base}/flags", json={"key": "beta"})
            assert made.status_code == 201, made.text
            key = user.post(f"{self.base}/environments/{ENV}/sdk-keys",
                            json={"kind": "server", "grace_seconds": 0})  # fmt: skip
            assert key.status_code == 201, key.text
            token = user.post("/api/v1/tokens", json={"name": "workers"})
            assert token.status_code == 201, token.text
        self.server_key = key.json()["key"]
        self.token = token.json()["token"]

    def workers(self) -> list[int]:
        return children(self.master)

    def worker_of(self, port: int) -> int | None:
        return holder_of(self.workers(), self.server.port, port)

    def pinned_to_each(self) -> dict[int, Pinned]:
        """One pinned client per worker (connections are opened until both have one)."""
        found: dict[int, Pinned] = {}
        for _ in range(60):
            pinned = Pinned(self.server.url, self.token, self.server_key)
            pinned.touch()
            pid = self.worker_of(pinned.port)
            if pid is not None and pid not in found:
                found[pid] = pinned
            else:
                pinned.http.close()
            if len(found) == 2:
                return found
        raise AssertionError("60 connections all landed on one worker")

    def toggle(self, client: Pinned, on: bool) -> None:
        response = client.http.patch(f"{self.base}/flags/beta/environments/{ENV}",
                                     json={"on": on})  # fmt: skip
        assert response.status_code == 200, response.text


@contextlib.contextmanager
def deployment(tmp_path: Path, database: str) -> Iterator[Deployment]:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_database()) if database == "postgresql" else ""
        tmp_path.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(tmp_path, url, **SETTINGS)
        stack.callback(server.kill)
        server.start()
        assert len(children(server.process.pid)) == 2  # type: ignore[union-attr]
        yield Deployment(server)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_workers_serve_as_one(tmp_path: Path, database: str) -> None:
    with deployment(tmp_path, database) as d:
        subscribers: list[Subscriber] = []
        pinned: dict[int, Pinned] = {}
        try:
            # Streams on both workers (the kernel spreads connections over them).
            for _ in range(40):
                subscribers.append(Subscriber(d.server.url, d.server_key).start())
                held = {d.worker_of(s.ports[-1]) for s in subscribers}
                if len(subscribers) >= 6 and held == set(d.workers()):
                    break
            on_worker = {pid: [s for s in subscribers if d.worker_of(s.ports[-1]) == pid]
                         for pid in d.workers()}  # fmt: skip
            assert all(on_worker.values()), f"streams all on one worker: {on_worker}"

            # A toggle through either worker reaches every subscriber of both, and both
            # workers answer evaluations with it.
            pinned = d.pinned_to_each()
            state = False
            for writer in [*pinned.values(), *pinned.values()]:
                state = not state
                d.toggle(writer, state)
                wait_until(lambda want=state: all(s.flag_on("beta") is want for s in subscribers),
                           f"beta={state} at every subscriber")  # fmt: skip
                answers = [p.evaluate()["flags"]["beta"]["value"] for p in pinned.values()]
                assert answers == [state, state]

            # /metrics, whichever worker answers, counts the evaluations of both exactly.
            first, second = pinned.values()
            before = first.evaluations()
            assert second.evaluations() == before
            for _ in range(7):
                first.evaluate()
            for _ in range(5):
                second.evaluate()
            assert first.evaluations() == second.evaluations() == before + 12

            # A worker killed outright is started again; its streams reconnect and hear the
            # next change, made through the other worker.
            victim = next(iter(pinned))
            survivor_client = pinned[next(p for p in pinned if p != victim)]
            cut = on_worker[victim]
            connections = {id(s): len(s.ports) for s in cut}
            os.kill(victim, signal.SIGKILL)
            wait_until(lambda: len(d.workers()) == 2 and victim not in d.workers(),
                       "a new worker in place of the killed one")  # fmt: skip
            wait_until(lambda: all(len(s.ports) > connections[id(s)] for s in cut),
                       "every cut stream reconnected")  # fmt: skip
            state = not state
            d.toggle(survivor_client, state)
            wait_until(lambda: all(s.flag_on("beta") is state for s in subscribers),
                       f"beta={state} at every subscriber after the restart")  # fmt: skip
            assert "restarting it" in d.server.log_tail(200)
        finally:
            for s in subscribers:
                s.close()
            for p in pinned.values():
                p.http.close()

        # SIGTERM to the master: every worker drains and the master exits 0.
        workers = d.workers()
        process = d.server.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not [pid for pid in workers if alive(pid)]


class Watched:
    """A stream read on a thread until it ends: its local port, and whether it ended."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.client = client
        self.path = path
        self.port = 0
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.status = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            with self.client.stream("GET", self.path) as response:
                sock = response.extensions["network_stream"].get_extra_info("socket")
                self.port = int(sock.getsockname()[1])
                self.status = response.status_code
                self.opened.set()
                for _ in response.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.ended.set()


def test_a_rotated_key_and_a_logout_reach_every_worker(tmp_path: Path) -> None:
    """The SQLite feed carries SDK key changes and ended sessions too (with the version check
    and the dashboard streams' own recheck both at 300 s, only it can end these in time)."""
    with deployment(tmp_path, "sqlite") as d:
        url = d.server.url
        login = httpx.Client(base_url=url, timeout=10)
        credentials = {"email": "workers@example.com", "password": "correct horse"}
        body = login.post("/api/v1/auth/login", json=credentials)
        assert body.status_code == 200, body.text
        org = body.json()["organizations"][0]["key"]
        watched: list[Watched] = []
        clients: list[httpx.Client] = []
        pinned: dict[int, Pinned] = {}
        try:
            # Dashboard live-update streams of one session, and SDK streams of the old key,
            # on both workers.
            for _ in range(40):
                client = httpx.Client(base_url=url, cookies=login.cookies,
                                      timeout=httpx.Timeout(10.0, read=None))  # fmt: skip
                clients.append(client)
                w = Watched(client, f"/ui/events?org={org}&project=default")
                assert w.opened.wait(WAIT) and w.status == 200
                watched.append(w)
                if {d.worker_of(x.port) for x in watched} == set(d.workers()):
                    break
            assert {d.worker_of(x.port) for x in watched} == set(d.workers())
            subscribers = [Subscriber(url, d.server_key).start() for _ in range(6)]
            pinned = d.pinned_to_each()

            # A rotation with no grace through one worker: the old key stops at both.
            rotated = next(iter(pinned.values())).http.post(
                f"{d.base}/environments/{ENV}/sdk-keys", json={"kind": "server", "grace_seconds": 0}
            )
            assert rotated.status_code == 201, rotated.text
            old = {"Authorization": f"Bearer {d.server_key}"}

            def refused_everywhere() -> bool:
                return all(p.http.post("/sdk/v1/evaluate", json={"context": {"key": "k"}},
                                       headers=old).status_code == 401
                           for p in pinned.values())  # fmt: skip

            wait_until(refused_everywhere, "the old key refused by both workers", timeout=5)
            for s in subscribers:
                s.close()

            # Log-out through one worker ends the session's streams on both.
            logout = login.post(
                "/api/v1/auth/logout", headers={"X-CSRF-Token": body.json()["csrf_token"]}
            )
            assert logout.status_code == 204, logout.text
            wait_until(lambda: all(w.ended.is_set() for w in watched),
                       "the end of every stream of the session", timeout=5)  # fmt: skip
        finally:
            for client in clients:
                client.close()
            for p in pinned.values():
                p.http.close()
            login.close()


def test_workers_end_with_a_killed_master(tmp_path: Path) -> None:
    with deployment(tmp_path, "sqlite") as d:
        workers = d.workers()
        subscriber = Subscriber(d.server.url, d.server_key).start()
        try:
            d.server.kill()  # SIGKILL: the master has no say
            wait_until(lambda: not [pid for pid in workers if alive(pid)],
                       "the end of every worker")  # fmt: skip
        finally:
            subscriber.close()


def test_a_second_server_on_the_same_port_is_refused(tmp_path: Path) -> None:
    with deployment(tmp_path / "first", "sqlite") as d:
        env = clean_env(tmp_path / "second", LAUNCHSEQ_WORKERS="2")
        second = subprocess.run(
            [*LAUNCHSEQ, "serve", "--port", str(d.server.port)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 3
        assert f"cannot listen on 127.0.0.1:{d.server.port}" in second.stderr
        assert httpx.get(f"{d.server.url}/healthz", timeout=10).status_code == 200


def test_a_wrong_worker_count_is_refused(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, LAUNCHSEQ_WORKERS="many")
    with pytest.raises(AssertionError, match="LAUNCHSEQ_WORKERS must be 'auto' or a whole"):
        server.start()


CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")


@contextlib.contextmanager
def cpu_quota_group(name: str, cpus: float) -> Iterator[Path]:
    """A cgroup v1 `cpu` group holding its processes to `cpus` CPUs (a CFS quota), as
    `docker run --cpus` does; skips where one cannot be made (not root, or cgroup v2 only).
    Processes still in it at the end go back to the root group before it is removed."""
    if not (CGROUP_V1_CPU / "cpu.cfs_quota_us").exists() or not os.access(CGROUP_V1_CPU, os.W_OK):
        pytest.skip("needs a writable cgroup v1 cpu controller (root)")
    group = CGROUP_V1_CPU / name
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
        yield group
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # it ended meanwhile
                (CGROUP_V1_CPU / "cgroup.procs").write_text(pid)
        group.rmdir()


def test_the_default_serves_from_one_process_under_a_one_cpu_quota(tmp_path: Path) -> None:
    """`docker run --cpus=1` on a bigger host: every core is in the affinity, but the quota
    allows one CPU of time. The default ('auto') then serves from one process, no master, and
    the startup line says why."""
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: one process whatever the quota")
    with cpu_quota_group(f"launchseq-test-{os.getpid()}", 1.0) as group:
        env = clean_env(tmp_path / "data")
        del env["LAUNCHSEQ_WORKERS"]  # the default
        port = free_port()
        log_path = tmp_path / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*LAUNCHSEQ, "serve", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
            )  # fmt: skip
        try:
            wait_until(lambda: healthy(f"http://127.0.0.1:{port}") or process.poll() is not None,
                       "answer to /healthz", timeout=60)  # fmt: skip
            printed = log_path.read_text()
            assert process.poll() is None, printed
            assert (f"listening on http://127.0.0.1:{port} (one process; auto: {cores} cores "
                    "available, cgroup CPU quota 1)") in printed  # fmt: skip
            assert children(process.pid) == [], "no workers: the process started serves"
            process.terminate()  # drained, then ended by the SIGTERM, as uvicorn does
            assert process.wait(timeout=30) == -signal.SIGTERM
        finally:
            process.kill()  # only if it is still there
            process.wait(timeout=10)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
