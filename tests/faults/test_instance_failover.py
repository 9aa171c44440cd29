"""One of two instances killed (`kill -9`) behind a load balancer while a writer keeps writing.

Two real `launchseq serve` processes on one fresh PostgreSQL database, a small TCP load balancer
(tests/support/balancer.py) in front, and everything else only through the balancer: Python SDK
clients, raw server-stream subscribers that reconnect with `Last-Event-ID` as an SDK does,
browser-style client-stream subscribers, and a writer that toggles and patches flags (and
deletes one and creates one during the failover), retrying a write whose outcome it did not
learn until it is acknowledged. Subscribers are spread over both instances before the kill.

What must hold once the writer stops:

- the survivor serves every acknowledged write: each flag is as its last acknowledged write
  left it, and the environment's version is the database's;
- every SDK client and every subscriber reaches, within a bounded wait, exactly what the
  survivor's /sdk/v1/snapshot says (version and every flag's value), whether it was on the
  killed instance or not;
- those on the killed instance reconnected, all to the survivor; those on the survivor were
  left alone; a reconnection got a `put` exactly when its `Last-Event-ID` was not the version
  the survivor was serving.
"""

from __future__ import annotations

import base64
import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from launchsequence_sdk import Client, ClientEvent
from sqlalchemy import create_engine, text

from launchsequence.store import migrate
from tests.faults.support import ServerProcess
from tests.support.api import signup
from tests.support.balancer import Balancer
from tests.support.databases import postgres_database
from tests.support.sse import HEARTBEAT, read_events
from tests.support.sse import server_state as rebuild

pytestmark = pytest.mark.slow

WAIT = 30.0  # the bound of every wait for a condition, in seconds
ENV = "production"
SDK_CLIENTS = 4
SERVER_STREAMS = 4
CLIENT_STREAMS = 2
ACKS_BEFORE_KILL = 20
ACKS_AFTER_KILL = 20
CONTEXTS = [{"key": "anyone"}, {"key": "vip-1", "plan": "gold"}]
A, B = 0, 1  # backend numbers in the balancer; A is killed


def wait_until(
    predicate: Callable[[], object],
    what: str,
    explain: Callable[[], object] = lambda: "",
    timeout: float = WAIT,
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f}s {explain()}")
        time.sleep(0.05)


# --- raw SSE subscribers -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    name: str
    id: str | None
    data: Any
    connection: int  # index into Stream.connections


@dataclass(frozen=True)
class Connection:
    port: int  # the subscriber's local port: the balancer knows where it went
    sent_id: str | None  # the Last-Event-ID it sent


@dataclass(eq=False)
class Stream:
    """An SSE subscriber on a thread that reconnects (after 0.2 s) and resumes with
    Last-Event-ID, as an SDK or a browser's EventSource does, until `close()`."""

    url: str
    headers: dict[str, str]
    events: list[Event] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    ends: int = 0
    heartbeats: int = 0
    last_id: str | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self._thread.start()
        wait_until(lambda: self.events or self.heartbeats, f"first event on {self.url}")
        return self

    def close(self) -> None:
        self._stop.set()  # seen at the next line: heartbeats come every second
        if self._thread.ident is None:
            return
        self._thread.join(timeout=WAIT)
        assert not self._thread.is_alive(), "a subscriber thread hung"

    def copy(self) -> tuple[list[Event], list[Connection], int]:
        with self._lock:
            return list(self.events), list(self.connections), self.ends

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                self._read()
            with self._lock:
                self.ends += 1
            self._stop.wait(0.2)

    def _read(self) -> None:
        headers = dict(self.headers)
        sent = self.last_id
        if sent is not None:
            headers["Last-Event-ID"] = sent
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=5.0)) as client,
            client.stream("GET", self.url, headers=headers) as response,
        ):
            if response.status_code != 200:
                return
            sock = response.extensions["network_stream"].get_extra_info("socket")
            with self._lock:
                self.connections.append(Connection(int(sock.getsockname()[1]), sent))
                index = len(self.connections) - 1
            for event in read_events(response.iter_lines(), self._stop):
                with self._lock:
                    if event is HEARTBEAT:
                        self.heartbeats += 1
                        continue
                    name, event_id, data = event
                    self.events.append(Event(name, event_id, data, index))
                    if event_id is not None:
                        self.last_id = event_id


