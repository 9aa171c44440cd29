"""PostgreSQL stopped for 30 s under a running server, its SDK clients and SSE subscribers.

A private PostgreSQL cluster (never the machine's shared one) serves a real `launchseq serve`
process. The cluster is crashed (`pg_ctl stop -m immediate`) for 30 seconds, then started again
on the same data directory. What a user must see:

- during the outage: SDK evaluations (`/sdk/v1/evaluate`, OFREP, the Python SDK, a stream opened
  meanwhile) keep being answered from memory with the right values; open streams stay open; a
  write, an authenticated read and a log-in answer 503 `unavailable` with Retry-After and a
  message that names the database; a key the server has never seen answers 503, not 401 or
  500; `/readyz` answers 503, `/healthz` 200; the process stays up; nothing answers 500; the
  log says so once, not once per request;
- once it is back, without a restart: `/readyz` is 200 again, a write succeeds, the SDK client
  and every subscriber converge to the version the database holds; a second instance started
  afterwards writes, and the first instance's subscribers get that change through its
  re-established LISTEN connection.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from launchsequence_sdk import Client
from sqlalchemy import create_engine, text

from tests.faults.support import ServerProcess
from tests.support.api import ApiUser, signup
from tests.support.pgcluster import PostgresCluster, postgres_cluster
from tests.support.sse import HEARTBEAT, apply_server_event, read_events

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 30.0
WAIT = 30.0  # the bound of every wait for something to happen, in seconds
FLAG = "checkout"
ENV = "environments/production"
ANSWERS = {"user-1": (True, "DEFAULT"), "user-2": (False, "TARGETING_MATCH")}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback traffic (the SDK's included) must never go through a configured proxy."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f}s")
        time.sleep(0.1)


# --- a raw SSE subscriber ----------------------------------------------------------------


@dataclass
class Subscriber:
    """A server-key stream on a thread: keeps the snapshot it rebuilds from `put` and `patch`
    events, reconnects with Last-Event-ID when its stream ends."""

    url: str
    key: str
    document: dict[str, Any] | None = None
    last_id: str | None = None
    connects: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Subscriber:
        self._thread.start()
        wait_until(lambda: self.version() is not None, f"first put on {self.url}")
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=10)

    def version(self) -> int | None:
        with self._lock:
            return None if self.document is None else int(self.document["version"])

    def flag_on(self) -> bool | None:
        with self._lock:
            if self.document is None or FLAG not in self.document["flags"]:
                return None
            return bool(self.document["flags"][FLAG]["on"])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._stream()
            except httpx.HTTPError as exc:
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(0.2)

    def _stream(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        timeout = httpx.Timeout(5.0, read=5.0)  # heartbeats come every second
        with (
            httpx.Client(timeout=timeout, trust_env=False) as client,
            client.stream("GET", f"{self.url}/sdk/v1/stream?schema=2", headers=headers) as response,
        ):
            if response.status_code != 200:
                with self._lock:
                    self.errors.append(f"HTTP {response.status_code}")
                return
            with self._lock:
                self.connects += 1
            for event in read_events(response.iter_lines(), self._stop):
                if event is HEARTBEAT:
                    continue
                name, event_id, data = event
                with self._lock:
                    if event_id is not None:
                        self.last_id = event_id
                    self.document = apply_server_event(self.document, name, data)


@contextlib.contextmanager
def subscribed(subscribers: list[Subscriber]) -> Iterator[list[Subscriber]]:
    try:
        for subscriber in subscribers:
            subscriber.start()
        yield subscribers
    finally:
        for subscriber in subscribers:
            subscriber.close()


# --- the installation --------------------------------------------------------------------


@dataclass
class Setup:
    pg: PostgresCluster
    database_url: str
    server: ServerProcess
    user: ApiUser
    api_token: str
    server_key: str
    client_key: str  # never used before the outage: the server has not cached it

    @property
    def base(self) -> str:
        return f"/api/v1/orgs/{self.user.org}/projects/default"

    def db_version(self) -> int:
        engine = create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(text("SELECT version FROM environments WHERE key = 'production'"))
                    .scalar_one()
                )  # fmt: skip
        finally:
            engine.dispose()

    def listening(self, app_name: str) -> bool:
        """Whether the process named `app_name` (PGAPPNAME) holds a LISTEN connection."""
        engine = create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :a "
                            "AND query ILIKE 'LISTEN%'"
                        ),
                        {"a": app_name},
                    ).scalar_one()
                )
        finally:
            engine.dispose()


def toggle(url: str, setup: Setup, on: bool) -> httpx.Response:
    """Toggle the flag with the personal API token, as a script or CI job would."""
    return httpx.patch(
        f"{url}{setup.base}/flags/{FLAG}/{ENV}",
        json={"on": on},
        headers={"Authorization": f"Bearer {setup.api_token}"},
        timeout=15,
        trust_env=False,
    )


def evaluate(url: str, key: str, user: str) -> httpx.Response:
    return httpx.post(
        f"{url}/sdk/v1/evaluate",
        json={"context": {"key": user}, "flags": [FLAG]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
        trust_env=False,
    )


def ofrep(url: str, key: str, user: str) -> httpx.Response:
    return httpx.post(
        f"{url}/ofrep/v1/evaluate/flags/{FLAG}",
        json={"context": {"targetingKey": user}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
        trust_env=False,
    )


def assert_unavailable(response: httpx.Response, what: str) -> None:
    """503 with the stable code, Retry-After, and a message that says what is wrong."""
    assert response.status_code == 503, (what, response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == "unavailable", (what, error)
    assert "database" in error["message"], (what, error)
    assert int(response.headers["Retry-After"]) > 0, (what, response.headers)


@contextlib.contextmanager
def installation(tmp_path: Path) -> Iterator[Setup]:
    """A private cluster, a server on it, a user with a flag, an API token and SDK keys."""
    with postgres_cluster() as pg:
        url = pg.create_database("launchseq")
        server = ServerProcess(
            tmp_path / "a",
            database_url=url,
            LAUNCHSEQ_VERSION_CHECK_SECONDS="1",
            LAUNCHSEQ_SSE_HEARTBEAT_SECONDS="1",
            PGAPPNAME="launchseq-outage-a",
        )
        server.workdir.mkdir(parents=True)
        user: ApiUser | None = None
        try:
            server.start()
            user = signup(server.url, "outage@example.com")
            base = f"/api/v1/orgs/{user.org}/projects/default"
            created = user.post(f"{base}/flags", json={"key": FLAG, "name": "Checkout"})
            assert created.status_code == 201, created.text
            configured = user.patch(
                f"{base}/flags/{FLAG}/{ENV}",
                json={
                    "on": True,
                    "targets": [{"variation": 1, "values": ["user-2"]}],
                    "fallthrough": {"variation": 0},
                },
            )
            assert configured.status_code == 200, configured.text
            token = user.post("/api/v1/tokens", json={"name": "ci"})
            assert token.status_code == 201, token.text
            keys = {}
            for kind in ("server", "client"):
                rotated = user.post(
                    f"{base}/{ENV}/sdk-keys", json={"kind": kind, "grace_seconds": 0}
                )
                assert rotated.status_code == 201, rotated.text
                keys[kind] = rotated.json()["key"]
            yield Setup(pg, url, server, user, token.json()["token"], keys["server"],
                        keys["client"])  # fmt: skip
        finally:
            server.kill()
            if user is not None:
                user.close()


def test_postgres_stopped_for_30_seconds(tmp_path):
    with (
        installation(tmp_path) as s,
        Client(s.server_key, base_url=s.server.url, initial_reconnect_delay=0.2) as sdk,
        subscribed([Subscriber(s.server.url, s.server_key) for _ in range(3)]) as subscribers,
        contextlib.ExitStack() as cleanup,
    ):
        a = s.server.url
        late = Subscriber(a, s.server_key)  # connects during the outage
        cleanup.callback(late.close)
        assert sdk.wait_until_ready(WAIT), "the SDK client got its flags"
        for user, (value, reason) in ANSWERS.items():
            assert evaluate(a, s.server_key, user).json()["flags"][FLAG]["value"] is value
            assert ofrep(a, s.server_key, user).json()["reason"] == reason
        before = s.db_version()
        wait_until(lambda: sdk.version == before, "SDK client at the current version")
        log_size = s.server.log_path.stat().st_size

        # --- the outage ---------------------------------------------------------------
        s.pg.stop("immediate")
        stopped = time.monotonic()
        rounds = 0
        statuses: dict[str, set[int]] = {}
        while time.monotonic() - stopped < OUTAGE_SECONDS:
            rounds += 1
            for user, (value, reason) in ANSWERS.items():
                answer = evaluate(a, s.server_key, user)
                statuses.setdefault("evaluate", set()).add(answer.status_code)
                assert answer.status_code == 200, answer.text
                result = answer.json()
                assert result["version"] == before
                assert result["flags"][FLAG]["value"] is value
                assert result["flags"][FLAG]["reason"] == reason
                answer = ofrep(a, s.server_key, user)
                statuses.setdefault("ofrep", set()).add(answer.status_code)
                assert answer.status_code == 200, answer.text
                assert (answer.json()["value"], answer.json()["reason"]) == (value, reason)
                assert sdk.bool_value(FLAG, {"key": user}, not value) is value

            written = toggle(a, s, False)
            statuses.setdefault("write", set()).add(written.status_code)
            assert_unavailable(written, "a write with an API token")
            listed = s.user.get(f"{s.base}/flags")
            statuses.setdefault("session read", set()).add(listed.status_code)
            assert_unavailable(listed, "a read on a session cookie")
            dashboard = s.user.get("/")  # a page: HTML for a person, not JSON
            statuses.setdefault("dashboard page", set()).add(dashboard.status_code)
            assert dashboard.status_code == 503, dashboard.text
            assert dashboard.headers["content-type"].startswith("text/html")
            assert "Temporarily unavailable" in dashboard.text
            unknown_key = ofrep(a, s.client_key, "user-1")
            statuses.setdefault("uncached key", set()).add(unknown_key.status_code)
            assert_unavailable(unknown_key, "an SDK key the server has not cached yet")

            ready = httpx.get(f"{a}/readyz", timeout=15, trust_env=False)
            assert ready.status_code == 503, ready.text
            assert ready.json()["database"] == "unreachable"
            assert httpx.get(f"{a}/healthz", timeout=15, trust_env=False).status_code == 200
            assert s.server.process is not None and s.server.process.poll() is None

            if rounds == 2:
                # Log-in needs the database: 503, not a wrong-password answer.
                login = httpx.post(
                    f"{a}/api/v1/auth/login",
                    json={"email": "outage@example.com", "password": "correct horse"},
                    timeout=15,
                    trust_env=False,
                )
                statuses.setdefault("login", set()).add(login.status_code)
                assert_unavailable(login, "a log-in")
                # A stream opened during the outage gets the ruleset from memory.
                late.start()
                assert late.version() == before
            time.sleep(0.5)

        assert rounds >= 5, "the outage was probed throughout"
        print(f"outage: {rounds} rounds of probes, statuses {statuses}")
        for subscriber in subscribers:
            assert subscriber.connects == 1, "open streams stayed open through the outage"
            assert subscriber.version() == before
        assert late.version() == before and late.connects == 1

        # --- the database returns -------------------------------------------------------
        s.pg.start()
        back = time.monotonic()
        wait_until(
            lambda: httpx.get(f"{a}/readyz", timeout=15, trust_env=False).status_code == 200,
            "/readyz 200 after the database returned",
        )
        print(f"/readyz 200 again {time.monotonic() - back:.1f}s after PostgreSQL started")
        written = toggle(a, s, False)
        assert written.status_code == 200, written.text
        after = s.db_version()
        assert after > before
        everyone = [*subscribers, late]
        wait_until(
            lambda: sdk.version == after and all(x.version() == after for x in everyone),
            "SDK client and subscribers at the version written after the outage",
        )
        assert sdk.bool_value(FLAG, {"key": "user-1"}, True) is False
        assert all(x.flag_on() is False for x in everyone)

        # --- another instance writes: the first hears of it through PostgreSQL -----------
        wait_until(lambda: s.listening("launchseq-outage-a"), "A's LISTEN connection back")
        other = ServerProcess(
            tmp_path / "b", database_url=s.database_url, PGAPPNAME="launchseq-outage-b"
        )
        other.workdir.mkdir(parents=True)
        try:
            other.start()
            written = toggle(other.url, s, True)
            assert written.status_code == 200, written.text
            final = s.db_version()
            assert final > after
            wait_until(
                lambda: sdk.version == final and all(x.version() == final for x in everyone),
                "the change made through B at A's SDK client and subscribers",
            )
            assert all(x.flag_on() is True for x in everyone)
            assert sdk.bool_value(FLAG, {"key": "user-1"}, False) is True
            assert evaluate(a, s.server_key, "user-1").json()["version"] == final
        finally:
            other.kill()

        # --- the log: the outage said once, not once per request --------------------------
        with s.server.log_path.open("rb") as log:
            log.seek(log_size)
            lines = log.read().decode(errors="replace").splitlines()
        warnings = [line for line in lines if " WARNING " in line]
        print("server warnings:", *warnings, sep="\n  ")
        assert any("database" in line and "unreachable" in line for line in warnings), lines
        assert len(warnings) <= 4, f"{len(warnings)} warnings for one outage:\n" + "\n".join(
            warnings
        )
        assert not [line for line in lines if " ERROR " in line or "Traceback" in line], lines
