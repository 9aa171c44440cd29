"""Flag delivery as an SDK sees it, through the real server: evaluation, the snapshot, key
powers and isolation, the server and client SSE streams, slow subscribers, limits, metrics.

Streams are read with `SseStream`, a raw-socket client with explicit timeouts and no
background thread, so a test sees the exact bytes and headers the server sent. "Nothing was
sent" is asserted with a barrier: after the change that must send nothing, a change that must
send something is made, and the next event has to be that one.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import launchsequence_engine as engine
import orjson
import pytest

from launchsequence.app import create_app
from tests.support.api import ApiUser, signup
from tests.support.live import LiveServer

# --- helpers -------------------------------------------------------------------------------

#: One client for the whole module: a new httpx client costs ~60 ms (its TLS context).
HTTP = httpx.Client(timeout=10)


@dataclass
class Env:
    """A signed-up user's `default` project, with the SDK keys of its production environment."""

    url: str
    user: ApiUser
    base: str  # /api/v1/orgs/{org}/projects/default
    server_key: str
    client_key: str


def setup_env(url: str, email: str, project: str = "default", org: str | None = None) -> Env:
    user = signup(url, email)
    return env_of(url, user, org or user.org, project)


def env_of(url: str, user: ApiUser, org: str, project: str, env: str = "production") -> Env:
    base = f"/api/v1/orgs/{org}/projects/{project}"
    return Env(url, user, base, server_key(user, base, env), client_key(user, base, env))