def server_state(events: list[Event]) -> dict[str, Any] | None:
    """The snapshot a server-stream subscriber holds: its last `put`, then patches/deletes."""
    return rebuild((e.name, e.data) for e in events)


def client_state(events: list[Event]) -> dict[str, Any] | None:
    """The values a client-stream subscriber holds: its last `put`, then its patches."""
    values: dict[str, Any] | None = None
    for event in events:
        if event.name == "put":
            values = dict(event.data["flags"])
        elif values is not None and event.name == "patch":
            values.update(event.data["flags"])
            for key in event.data["deleted"]:
                values.pop(key, None)
    return values


# --- the writer --------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    method: str
    path: str  # under the project
    body: Any
    flag: str
    effect: dict[str, Any]  # what the flag's configuration must show afterwards


@dataclass(eq=False)
class Writer:
    """Sequential writes through the balancer on a fresh connection each (so they alternate
    between instances), each retried until acknowledged. `extra` writes jump the queue."""

    url: str
    token: str
    base: str
    acked: list[tuple[Write, int]] = field(default_factory=list)  # (write, attempts)
    retried: int = 0
    extra: queue.Queue[Write] = field(default_factory=queue.Queue)
    failure: str | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish the write under way and stop; raises if the writer hung or failed."""
        self.abort()
        assert not self._thread.is_alive(), "the writer hung"
        assert self.failure is None, self.failure

    def abort(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=WAIT)

    def _plan(self, n: int) -> Write:
        path = f"flags/{{}}/environments/{ENV}"
        if n % 4 == 0:
            flag, on = f"toggle-{n // 4 % 2}", n // 8 % 2 == 0
            return Write("PATCH", path.format(flag), {"on": on}, flag, {"on": on})
        if n % 4 == 1:
            targets = [{"variation": 0, "values": [f"vip-{n}"]}]
            return Write("PATCH", path.format("targeted"), {"targets": targets}, "targeted",
                         {"targets": targets})  # fmt: skip
        flag = "color" if n % 4 == 2 else "limit"
        serve = {"variation": n % 3}
        return Write("PATCH", path.format(flag), {"fallthrough": serve}, flag,
                     {"fallthrough": serve})  # fmt: skip

    def _run(self) -> None:
        n = 0
        # No keep-alive: every request is a new connection, so the balancer spreads them.
        limits = httpx.Limits(max_keepalive_connections=0)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10, limits=limits) as http:
            while not self._stop.is_set():
                try:
                    write = self.extra.get_nowait()
                except queue.Empty:
                    write, n = self._plan(n), n + 1
                attempts = self._send(http, write)
                if attempts is None:
                    return
                self.acked.append((write, attempts))

    def _send(self, http: httpx.Client, write: Write) -> int | None:
        """Attempts until acknowledged; None (and `failure` set) if it never was."""
        for attempt in range(1, 201):
            try:
                response = http.request(write.method, f"{self.base}/{write.path}",
                                        json=write.body)  # fmt: skip
            except httpx.HTTPError:
                response = None  # outcome unknown (the instance died): send it again
            if response is not None:
                if response.status_code in (200, 201, 204):
                    return attempt
                # A retried creation or deletion may have committed on its first attempt.
                done = {"POST": 409, "DELETE": 404}.get(write.method)
                if attempt > 1 and response.status_code == done:
                    return attempt
                if response.status_code < 500:
                    self.failure = f"{write}: {response.status_code} {response.text}"
                    return None
            self.retried += 1
            time.sleep(0.05)
        self.failure = f"{write}: never acknowledged"
        return None


# --- the cluster -------------------------------------------------------------------------


@dataclass
class Cluster:
    database_url: str
    instances: list[ServerProcess]
    balancer: Balancer
    base: str
    token: str
    server_key: str
    client_key: str

    def snapshot(self, instance: ServerProcess) -> dict[str, Any]:
        response = httpx.get(f"{instance.url}/sdk/v1/snapshot?schema=2", timeout=10,
                             headers={"Authorization": f"Bearer {self.server_key}"})  # fmt: skip
        assert response.status_code == 200, response.text
        return dict(response.json())

    def evaluate(self, instance: ServerProcess, context: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{instance.url}/sdk/v1/evaluate", json={"context": context},
                              headers={"Authorization": f"Bearer {self.server_key}"},
                              timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        return dict(response.json())

    def client_values(self, instance: ServerProcess, context: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{instance.url}/sdk/v1/client/evaluate",
                              json={"context": context},
                              headers={"Authorization": f"Bearer {self.client_key}"},
                              timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        return dict(response.json()["flags"])

    def open_streams(self, instance: ServerProcess, kind: str) -> int:
        metrics = httpx.get(f"{instance.url}/metrics", timeout=10).text
        found = re.search(rf'^launchseq_open_streams{{kind="{kind}"}} (\S+)$', metrics, re.M)
        return int(float(found.group(1))) if found else 0

    def env_version(self) -> int:
        engine = create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                query = text("SELECT version FROM environments WHERE key = :env")
                return int(conn.execute(query, {"env": ENV}).scalar_one())
        finally:
            engine.dispose()

    def server_stream(self) -> Stream:
        return Stream(f"{self.balancer.url}/sdk/v1/stream?schema=2",
                      {"Authorization": f"Bearer {self.server_key}"})  # fmt: skip

    def client_stream(self, context: dict[str, Any]) -> Stream:
        encoded = base64.urlsafe_b64encode(orjson.dumps(context)).decode().rstrip("=")
        url = f"{self.balancer.url}/sdk/v1/client/stream?key={self.client_key}&context={encoded}"
        return Stream(url, {})


FLAGS: list[dict[str, Any]] = [
    {"key": "toggle-0", "client_side": True},
    {"key": "toggle-1", "client_side": True},
    {"key": "targeted", "client_side": True},
    {"key": "color", "type": "string", "client_side": True,
     "variations": [{"value": "red"}, {"value": "green"}, {"value": "blue"}]},
    {"key": "limit", "type": "number",
     "variations": [{"value": 10}, {"value": 20}, {"value": 30}]},
    {"key": "doomed", "client_side": True},
]  # fmt: skip


@contextlib.contextmanager
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Instances A and B on one fresh database, the balancer in front, flags, keys, a token."""
    with postgres_database() as url:
        db = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            migrate.upgrade(db)  # once, here: two instances starting must not race on it
        finally:
            db.dispose()
        settings = {"LAUNCHSEQ_SSE_HEARTBEAT_SECONDS": "1"}
        instances = [ServerProcess(tmp_path / n, url, **settings) for n in ("a", "b")]
        balancer: Balancer | None = None
        try:
            for instance in instances:
                instance.workdir.mkdir()
                instance.start()
            user = signup(instances[A].url, "failover@example.com")
            base = f"/api/v1/orgs/{user.org}/projects/default"
            with contextlib.closing(user):
                token = user.post("/api/v1/tokens", json={"name": "writer"})
                assert token.status_code == 201, token.text
                for flag in FLAGS:
                    made = user.post(f"{base}/flags", json=flag)
                    assert made.status_code == 201, made.text
                    on = user.patch(f"{base}/flags/{flag['key']}/environments/{ENV}",
                                    json={"on": True})  # fmt: skip
                    assert on.status_code == 200, on.text
                server = user.post(f"{base}/environments/{ENV}/sdk-keys",
                                   json={"kind": "server", "grace_seconds": 0})  # fmt: skip
                assert server.status_code == 201, server.text
                env = user.get(f"{base}/environments/{ENV}")
                assert env.status_code == 200, env.text
                client_key = next(k["key"] for k in env.json()["sdk_keys"]
                                  if k["kind"] == "client")  # fmt: skip
            balancer = Balancer([("127.0.0.1", i.port) for i in instances]).start()
            yield Cluster(url, instances, balancer, base, token.json()["token"],
                          server.json()["key"], client_key)  # fmt: skip
        finally:
            if balancer is not None:
                balancer.stop()
            for instance in instances:
                instance.kill()


