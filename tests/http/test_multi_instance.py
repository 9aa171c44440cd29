"""Several `launchseq serve` processes on one PostgreSQL database, as a scaled installation runs.

Real processes (not threads in the test's interpreter), one fresh database per test, a real SSE
client per subscriber. What must hold: a change made through any instance reaches the
subscribers of every other instance within a second; an instance that restarts, or whose
LISTEN connection is cut, catches up; and after racing writes through every instance, every
subscriber has rebuilt exactly the snapshot the database holds.
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from tests.support.api import ApiUser, signup
from tests.support.databases import postgres_admin_url, postgres_database
from tests.support.live import free_port
from tests.support.procs import end
from tests.support.sse import HEARTBEAT, read_events, server_state

LAUNCHSEQ = [sys.executable, "-m", "launchsequence"]
SECRET = "multi-instance-test-secret"
WAIT = 10.0  # the bound of every wait in this file, in seconds
ENV_PATH = "environments/production"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback traffic must never go through a proxy configured in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


# --- processes ---------------------------------------------------------------------------


class Instance:
    """One `launchseq serve` process; `name` is also its PostgreSQL application_name."""

    def __init__(self, name: str, database_url: str, workdir: Path) -> None:
        self.name = name
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = workdir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def app_name(self) -> str:
        return f"launchseq-test-{self.name}"

    def launch(self) -> None:
        env = {
            **os.environ,
            "LAUNCHSEQ_SECRET_KEY": SECRET,
            "LAUNCHSEQ_DATA_DIR": str(self.data_dir),
            "LAUNCHSEQ_VERSION_CHECK_SECONDS": "1",
            "LAUNCHSEQ_SSE_HEARTBEAT_SECONDS": "1",
            "LAUNCHSEQ_LOG_LEVEL": "warning",
            # libpq reads it: every connection of this process is recognizable in
            # pg_stat_activity, the LISTEN one included.
            "PGAPPNAME": self.app_name,
        }
        env.pop("LAUNCHSEQ_DATABASE_URL", None)
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [*LAUNCHSEQ, "serve", "--port", str(self.port),
                 "--database-url", self.database_url],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not become ready:\n{self.log_tail()}")
            time.sleep(0.05)

    def start(self) -> Instance:
        self.launch()
        self.wait_ready()
        return self

    def stop(self) -> float:
        """SIGTERM, as a supervisor restarting it would; SIGKILL if it lingers. Seconds taken."""
        started = time.monotonic()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return 0.0
        end(process, timeout=WAIT)
        return time.monotonic() - started

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Cluster:
    database_url: str
    db: Engine
    instances: list[Instance]
    user: ApiUser
    server_key: str

    @property
    def base(self) -> str:
        return f"/api/v1/orgs/{self.user.org}/projects/default"

    def client(self, instance: Instance) -> httpx.Client:
        """An admin API client on `instance`, on the user's session (cookie and CSRF)."""
        return httpx.Client(
            base_url=instance.url,
            cookies=self.user.http.cookies,
            headers={"X-CSRF-Token": self.user.csrf},
            timeout=30,
        )

    def env_version(self) -> int:
        with self.db.connect() as conn:
            return int(
                conn.execute(text("SELECT version FROM environments WHERE key = 'production'"))
                .scalar_one()
            )  # fmt: skip

    def listeners(self, instance: Instance) -> set[int]:
        """The backend pids of `instance`'s LISTEN connections."""
        with self.db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = :app AND query ILIKE 'LISTEN%'"
                ),
                {"app": instance.app_name},
            )
            return {int(r.pid) for r in rows}

    @contextlib.contextmanager
    def refusing_connections(self) -> Iterator[None]:
        """No new connection to the database (from the administration database: PostgreSQL
        does not let a session refuse its own); connections already open go on working."""
        admin = create_engine(
            postgres_admin_url().replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        name = self.db.url.database
        try:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            try:
                yield
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        finally:
            admin.dispose()

    def terminate_backends(self, pids: set[int]) -> None:
        with self.db.connect() as conn:
            for pid in pids:  # and wait (up to 5 s) until the backend is gone
                conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            conn.commit()

    def sdk_snapshot(self, instance: Instance) -> dict[str, Any]:
        response = httpx.get(
            f"{instance.url}/sdk/v1/snapshot?schema=2",
            headers={"Authorization": f"Bearer {self.server_key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def admin_snapshot(self, instance: Instance) -> dict[str, Any]:
        with self.client(instance) as client:
            response = client.get(f"{self.base}/{ENV_PATH}/snapshot")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def evaluate(self, instance: Instance, flag: str) -> dict[str, Any]:
        response = httpx.post(
            f"{instance.url}/sdk/v1/evaluate",
            headers={"Authorization": f"Bearer {self.server_key}"},
            json={"context": {"key": "user-1"}, "flags": [flag]},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def reloads(self, instance: Instance, cause: str) -> float:
        """How often `instance` reloaded a hub for `cause` ("notify", "check", ...)."""
        metrics = httpx.get(f"{instance.url}/metrics", timeout=10).text
        prefix = f'launchseq_hub_reloads_total{{cause="{cause}"}} '
        lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
        return float(lines[0].removeprefix(prefix)) if lines else 0.0

    def write(self, instance: Instance, method: str, path: str, body: Any = None) -> Any:
        with self.client(instance) as client:
            response = client.request(method, f"{self.base}/{path}", json=body)
        assert response.status_code in (200, 201, 204), (response.status_code, response.text)
        return response.json() if response.content else None

    def toggle(self, instance: Instance, flag: str, on: bool) -> None:
        self.write(instance, "PATCH", f"flags/{flag}/{ENV_PATH}", {"on": on})


@contextlib.contextmanager
def cluster(tmp_path: Path, count: int, flags: tuple[str, ...] = ("alpha",)) -> Iterator[Cluster]:
    """`count` instances on one fresh database, a signed-up user, `flags`, and a server key."""
    with postgres_database() as url:
        db = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        instances = [Instance(chr(ord("a") + i), url, tmp_path) for i in range(count)]
        user: ApiUser | None = None
        try:
            # A fresh database: the instances, started together, migrate it (one at a time).
            for instance in instances:
                instance.launch()
            for instance in instances:
                instance.wait_ready()
            user = signup(instances[0].url, "multi@example.com")
            base = f"/api/v1/orgs/{user.org}/projects/default"
            for key in flags:
                created = user.post(f"{base}/flags", json={"key": key, "name": key})
                assert created.status_code == 201, created.text
            rotated = user.post(
                f"{base}/{ENV_PATH}/sdk-keys", json={"kind": "server", "grace_seconds": 0}
            )
            assert rotated.status_code == 201, rotated.text
            yield Cluster(url, db, instances, user, rotated.json()["key"])
        finally:
            for instance in instances:
                instance.kill()
            if user is not None:
                user.close()
            db.dispose()


# --- an SSE client -----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    name: str
    id: str | None
    data: Any
    at: float  # time.monotonic() when the event was complete
    connection: int  # which connection of the subscriber brought it (0, 1, ...)


@dataclass
class Subscriber:
    """A server-key stream subscriber on a thread; reconnects with Last-Event-ID if asked."""

    url: str
    key: str
    reconnect: bool = False
    last_id: str | None = None
    events: list[Event] = field(default_factory=list)
    connects: list[tuple[float, str | None]] = field(default_factory=list)  # (when, sent id)
    ends: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    heartbeats: int = 0

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # --- control ---

    def start(self, *, expect_put: bool = True) -> Subscriber:
        self._thread.start()
        if expect_put:
            self.wait_for(lambda s: any(e.name == "put" for e in s.events), "the first put")
        else:
            self.wait_for(lambda s: len(s.connects) > 0, "a connection")
        return self

    def stop(self) -> None:
        """Ask the thread to finish (at the next line it reads: heartbeats come every second)."""
        self._stop.set()

    def close(self) -> None:
        self.stop()
        self._thread.join(timeout=WAIT)

    def wait_for(self, predicate: Callable[[Subscriber], object], what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout=WAIT):
                raise AssertionError(
                    f"subscriber on {self.url}: no {what} within {WAIT}s; events "
                    f"{[(e.name, e.id) for e in self.events]}, errors {self.errors[-5:]}"
                )

    def snapshot(self) -> tuple[list[Event], str | None]:
        with self._cond:
            return list(self.events), self.last_id

    def events_after(self, index: int) -> list[Event]:
        with self._cond:
            return self.events[index:]

    # --- what it saw ---

    def state(self) -> dict[str, Any] | None:
        """The snapshot rebuilt from the last `put` and the `patch`/`delete` events after it."""
        events, _ = self.snapshot()
        return server_state((e.name, e.data) for e in events)

    # --- the thread ---

    def _run(self) -> None:
        connection = 0
        while not self._stop.is_set():
            try:
                self._stream(connection)
            except httpx.HTTPError as exc:
                with self._cond:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            with self._cond:
                self.ends.append(time.monotonic())
                self._cond.notify_all()
            connection += 1
            if not self.reconnect:
                return
            self._stop.wait(0.1)

    def _stream(self, connection: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        sent = self.last_id
        if sent is not None:
            headers["Last-Event-ID"] = sent
        timeout = httpx.Timeout(5.0, read=5.0)  # heartbeats come every second
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", f"{self.url}/sdk/v1/stream?schema=2", headers=headers) as response,
        ):
            if response.status_code != 200:
                with self._cond:
                    self.errors.append(f"HTTP {response.status_code}")
                return
            with self._cond:
                self.connects.append((time.monotonic(), sent))
                self._cond.notify_all()
            for event in read_events(response.iter_lines(), self._stop):
                if event is HEARTBEAT:
                    with self._cond:
                        self.heartbeats += 1
                        self._cond.notify_all()
                    continue
                name, event_id, data = event
                self._dispatch(Event(name, event_id, data, time.monotonic(), connection))

    def _dispatch(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            if event.id is not None:
                self.last_id = event.id
            self._cond.notify_all()


@contextlib.contextmanager
def subscribed(subscribers: list[Subscriber]) -> Iterator[list[Subscriber]]:
    try:
        for subscriber in subscribers:
            subscriber.start()
        yield subscribers
    finally:
        for subscriber in subscribers:
            subscriber.stop()
        for subscriber in subscribers:
            subscriber.close()


def flag_patches(events: list[Event], flag: str) -> list[Event]:
    return [e for e in events if e.name == "patch" and e.data.get("key") == flag]


# --- the tests ---------------------------------------------------------------------------


def test_a_toggle_through_one_instance_reaches_the_other_within_a_second(tmp_path):
    with cluster(tmp_path, 2) as c:
        a, b = c.instances
        with subscribed([Subscriber(b.url, c.server_key)]) as (sub,):
            delays = []
            for on in (True, False, True, False, True):
                seen = len(sub.events)
                sent = time.monotonic()
                c.toggle(a, "alpha", on)
                version = c.env_version()
                sub.wait_for(lambda s, n=seen: flag_patches(s.events[n:], "alpha"), "patch")
                (patch,) = flag_patches(sub.events_after(seen), "alpha")
                delays.append(patch.at - sent)
                assert patch.id == str(version), "the event id is the environment's version"
                assert patch.data["version"] == version
                assert patch.data["flag"]["on"] is on
                answer = c.evaluate(b, "alpha")
                assert answer["version"] == version
                assert answer["flags"]["alpha"]["value"] is on
                assert answer["flags"]["alpha"]["reason"] == ("STATIC" if on else "DISABLED")
            print(f"propagation A -> B subscriber: {[round(d * 1000) for d in delays]} ms, "
                  f"median {statistics.median(delays) * 1000:.0f} ms")  # fmt: skip
            assert max(delays) < 1.0, delays
            assert c.reloads(b, "notify") >= 1, "B heard of the changes through NOTIFY"
            assert sub.state() == c.sdk_snapshot(b) == c.admin_snapshot(a)


def test_a_restarted_instance_resumes_a_stream_with_last_event_id(tmp_path):
    with cluster(tmp_path, 2) as c:
        a, b = c.instances
        with subscribed([Subscriber(a.url, c.server_key, reconnect=True)]) as (sub,):
            c.toggle(b, "alpha", True)
            sub.wait_for(lambda s: flag_patches(s.events, "alpha"), "patch before the restart")
            before = sub.last_id
            assert before is not None and before == str(c.env_version())

            took = a.stop()
            sub.wait_for(lambda s: len(s.ends) >= 1, "end of stream when A stopped")
            print(f"A stopped in {took:.2f}s")
            # Open streams end at once; they do not hold the shutdown for its 5 s grace.
            assert took < 4, f"A took {took:.1f}s to stop:\n{a.log_tail()}"
            assert "graceful shutdown exceeded" not in a.log_tail()

            c.toggle(b, "alpha", False)  # missed by the subscriber: A is down
            missed = c.env_version()
            assert missed > int(before)
            seen = len(sub.events)

            a.start()  # same port
            sub.wait_for(lambda s: len(s.connects) >= 2, "reconnection to the restarted A")
            assert sub.connects[-1][1] == before, "it reconnected with Last-Event-ID"
            sub.wait_for(lambda s, n=seen: any(e.name == "put" for e in s.events[n:]), "put")
            put = next(e for e in sub.events_after(seen) if e.name == "put")
            assert put.id == str(missed) and put.data["version"] == missed
            assert put.data["flags"]["alpha"]["on"] is False, "the put has the missed change"

            seen = len(sub.events)
            c.toggle(b, "alpha", True)
            sub.wait_for(lambda s, n=seen: flag_patches(s.events[n:], "alpha"), "later patch")
            latest = c.env_version()
            assert sub.last_id == str(latest)
            assert sub.state() == c.sdk_snapshot(a) == c.admin_snapshot(b)
            assert c.evaluate(a, "alpha")["flags"]["alpha"]["value"] is True

        # Reconnecting with the current version as Last-Event-ID: nothing missed, no put;
        # the stream then carries the next change.
        resumed = Subscriber(a.url, c.server_key, last_id=str(latest))
        try:
            resumed.start(expect_put=False)
            resumed.wait_for(lambda s: s.heartbeats >= 1, "a heartbeat")
            assert not resumed.events, "no put when nothing was missed"
            c.toggle(b, "alpha", False)
            resumed.wait_for(lambda s: flag_patches(s.events, "alpha"), "patch after resume")
            assert [e.name for e in resumed.events] == ["patch"]
            assert resumed.last_id == str(c.env_version())
        finally:
            resumed.close()


def test_a_killed_listen_connection_is_replaced_and_no_change_is_lost(tmp_path):
    with cluster(tmp_path, 2) as c:
        a, b = c.instances
        with subscribed([Subscriber(a.url, c.server_key)]) as (sub,):
            deadline = time.monotonic() + WAIT
            while not (old := c.listeners(a)):
                assert time.monotonic() < deadline, "A has no LISTEN connection"
                time.sleep(0.05)
            assert c.listeners(b), "B has its own LISTEN connection"

            c.terminate_backends(old)
            c.toggle(b, "alpha", True)
            sent = time.monotonic()
            version = c.env_version()
            sub.wait_for(lambda s: flag_patches(s.events, "alpha"), "patch after the kill")
            (patch,) = flag_patches(sub.events, "alpha")
            print(f"change reached A {patch.at - sent:.2f}s after its listener was killed")
            assert patch.id == str(version) and patch.data["flag"]["on"] is True
            assert not sub.ends, "the SSE stream itself was not affected"

            deadline = time.monotonic() + WAIT
            while not ((fresh := c.listeners(a)) and not fresh & old):
                assert time.monotonic() < deadline, f"A did not LISTEN again:\n{a.log_tail()}"
                time.sleep(0.05)

            # With the new listener, changes are again pushed (not only found by the check).
            notified = c.reloads(a, "notify")
            for on in (False, True):
                seen = len(sub.events)
                sent = time.monotonic()
                c.toggle(b, "alpha", on)
                sub.wait_for(lambda s, n=seen: flag_patches(s.events[n:], "alpha"), "patch")
                (patch,) = flag_patches(sub.events_after(seen), "alpha")
                assert patch.data["flag"]["on"] is on
                assert patch.at - sent < 1.0
            assert c.reloads(a, "notify") > notified, "the new listener receives NOTIFY"
            assert sub.state() == c.sdk_snapshot(a) == c.admin_snapshot(b)


def test_a_key_rotated_while_an_instance_was_not_listening_stops_working_there(tmp_path):
    with cluster(tmp_path, 2) as c:
        a, b = c.instances
        old = c.server_key

        def status(key: str) -> int:
            response = httpx.post(
                f"{b.url}/sdk/v1/evaluate",
                headers={"Authorization": f"Bearer {key}"},
                json={"context": {"key": "user-1"}},
                timeout=10,
            )
            return response.status_code

        assert status(old) == 200  # B has the key in memory now
        with subscribed([Subscriber(b.url, old)]) as (sub,):
            deadline = time.monotonic() + WAIT
            while not (listening := c.listeners(b)):
                assert time.monotonic() < deadline, "B has no LISTEN connection"
                time.sleep(0.05)
            # B's listener is killed and cannot come back until the rotation is done: the
            # rotation's notification never reaches B.
            with c.refusing_connections():
                c.terminate_backends(listening)
                rotated = c.write(
                    a, "POST", f"{ENV_PATH}/sdk-keys", {"kind": "server", "grace_seconds": 0}
                )
            new = rotated["key"]

            deadline = time.monotonic() + WAIT
            while status(old) != 401:
                assert time.monotonic() < deadline, (
                    f"the rotated key still works on B:\n{b.log_tail()}"
                )
                time.sleep(0.05)
            sub.wait_for(lambda s: len(s.ends) >= 1, "B closing the stream of the rotated key")
            assert status(new) == 200


WRITERS = 4
WRITES_PER_WRITER = 25
RACE_FLAGS = ("red", "green", "blue", "doomed")


def test_racing_writes_through_three_instances_converge_on_every_subscriber(tmp_path):
    with cluster(tmp_path, 3, flags=RACE_FLAGS) as c:
        subscribers = [Subscriber(i.url, c.server_key) for i in c.instances for _ in range(2)]
        with subscribed(subscribers):
            failures: list[str] = []
            clients = [c.client(i) for i in c.instances]
            barrier = threading.Barrier(WRITERS)

            def write(client: httpx.Client, method: str, path: str, body: Any = None) -> None:
                try:
                    response = client.request(method, f"{c.base}/{path}", json=body)
                except httpx.HTTPError as exc:
                    failures.append(f"{method} {path}: {type(exc).__name__}")
                    return
                if response.status_code not in (200, 201, 204):
                    failures.append(f"{method} {path}: {response.status_code} {response.text}")

            def writer(w: int) -> None:
                rng = random.Random(w)
                keys = ["red", "green", "blue"]
                barrier.wait()
                for n in range(WRITES_PER_WRITER):
                    client = clients[(w + n) % len(clients)]
                    if w == 0 and n == 10:
                        write(client, "DELETE", "flags/doomed")
                        continue
                    if w == 1 and n == 12:
                        write(client, "POST", "flags", {"key": "newcomer", "name": "Newcomer"})
                        continue
                    if w == 1 and n > 12:
                        keys = ["red", "green", "blue", "newcomer"]
                    key = rng.choice(keys)
                    if n % 2:
                        body: dict[str, Any] = {"on": rng.random() < 0.5}
                    else:
                        body = {"targets": [{"variation": rng.randrange(2),
                                             "values": [f"user-{w}-{n}"]}]}  # fmt: skip
                    write(client, "PATCH", f"flags/{key}/{ENV_PATH}", body)

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
            try:
                started = time.monotonic()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=60)
                assert not any(t.is_alive() for t in threads), "a writer hung"
                took = time.monotonic() - started
            finally:
                for client in clients:
                    client.close()
            assert not failures, failures[:5]

            final = c.env_version()
            deadline = time.monotonic() + WAIT
            while True:
                behind = [(s.url, s.last_id) for s in subscribers if s.last_id != str(final)]
                if not behind:
                    break
                assert time.monotonic() < deadline, f"behind {final}: {behind}"
                time.sleep(0.05)
            settled = time.monotonic() - started - took
            print(f"{WRITERS * WRITES_PER_WRITER} writes in {took:.2f}s; every subscriber at "
                  f"version {final} {settled:.2f}s later")  # fmt: skip

            expected = c.admin_snapshot(c.instances[0])
            assert expected["version"] == final
            assert "doomed" not in expected["flags"] and "newcomer" in expected["flags"]
            for instance in c.instances:
                assert c.sdk_snapshot(instance) == expected, instance.name
                assert c.admin_snapshot(instance) == expected, instance.name
            for s in subscribers:
                assert s.state() == expected, s.url
                assert not s.ends and not s.errors, (s.url, s.errors)
                ids = [int(e.id) for e in s.events if e.id is not None]
                assert ids == sorted(ids), f"versions went backwards on {s.url}"