def server_key(user: ApiUser, base: str, env: str = "production") -> str:
    body = {"kind": "server", "grace_seconds": 0}
    r = user.post(f"{base}/environments/{env}/sdk-keys", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def client_key(user: ApiUser, base: str, env: str = "production") -> str:
    r = user.get(f"{base}/environments/{env}")
    assert r.status_code == 200, r.text
    return next(str(k["key"]) for k in r.json()["sdk_keys"] if k["kind"] == "client")


def make_flag(e: Env, key: str, config: dict[str, Any] | None = None, **fields: Any) -> None:
    r = e.user.post(f"{e.base}/flags", json={"key": key, **fields})
    assert r.status_code == 201, r.text
    if config is not None:
        configure(e, key, config)


def configure(e: Env, key: str, config: dict[str, Any], env: str = "production") -> int:
    """PUT a configuration (PATCH when it lacks `fallthrough`); the configuration's version."""
    path = f"{e.base}/flags/{key}/environments/{env}"
    write = e.user.put if "fallthrough" in config else e.user.patch
    r = write(path, json=config)
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


def toggle(e: Env, key: str, on: bool, env: str = "production") -> None:
    configure(e, key, {"on": on}, env)


def sdk(url: str, path: str, key: str | None, body: Any = None, **headers: str) -> httpx.Response:
    if key is not None:
        headers.setdefault("Authorization", f"Bearer {key}")
    if body is None:
        return HTTP.get(url + path, headers=headers, timeout=10)
    return HTTP.post(url + path, json=body, headers=headers, timeout=10)


def evaluate(e: Env, context: dict[str, Any], flags: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"context": context}
    if flags is not None:
        body["flags"] = flags
    r = sdk(e.url, "/sdk/v1/evaluate", e.server_key, body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def raw_request(
    url: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A request with headers exactly as given (httpx refuses some malformed ones)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        answer = {k.lower(): v for k, v in response.getheaders()}
        return response.status, answer, response.read()
    finally:
        conn.close()


def metrics(url: str) -> dict[str, float]:
    """`/metrics` as {"name{labels}": value}."""
    r = HTTP.get(f"{url}/metrics", timeout=10)
    assert r.status_code == 200
    out: dict[str, float] = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {message}")
        time.sleep(0.02)


def b64(context: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(context)).decode().rstrip("=")


@dataclass
class Event:
    event: str | None = None
    id: str | None = None
    data: Any = None
    retry: int | None = None
    comment: str | None = None


class SseStream:
    """A raw-socket HTTP/1.1 SSE client: `open()` reads the head, `next_event()` one event."""

    def __init__(
        self,
        base_url: str,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        rcvbuf: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect(), so that the window is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((parts.hostname, parts.port))
        lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""  # a non-streaming answer (an error)
        self.eof = False
        self._raw = bytearray()  # received, not yet de-chunked
        self._text = bytearray()  # de-chunked event stream, not yet parsed

    def open(self, timeout: float = 5.0) -> SseStream:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._raw:
            self._recv(deadline)
        head, _, rest = bytes(self._raw).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._raw = bytearray(rest)
        if "content-length" in self.headers:
            length = int(self.headers["content-length"])
            while len(self._raw) < length:
                self._recv(deadline)
            self.body = bytes(self._raw[:length])
        return self

    def json(self) -> Any:
        return orjson.loads(self.body)

    def _recv(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("nothing arrived in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            raise TimeoutError("nothing arrived in time") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise EOFError("the server closed the stream")
        self._raw += data
        self._dechunk()

    def _dechunk(self) -> None:
        if not self.status:
            return
        while True:
            end = self._raw.find(b"\r\n")
            if end < 0:
                return
            size = int(self._raw[:end].split(b";")[0], 16)
            if len(self._raw) < end + 2 + size + 2:
                return
            self._text += self._raw[end + 2 : end + 2 + size]
            del self._raw[: end + 2 + size + 2]
            if size == 0:
                self.eof = True
                return

    def next_event(self, timeout: float = 5.0, *, heartbeats: bool = False) -> Event:
        """The next event (comments only with `heartbeats`); TimeoutError, EOFError."""
        deadline = time.monotonic() + timeout
        self._dechunk()
        while True:
            end = self._text.find(b"\n\n")
            if end >= 0:
                block = bytes(self._text[:end]).decode()
                del self._text[: end + 2]
                ev = _parse_event(block)
                if ev.comment is not None and not heartbeats:
                    continue
                return ev
            if self.eof:
                raise EOFError("the server closed the stream")
            self._recv(deadline)

    def next_data_event(self, timeout: float = 5.0) -> Event:
        """The next event with data (skips the `retry:` hint)."""
        while True:
            ev = self.next_event(timeout)
            if ev.retry is None:
                return ev

    def drain_until_closed(self, timeout: float = 10.0) -> int:
        """Read until the server closes the connection; the bytes read."""
        deadline = time.monotonic() + timeout
        total = 0
        with contextlib.suppress(EOFError):
            while True:
                before = len(self._raw)
                self._recv(deadline)
                total += len(self._raw) - before
                self._text.clear()
        return total

    def close(self) -> None:
        self.sock.close()


def _parse_event(block: str) -> Event:
    ev = Event()
    for line in block.split("\n"):
        if line.startswith(":"):
            ev.comment = line[1:].strip()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            ev.data = orjson.loads(value)
        elif name == "event":
            ev.event = value
        elif name == "id":
            ev.id = value
        elif name == "retry":
            ev.retry = int(value)
    return ev


@contextlib.contextmanager
def stream(url: str, path: str, headers: dict[str, str] | None = None) -> Iterator[SseStream]:
    s = SseStream(url, path, headers)
    try:
        yield s.open()
    finally:
        s.close()


@contextlib.contextmanager
def custom_server(make_settings: Callable[..., Any], clock: Any, **overrides: Any) -> Iterator[str]:
    server = LiveServer(create_app(make_settings(**overrides), clock=clock)).start()
    try:
        yield server.url
    finally:
        server.stop()


BOOL = {"on": True, "off_variation": 1, "fallthrough": {"variation": 0}}


# --- evaluation ----------------------------------------------------------------------------


def test_evaluate_reads_its_own_writes_at_once(live_any_db):
    e = setup_env(live_any_db.url, "ryw@example.com")
    make_flag(e, "ryw", {"on": False, "off_variation": 1, "fallthrough": {"variation": 0}})
    for i in range(20):
        on = i % 2 == 0
        toggle(e, "ryw", on)
        result = evaluate(e, {"key": "u-1"}, ["ryw"])["flags"]["ryw"]
        assert result["value"] is on, f"toggle {i}: the answer right after the write is stale"
        assert result["reason"] == ("STATIC" if on else "DISABLED")


def test_evaluate_answer_shapes(live):
    e = setup_env(live.url, "shapes@example.com")
    make_flag(
        e,
        "checkout",
        {
            "on": True,
            "off_variation": 1,
            "targets": [{"variation": 0, "values": ["vip-1"]}],
            "rules": [
                {"id": "eu", "clauses": [{"attribute": "country", "op": "in", "values": ["DE"]}],
                 "serve": {"variation": 0}},
            ],
            "fallthrough": {"variation": 1},
        },
    )  # fmt: skip
    make_flag(e, "dark", {"on": False, "off_variation": 1, "fallthrough": {"variation": 0}})

    both = evaluate(e, {"key": "u-1", "country": "DE"})
    assert set(both["flags"]) == {"checkout", "dark"}
    assert isinstance(both["version"], int)
    assert both["flags"]["checkout"] == {
        "value": True, "variation": 0, "variant": "On", "reason": "TARGETING_MATCH",
        "rule_id": "eu", "rule_index": 0,
    }  # fmt: skip
    assert both["flags"]["dark"] == {
        "value": False, "variation": 1, "variant": "Off", "reason": "DISABLED"
    }  # fmt: skip
    target = evaluate(e, {"key": "vip-1"}, ["checkout"])["flags"]["checkout"]
    assert target == {"value": True, "variation": 0, "variant": "On", "reason": "TARGETING_MATCH"}
    default = evaluate(e, {"key": "u-2", "country": "US"}, ["checkout"])["flags"]["checkout"]
    assert default == {"value": False, "variation": 1, "variant": "Off", "reason": "DEFAULT"}

    subset = evaluate(e, {"key": "u-1"}, ["dark", "no-such-flag"])["flags"]
    assert set(subset) == {"dark", "no-such-flag"}
    missing = subset["no-such-flag"]
    assert missing["reason"] == "ERROR" and missing["error_code"] == "FLAG_NOT_FOUND"
    assert missing["value"] is None and missing["variation"] is None

    url, key = live.url + "/sdk/v1/evaluate", {"Authorization": f"Bearer {e.server_key}"}
    bad = HTTP.post(url, content=b'{"context": {', headers=key)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    no_context = HTTP.post(url, json={"flags": ["dark"]}, headers=key)
    assert no_context.status_code == 400 and "error" in no_context.json()
    bad_flags = HTTP.post(url, json={"context": {"key": "u"}, "flags": "dark"}, headers=key)
    assert bad_flags.status_code == 400

    # The key is optional: a flag with no rollout by key answers without one.
    keyless = evaluate(e, {"country": "DE"})["flags"]
    assert set(keyless) == {"checkout", "dark"}
    assert keyless["checkout"]["reason"] == "TARGETING_MATCH"
    assert keyless["dark"]["reason"] == "DISABLED"


def test_snapshot_etag_and_local_evaluation_match_the_server(live):
    e = setup_env(live.url, "snap@example.com")
    r = e.user.put(
        f"{e.base}/environments/production/segments/beta-testers",
        json={"name": "Beta", "included": ["seg-1"]},
    )
    assert r.status_code in (200, 201), r.text
    make_flag(
        e,
        "banner",
        {"on": True, "off_variation": 1,
         "rules": [{"id": "seg", "clauses": [{"op": "segment_match", "values": ["beta-testers"]}],
                    "serve": {"variation": 0}}],
         "fallthrough": {"variation": 1}},
    )  # fmt: skip
    make_flag(
        e,
        "theme",
        {"on": True, "off_variation": 0,
         "rules": [{"id": "pro", "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
                    "serve": {"variation": 2}}],
         "fallthrough": {"rollout": {"weights": [{"variation": 0, "weight": 50_000},
                                                 {"variation": 1, "weight": 50_000}]}}},
        type="string",
        variations=[{"value": "light", "name": "Light"}, {"value": "dark", "name": "Dark"},
                    {"value": "neon", "name": "Neon"}],
    )  # fmt: skip
    make_flag(
        e, "limit", {"on": True, "off_variation": 0, "fallthrough": {"variation": 1},
                     "targets": [{"variation": 0, "values": ["u-3"]}]},
        type="number", variations=[{"value": 10}, {"value": 2.5}],
    )  # fmt: skip

    first = sdk(live.url, "/sdk/v1/snapshot?schema=2", e.server_key)
    assert first.status_code == 200
    document = first.json()
    assert first.headers["etag"] == f'"{document["version"]}"'
    assert document["flags"]["banner"]["rules"][0]["clauses"][0]["op"] == "segment_match"
    assert document["segments"]["beta-testers"]["included"] == ["seg-1"]

    compiled = engine.compile(document)
    contexts = [{"key": "seg-1"}, {"key": "u-2", "plan": "pro"}, {"key": "u-3"}]
    contexts += [{"key": f"user-{i}"} for i in range(12)]
    splits = set()
    for context in contexts:
        served = evaluate(e, context)["flags"]
        for key, answer in served.items():
            local = engine.evaluate(compiled, key, context)
            mine = {"value": local.value, "variation": local.variation,
                    "variant": local.variant, "reason": local.reason}  # fmt: skip
            if local.rule_id is not None:
                mine |= {"rule_id": local.rule_id, "rule_index": local.rule_index}
            assert answer == mine, (key, context)
            if local.reason == "SPLIT":
                splits.add(local.value)
    assert splits == {"light", "dark"}  # the rollout really split these twelve users

    cached = {"If-None-Match": first.headers["etag"]}
    same = sdk(live.url, "/sdk/v1/snapshot", e.server_key, **cached)
    assert same.status_code == 304 and same.content == b""
    assert same.headers["etag"] == first.headers["etag"]
    weak = sdk(live.url, "/sdk/v1/snapshot", e.server_key,
               **{"If-None-Match": f'"0", W/{first.headers["etag"]}'})  # fmt: skip
    assert weak.status_code == 304

    toggle(e, "banner", False)
    fresh = sdk(live.url, "/sdk/v1/snapshot", e.server_key, **cached)
    assert fresh.status_code == 200
    assert fresh.json()["version"] == document["version"] + 1
    assert fresh.headers["etag"] == f'"{document["version"] + 1}"'
    assert fresh.json()["flags"]["banner"]["on"] is False


# --- keys ----------------------------------------------------------------------------------

SECRETS = ["secret-attribute-plan", "secret-value-enterprise", "secret-target-user", "r-hidden"]


def test_server_key_sees_everything_and_client_key_only_client_side_values(live):
    e = setup_env(live.url, "powers@example.com")
    config = {
        "on": True,
        "off_variation": 1,
        "targets": [{"variation": 0, "values": ["secret-target-user"]}],
        "rules": [{"id": "r-hidden", "clauses": [{"attribute": "secret-attribute-plan", "op": "in",
                                                  "values": ["secret-value-enterprise"]}],
                   "serve": {"variation": 0}}],
        "fallthrough": {"variation": 1},
    }  # fmt: skip
    make_flag(e, "public-flag", config, client_side=True)
    make_flag(e, "server-only", config)

    snapshot = sdk(live.url, "/sdk/v1/snapshot", e.server_key)
    assert snapshot.status_code == 200
    assert snapshot.json()["flags"]["server-only"]["rules"][0]["id"] == "r-hidden"
    assert set(evaluate(e, {"key": "x"})["flags"]) == {"public-flag", "server-only"}

    for path, body in [
        ("/sdk/v1/snapshot", None),
        ("/sdk/v1/evaluate", {"context": {"key": "x"}}),
        ("/sdk/v1/stream", None),
    ]:
        r = sdk(live.url, path, e.client_key, body)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "forbidden"

    for context in [
        {"key": "secret-target-user"},
        {"key": "u-1", "secret-attribute-plan": "secret-value-enterprise"},
        {"key": "u-2"},
    ]:
        r = sdk(live.url, "/sdk/v1/client/evaluate", e.client_key, {"context": context})
        assert r.status_code == 200, r.text
        flags = r.json()["flags"]
        assert set(flags) == {"public-flag"}
        assert set(flags["public-flag"]) <= {"value", "variation", "variant", "reason"}
        text = r.text
        for word in ["rules", "targets", "clauses", "server-only", "r-hidden", *SECRETS[:2]]:
            assert word not in text, word
        if context["key"] != "secret-target-user":
            assert "secret-target-user" not in text
    rich = {"key": "u-1", "secret-attribute-plan": "secret-value-enterprise"}
    matched = sdk(live.url, "/sdk/v1/client/evaluate", e.client_key, {"context": rich})
    assert matched.json()["flags"]["public-flag"]["value"] is True

    # The client stream's first event carries the same values and nothing more.
    encoded = b64({"key": "u-9"})
    with stream(live.url, f"/sdk/v1/client/stream?key={e.client_key}&context={encoded}") as s:
        put = s.next_data_event()
        assert put.event == "put" and set(put.data["flags"]) == {"public-flag"}
        assert not any(word in orjson.dumps(put.data).decode() for word in SECRETS)


def test_keys_of_other_environments_projects_and_orgs_see_only_their_own(live):
    e = setup_env(live.url, "tenant@example.com")
    make_flag(e, "prod-only-on", {**BOOL, "targets": [{"variation": 0, "values": ["t-prod"]}]},
              client_side=True)  # fmt: skip

    staging = env_of(live.url, e.user, e.user.org, "default", "staging")
    r = e.user.post(f"/api/v1/orgs/{e.user.org}/projects", json={"key": "other", "name": "Other"})
    assert r.status_code == 201, r.text
    other_project = env_of(live.url, e.user, e.user.org, "other")
    make_flag(other_project, "other-project-flag", BOOL, client_side=True)
    r = e.user.post("/api/v1/orgs", json={"key": "second-org", "name": "Second"})
    assert r.status_code == 201, r.text
    r = e.user.post("/api/v1/orgs/second-org/projects", json={"key": "p", "name": "P"})
    assert r.status_code == 201, r.text
    other_org = env_of(live.url, e.user, "second-org", "p")
    make_flag(other_org, "other-org-flag", BOOL, client_side=True)

    # Staging has the project's flag, in staging's configuration (off), not production's.
    staged = evaluate(staging, {"key": "t-prod"})["flags"]
    assert staged == {"prod-only-on": {"value": False, "variation": 1, "variant": "Off",
                                       "reason": "DISABLED"}}  # fmt: skip
    staged_doc = sdk(live.url, "/sdk/v1/snapshot", staging.server_key).json()
    assert staged_doc["environment"] == "staging"
    assert "t-prod" not in orjson.dumps(staged_doc).decode()

    for own, foreign in [(other_project, "other-project-flag"), (other_org, "other-org-flag")]:
        everything = evaluate(own, {"key": "t-prod"})["flags"]
        assert set(everything) == {foreign}
        asked = evaluate(own, {"key": "t-prod"}, ["prod-only-on"])["flags"]["prod-only-on"]
        assert asked["error_code"] == "FLAG_NOT_FOUND"
        document = sdk(live.url, "/sdk/v1/snapshot", own.server_key).text
        assert "prod-only-on" not in document and "t-prod" not in document
        body = {"context": {"key": "t-prod"}}
        client = sdk(live.url, "/sdk/v1/client/evaluate", own.client_key, body)
        assert set(client.json()["flags"]) == {foreign}
    # ...and this environment's keys see none of theirs.
    assert set(evaluate(e, {"key": "u"})["flags"]) == {"prod-only-on"}


def test_bad_keys_all_get_the_same_401(live):
    e = setup_env(live.url, "badkey@example.com")
    tries = [
        {"Authorization": "Bearer ls_srv_not-a-real-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {e.server_key}"},
        {"Authorization": "garbage"},
        {"X-API-Key": "ls_srv_wrong"},
        {"X-API-Key": ""},
        {"Authorization": "Bearer " + "x" * 5000},
        {},
    ]
    answers = set()
    for headers in tries:
        for method, path, body in [
            ("POST", "/sdk/v1/evaluate", b'{"context": {"key": "u"}}'),
            ("GET", "/sdk/v1/snapshot", None),
            ("POST", "/sdk/v1/client/evaluate", b'{"context": {"key": "u"}}'),
        ]:
            status, answer_headers, content = raw_request(live.url, method, path, headers, body)
            assert status == 401, (headers, path, content)
            assert answer_headers["www-authenticate"] == "Bearer"
            answers.add(content)
    assert len(answers) == 1, answers
    assert orjson.loads(answers.pop())["error"]["code"] == "unauthorized"
    # The right key through X-API-Key works.
    ok = HTTP.post(f"{live.url}/sdk/v1/evaluate", json={"context": {"key": "u"}},
                    headers={"X-API-Key": e.server_key})  # fmt: skip
    assert ok.status_code == 200


def test_rotated_keys_stop_at_once_or_after_their_grace(live, clock):
    e = setup_env(live.url, "rotate@example.com")
    body = {"context": {"key": "u"}}
    assert sdk(live.url, "/sdk/v1/evaluate", e.server_key, body).status_code == 200
    with stream(live.url, "/sdk/v1/stream", {"Authorization": f"Bearer {e.server_key}"}) as s:
        assert s.next_data_event().event == "put"
        new = server_key(e.user, e.base)  # grace 0
        assert sdk(live.url, "/sdk/v1/evaluate", e.server_key, body).status_code == 401
        assert sdk(live.url, "/sdk/v1/evaluate", new, body).status_code == 200
        with pytest.raises(EOFError):  # its open stream is closed too
            s.next_data_event(timeout=3)

    r = e.user.post(f"{e.base}/environments/production/sdk-keys",
                    json={"kind": "server", "grace_seconds": 60})  # fmt: skip
    newest = r.json()["key"]
    assert sdk(live.url, "/sdk/v1/evaluate", new, body).status_code == 200
    assert sdk(live.url, "/sdk/v1/evaluate", newest, body).status_code == 200
    with stream(live.url, "/sdk/v1/stream", {"Authorization": f"Bearer {new}"}) as s:
        assert s.next_data_event().event == "put"
        clock.advance(59)
        assert sdk(live.url, "/sdk/v1/evaluate", new, body).status_code == 200
        clock.advance(2)
        assert sdk(live.url, "/sdk/v1/evaluate", new, body).status_code == 401
        assert sdk(live.url, "/sdk/v1/evaluate", newest, body).status_code == 200
        with pytest.raises(EOFError):  # the periodic check ends the expired key's stream
            s.next_data_event(timeout=3)

    old_client = e.client_key
    r = e.user.post(f"{e.base}/environments/production/sdk-keys",
                    json={"kind": "client", "grace_seconds": 0})  # fmt: skip
    assert r.status_code == 201
    assert sdk(live.url, "/sdk/v1/client/evaluate", old_client, body).status_code == 401
    assert sdk(live.url, "/sdk/v1/client/evaluate", r.json()["key"], body).status_code == 200


# --- the server stream ---------------------------------------------------------------------


def test_server_stream_put_patch_delete_and_resume(live):
    e = setup_env(live.url, "stream@example.com")
    make_flag(e, "alpha", {"on": False, "off_variation": 1, "fallthrough": {"variation": 0}})
    make_flag(e, "beta", BOOL)
    make_flag(e, "gamma", BOOL)
    auth = {"Authorization": f"Bearer {e.server_key}"}

    with stream(live.url, "/sdk/v1/stream", {**auth, "Accept-Encoding": "gzip"}) as s:
        assert s.status == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in s.headers["cache-control"]
        assert s.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in s.headers
        hint = s.next_event()
        assert hint.retry is not None and hint.retry > 0
        put = s.next_event()
        assert put.event == "put"
        version = int(put.id or 0)
        assert put.data["version"] == version
        assert set(put.data["flags"]) == {"alpha", "beta", "gamma"}
        assert put.data["flags"]["alpha"]["on"] is False

        toggle(e, "alpha", True)
        patch = s.next_event()
        assert (patch.event, patch.id) == ("patch", str(version + 1))
        assert patch.data["kind"] == "flag" and patch.data["key"] == "alpha"
        assert patch.data["version"] == version + 1
        assert patch.data["flag"]["on"] is True and patch.data["flag"]["key"] == "alpha"

        # beta is on: deleting it asks for force.
        assert e.user.delete(f"{e.base}/flags/beta", params={"force": "true"}).status_code == 204
        gone = s.next_event()
        assert (gone.event, gone.id) == ("delete", str(version + 2))
        assert gone.data == {"version": version + 2, "kind": "flag", "key": "beta"}

        archived = e.user.patch(
            f"{e.base}/flags/gamma", params={"force": "true"}, json={"archived": True}
        )
        assert archived.status_code == 200, archived.text
        retired = s.next_event()
        assert (retired.event, retired.data["key"]) == ("delete", "gamma")
        current = int(retired.id or 0)
        assert current == version + 3

    # Resuming at the current version: no put, the next change only.
    with stream(live.url, "/sdk/v1/stream", {**auth, "Last-Event-ID": str(current)}) as s:
        assert s.next_event().retry is not None
        toggle(e, "alpha", False)
        nxt = s.next_event()
        assert (nxt.event, nxt.id, nxt.data["key"]) == ("patch", str(current + 1), "alpha")
    # Resuming at an older version: a fresh put.
    with stream(live.url, "/sdk/v1/stream", {**auth, "Last-Event-ID": str(current)}) as s:
        put = s.next_data_event()
        assert (put.event, put.id) == ("put", str(current + 1))
        assert set(put.data["flags"]) == {"alpha"}


def test_heartbeat_and_stream_limits(make_settings, clock):
    with custom_server(
        make_settings, clock, sse_heartbeat_seconds=1, max_streams=3, max_streams_per_key=2
    ) as url:
        e = setup_env(url, "limits@example.com")
        make_flag(e, "f", BOOL, client_side=True)
        auth = {"Authorization": f"Bearer {e.server_key}"}
        client_path = f"/sdk/v1/client/stream?key={e.client_key}&context={b64({'key': 'u'})}"
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(stream(url, "/sdk/v1/stream", auth))
            assert first.next_data_event().event == "put"
            # A heartbeat within its interval (1 s) plus one second, or next_event times out.
            beat = first.next_event(timeout=2.0, heartbeats=True)
            assert beat.comment == "heartbeat"

            second = stack.enter_context(stream(url, "/sdk/v1/stream", auth))
            assert second.next_data_event().event == "put"
            third = stack.enter_context(stream(url, "/sdk/v1/stream", auth))
            assert third.status == 503
            assert int(third.headers["retry-after"]) > 0
            assert third.headers["content-type"].startswith("application/json")
            assert third.json()["error"]["code"] == "too_many_streams"

            browser = stack.enter_context(stream(url, client_path))
            assert browser.status == 200 and browser.next_data_event().event == "put"
            over = stack.enter_context(stream(url, client_path))  # 4th in all, 1st of its key
            assert over.status == 503 and "retry-after" in over.headers
            assert over.json()["error"]["code"] == "too_many_streams"

            toggle(e, "f", False)
            for s in (first, second):
                assert s.next_data_event().data["flag"]["on"] is False
            assert browser.next_data_event().data["flags"]["f"]["value"] is False
            refused = metrics(url)
            assert refused['launchseq_stream_refused_total{limit="key"}'] == 1
            assert refused['launchseq_stream_refused_total{limit="total"}'] == 1

            second.close()  # a slot frees up once the server notices
            wait_for(lambda: metrics(url)['launchseq_open_streams{kind="server"}'] == 1,
                     message="the closed stream is released")  # fmt: skip
            again = stack.enter_context(stream(url, "/sdk/v1/stream", auth))
            assert again.status == 200


# --- the client stream ---------------------------------------------------------------------


def test_client_stream_sends_only_changes_of_its_own_values(live):
    e = setup_env(live.url, "client-stream@example.com")
    make_flag(e, "banner", BOOL, client_side=True)
    make_flag(e, "pricing", BOOL, client_side=True)
    make_flag(e, "internal", BOOL)
    context = b64({"key": "me", "plan": "free"})
    with stream(live.url, f"/sdk/v1/client/stream?key={e.client_key}&context={context}") as s:
        put = s.next_data_event()
        assert put.event == "put"
        version = int(put.id or 0)
        assert put.data["flags"] == {
            "banner": {"value": True, "variation": 0, "variant": "On", "reason": "STATIC"},
            "pricing": {"value": True, "variation": 0, "variant": "On", "reason": "STATIC"},
        }

        toggle(e, "banner", False)
        patch = s.next_data_event()
        assert (patch.event, patch.id) == ("patch", str(version + 1))
        assert patch.data["flags"] == {
            "banner": {"value": False, "variation": 1, "variant": "Off", "reason": "DISABLED"}
        }
        assert patch.data["deleted"] == []

        toggle(e, "internal", False)  # not client-side: nothing for browsers
        configure(e, "pricing", {"targets": [{"variation": 1, "values": ["someone-else"]}]})
        # Same value, but now targeting exists: the reason goes from STATIC to DEFAULT.
        retargeted = s.next_data_event()
        assert retargeted.data["flags"] == {
            "pricing": {"value": True, "variation": 0, "variant": "On", "reason": "DEFAULT"}
        }
        configure(e, "pricing", {"rules": [{"clauses": [{"attribute": "plan", "op": "in",
                                                         "values": ["pro"]}],
                                            "serve": {"variation": 1}}]})  # fmt: skip
        toggle(e, "banner", True)  # the barrier: this one changes my value
        nxt = s.next_data_event()
        assert (nxt.event, nxt.id) == ("patch", str(version + 5))
        assert set(nxt.data["flags"]) == {"banner"}

        configure(e, "pricing", {"targets": [{"variation": 1, "values": ["me"]}]})
        mine = s.next_data_event()
        targeted = {"value": False, "variation": 1, "variant": "Off", "reason": "TARGETING_MATCH"}
        assert mine.data["flags"] == {"pricing": targeted}

        deleted = e.user.delete(f"{e.base}/flags/pricing", params={"force": "true"})
        assert deleted.status_code == 204
        gone = s.next_data_event()
        assert gone.data["flags"] == {} and gone.data["deleted"] == ["pricing"]

        configure(e, "internal", {"client_side": True})  # becomes visible: sent
        shown = s.next_data_event()
        assert shown.data["flags"]["internal"]["value"] is False


# --- slow subscribers ----------------------------------------------------------------------


def test_a_slow_subscriber_is_dropped_and_the_others_get_everything(make_settings, clock):
    with custom_server(make_settings, clock, stream_max_buffer_bytes=65_536) as url:
        e = setup_env(url, "slow@example.com")
        # Two flags with ~600 KB of targets each: every patch of one is ~600 KB.
        for name in ("big-a", "big-b"):
            values = [f"{name}-user-{i:05d}-{'x' * 40}" for i in range(10_000)]
            make_flag(e, name, {**BOOL, "targets": [{"variation": 0, "values": values}]})
        auth = {"Authorization": f"Bearer {e.server_key}"}
        slow = SseStream(url, "/sdk/v1/stream", auth, rcvbuf=4096)  # never read until dropped
        try:
            with stream(url, "/sdk/v1/stream", auth) as reader:
                assert reader.next_data_event(timeout=10).event == "put"
                wait_for(lambda: metrics(url)['launchseq_open_streams{kind="server"}'] == 2)
                seen: list[tuple[str, bool]] = []
                expected: list[tuple[str, bool]] = []
                ids: list[int] = []
                dropped = 0.0
                for i in range(40):
                    name, on = ("big-a", "big-b")[i % 2], (i // 2) % 2 == 1
                    toggle(e, name, on)
                    expected.append((name, on))
                    ev = reader.next_data_event(timeout=10)
                    seen.append((ev.data["key"], ev.data["flag"]["on"]))
                    ids.append(int(ev.id or 0))
                    dropped = metrics(url).get('launchseq_stream_dropped_total{reason="slow"}', 0)
                    if dropped:
                        break
                assert dropped == 1, "the slow subscriber was never dropped"
                assert seen == expected, "the reader missed or reordered a change"
                assert ids == list(range(ids[0], ids[0] + len(ids)))
                # The dropped stream no longer counts as open...
                wait_for(lambda: metrics(url)['launchseq_open_streams{kind="server"}'] == 1,
                         message="the dropped stream is released")  # fmt: skip
                # ...and its socket ends once it reads.
                slow.drain_until_closed(timeout=10)
                assert slow.eof
                # The server still answers, and the reader still gets changes.
                assert evaluate(e, {"key": "u"}, ["big-a"])["flags"]["big-a"]["reason"]
                was = next(on for name, on in reversed(seen) if name == "big-a")
                toggle(e, "big-a", not was)
                toggle(e, "big-a", was)
                last = [reader.next_data_event(timeout=10) for _ in range(2)]
                assert [ev.data["flag"]["on"] for ev in last] == [not was, was]
                assert metrics(url)['launchseq_stream_dropped_total{reason="slow"}'] == 1
        finally:
            slow.close()


# --- metrics -------------------------------------------------------------------------------


def test_metrics_move_with_evaluations_streams_and_changes(live):
    e = setup_env(live.url, "metrics@example.com")
    make_flag(e, "m", BOOL, client_side=True)
    make_flag(e, "n", BOOL)
    text = HTTP.get(f"{live.url}/metrics").text
    for name, kind in [
        ("launchseq_evaluations_total", "counter"),
        ("launchseq_open_streams", "gauge"),
        ("launchseq_stream_events_sent_total", "counter"),
        ("launchseq_change_propagation_seconds", "histogram"),
        ("launchseq_hub_reloads_total", "counter"),
    ]:
        assert f"# TYPE {name} {kind}\n" in text, name

    evaluate(e, {"key": "u"})
    sdk(live.url, "/sdk/v1/client/evaluate", e.client_key, {"context": {"key": "u"}})
    after_eval = metrics(live.url)
    assert after_eval['launchseq_evaluations_total{endpoint="sdk"}'] == 2
    assert after_eval['launchseq_evaluations_total{endpoint="client"}'] == 1

    with stream(live.url, "/sdk/v1/stream", {"Authorization": f"Bearer {e.server_key}"}) as s:
        s.next_data_event()
        opened = metrics(live.url)
        assert opened['launchseq_open_streams{kind="server"}'] == 1
        sent = opened.get("launchseq_stream_events_sent_total", 0)
        count = opened.get("launchseq_change_propagation_seconds_count", 0)
        reloads = opened.get('launchseq_hub_reloads_total{cause="local"}', 0)
        toggle(e, "m", False)
        assert s.next_data_event().event == "patch"
        moved = wait_for(
            lambda: (m := metrics(live.url))["launchseq_stream_events_sent_total"] > sent and m,
            message="events sent",
        )
        assert moved["launchseq_stream_events_sent_total"] == sent + 1
        assert moved["launchseq_change_propagation_seconds_count"] == count + 1
        assert moved['launchseq_hub_reloads_total{cause="local"}'] == reloads + 1
    wait_for(lambda: metrics(live.url)['launchseq_open_streams{kind="server"}'] == 0,
             message="the closed stream is no longer counted")  # fmt: skip