# --- the test ----------------------------------------------------------------------------


def recorder(kinds: list[str]) -> Callable[[ClientEvent], None]:
    """An SDK event listener noting each event's kind ("ready", "stale", ...)."""
    return lambda event: kinds.append(event.kind)


def expected_flags(writes: list[tuple[Write, int]]) -> dict[str, dict[str, Any]]:
    """Per flag: the fields the last acknowledged write to each must have left."""
    expected: dict[str, dict[str, Any]] = {}
    for write, _ in writes:
        expected.setdefault(write.flag, {}).update(write.effect)
    return expected


def test_one_of_two_instances_killed_subscribers_fail_over_and_miss_nothing(
    tmp_path: Path,
) -> None:
    with cluster(tmp_path) as c:
        a, b = c.instances
        bal = c.balancer
        # Subscribers number 0, 2, ... of each kind on A, the others on B; the balancer is
        # steered there (it still skips an instance that refuses).
        clients: list[Client] = []
        events: list[list[str]] = []
        server_streams: list[Stream] = []
        client_streams: list[Stream] = []
        writer: Writer | None = None
        try:
            for i in range(max(SDK_CLIENTS, SERVER_STREAMS, CLIENT_STREAMS)):
                bal.steer(A if i % 2 == 0 else B)
                if i < SDK_CLIENTS:
                    seen: list[str] = []
                    sdk = Client(c.server_key, base_url=bal.url, initial_reconnect_delay=0.2,
                                 max_reconnect_delay=1.0)  # fmt: skip
                    sdk.on_event(recorder(seen))
                    clients.append(sdk)
                    events.append(seen)
                    assert sdk.wait_until_ready(WAIT), "an SDK client never got its flags"
                if i < SERVER_STREAMS:
                    server_streams.append(c.server_stream().start())
                if i < CLIENT_STREAMS:
                    client_streams.append(c.client_stream(CONTEXTS[i]).start())

            # Both instances have subscribers of every kind, as each instance counts them.
            on_a = [s for s in server_streams if bal.backend_of(s.copy()[1][0].port) == A]
            clients_on_a = [s for s in client_streams
                            if bal.backend_of(s.copy()[1][0].port) == A]  # fmt: skip
            assert server_streams[0] in on_a and server_streams[1] not in on_a
            assert client_streams[0] in clients_on_a and client_streams[1] not in clients_on_a
            sdk_on_a = (SDK_CLIENTS + 1) // 2
            streams_on_a = sdk_on_a + len(on_a)
            everyone = SDK_CLIENTS + SERVER_STREAMS
            wait_until(lambda: (c.open_streams(a, "server"), c.open_streams(b, "server"))
                       == (streams_on_a, everyone - streams_on_a),
                       "every server stream open, on the instance it was steered to")  # fmt: skip
            assert (c.open_streams(a, "client"), c.open_streams(b, "client")) == (
                len(clients_on_a),
                CLIENT_STREAMS - len(clients_on_a),
            )
            bal.steer(None)  # round robin from here on

            writer = Writer(bal.url, c.token, c.base).start()
            wait_until(lambda: len(writer.acked) >= ACKS_BEFORE_KILL or writer.failure,
                       "acknowledged writes before the kill")  # fmt: skip
            a.kill()  # SIGKILL while the writer is writing
            killed_at = len(writer.acked)
            # doomed is on: deleting it asks for force.
            writer.extra.put(
                Write("DELETE", "flags/doomed?force=true", None, "doomed", {"deleted": True})
            )
            late = {"key": "late", "client_side": True}
            writer.extra.put(Write("POST", "flags", late, "late", {"on": False}))
            wait_until(lambda: len(writer.acked) >= killed_at + ACKS_AFTER_KILL
                       or writer.failure, "acknowledged writes after the kill")  # fmt: skip
            writer.stop()

            # --- the survivor holds every acknowledged write -----------------------------
            final = c.snapshot(b)
            version = final["version"]
            assert version == c.env_version()
            expected = expected_flags(writer.acked)
            assert "doomed" not in final["flags"] and "late" in final["flags"]
            for flag, fields in expected.items():
                if fields.pop("deleted", False):
                    continue
                doc = final["flags"][flag]
                for name, value in fields.items():
                    assert doc[name] == value, f"{flag}.{name}: the last acknowledged write lost"

            # --- everyone converges on it -------------------------------------------------
            answers = [c.evaluate(b, ctx) for ctx in CONTEXTS]
            client_answers = [c.client_values(b, ctx) for ctx in CONTEXTS]
            for answer in answers:
                assert answer["version"] == version

            def sdk_current(sdk: Client) -> bool:
                if sdk.version != version:
                    return False
                for ctx, answer in zip(CONTEXTS, answers, strict=True):
                    got = sdk.bootstrap(ctx, client_side_only=False)["flags"]
                    want = {k: {f: r[f] for f in ("value", "variation", "variant", "reason")}
                            for k, r in answer["flags"].items()}  # fmt: skip
                    if got != want:
                        return False
                return True

            def behind() -> list[str]:
                late_ones = [f"sdk {i} at {s.version}" for i, s in enumerate(clients)
                             if not sdk_current(s)]  # fmt: skip
                for i, s in enumerate(server_streams):
                    got = server_state(s.copy()[0])
                    if got != final or s.last_id != str(version):
                        late_ones.append(f"server stream {i} at {s.last_id}")
                for i, s in enumerate(client_streams):
                    if client_state(s.copy()[0]) != client_answers[i]:
                        late_ones.append(f"client stream {i}")
                return late_ones

            wait_until(lambda: not behind(), "convergence on the final state", behind)

            # --- those on A reconnected, to B; those on B were left alone -----------------
            for s in [*server_streams, *client_streams]:
                _, connections, ends = s.copy()
                first = bal.backend_of(connections[0].port)
                if first == A:
                    assert len(connections) >= 2 and ends >= 1, "it reconnected"
                    assert {bal.backend_of(n.port) for n in connections[1:]} == {B}
                else:
                    assert len(connections) == 1 and ends == 0, "a stream on B was cut"
            # Every stream is open again, on the survivor (SDK clients included).
            wait_until(lambda: (c.open_streams(b, "server"), c.open_streams(b, "client"))
                       == (everyone, CLIENT_STREAMS), "every stream open on B")  # fmt: skip
            assert bal.refused()[A] >= 1, "the balancer tried the dead instance and moved on"
            assert bal.open_connections()[A] == 0
            for i, seen in enumerate(events):
                if "stale" in seen:  # it was on A: it lost the stream and got it back
                    assert seen[seen.index("stale") :].count("ready") >= 1, (i, seen)
            assert sum("stale" in seen for seen in events) == sdk_on_a

            # A reconnection got a `put` exactly when its Last-Event-ID was not current.
            puts = skipped = 0
            for s in on_a:
                got, connections, _ = s.copy()
                for index in range(1, len(connections)):
                    mine = [e for e in got if e.connection == index]
                    sent = connections[index].sent_id
                    assert sent is not None, "it resumed with Last-Event-ID"
                    if mine and mine[0].name == "put":
                        assert mine[0].id != sent, "a put although its id was current"
                        puts += 1
                    else:
                        assert all(int(e.id or 0) > int(sent) for e in mine), "it went back"
                        skipped += 1
            assert puts + skipped >= len(on_a)

            # And, deterministically: the survivor answers a current id with no put, an older
            # one with a put of the current snapshot.
            probe = c.server_stream()
            probe.last_id = str(version)
            stale = c.server_stream()
            stale.last_id = str(version - 1)
            try:
                probe.start()
                stale.start()
                wait_until(lambda: probe.heartbeats >= 1, "a heartbeat on the resumed stream")
                assert not probe.events, "no put when nothing was missed"
                (put,) = stale.copy()[0]
                assert put.name == "put" and put.id == str(version) and put.data == final
            finally:
                probe.close()
                stale.close()

            acked = len(writer.acked)
            print(f"\n{acked} writes acknowledged ({killed_at} before the kill), "
                  f"{writer.retried} retries; on A: {len(on_a)} server streams, "
                  f"{len(clients_on_a)} client streams, {sdk_on_a} SDK clients; "
                  f"reconnections with a put {puts}, without {skipped}; "
                  f"balancer forwarded {bal.forwarded()}, refused {bal.refused()}")  # fmt: skip
        finally:
            if writer is not None:
                writer.abort()
            for sdk in clients:
                sdk.close()
            for s in [*server_streams, *client_streams]:
                s.close()
