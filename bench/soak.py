"""Soak: mixed load on one server process for minutes; memory, errors and stream convergence.

    python bench/soak.py                                  # 15 s warm-up, then 120 s measured
    python bench/soak.py --seconds 30 --streams 200       # a short run

One real `launchseq serve` process on a fresh SQLite file in a temporary directory. A user,
a personal API token, one evaluated flag (bench/eval_http.py's: 100 targets, five rules, a
50/50 rollout) and five client-side flags are made through the REST API. Then, all at once:

- `--streams` SSE streams held open by a second process (asyncio, raw sockets, chunked HTTP and
  SSE parsed by hand): most on `GET /sdk/v1/stream` (server key), `--client-share` of them on
  `GET /sdk/v1/client/stream` (client key, one context each). A stream that ends is counted as
  dropped and reconnects with `Last-Event-ID`, as the SDKs do.
- evaluations from wrk (a third process), alternating `POST /sdk/v1/evaluate` and OFREP
  `POST /ofrep/v1/evaluate/flags/{key}` over 100 contexts, paced to about `--rate` requests a
  second so that the two cores keep room for the server and the streams;
- one write a second through the REST API with the token: a client-side flag toggled with
  `If-Match`, so every stream, server or client, gets every version.

The server's RSS (VmRSS) is sampled every two seconds. After the warm-up, the figures of the
measured period: RSS growth, evaluations (median, p99, errors), writes, streams; after the last
write, the number of streams whose last `id:` is the environment's final version. Baselines,
measured in the same run before any load: the SDK path's cheapest answer (GET /sdk/v1/snapshot
answered 304) from wrk paced the same, a `GET /healthz` round trip from httpx (as the writes),
and the idle RSS.
Exits 1 if an acceptance condition fails: any evaluation error, failed write, dropped or refused
stream, error in the server's log, RSS growth over `--max-growth` % after the warm-up, or a
stream not on the final version.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
stream_bench: Any = importlib.import_module("stream")  # free_port, rss_mb, percentile
eval_bench: Any = importlib.import_module("eval_http")  # the evaluated flag's configuration

TOGGLED = [f"soak-{i}" for i in range(5)]
SAMPLE_SECONDS = 2.0
BASELINE_SECONDS = 5

# --- the stream process --------------------------------------------------------------------


class Streams:
    """Many SSE streams in one event loop; each remembers the last `id:` it saw."""

    def __init__(self, port: int, paths: list[str], server_key: str) -> None:
        self.port = port
        self.paths = paths
        self.server_key = server_key
        self.last_id: list[int | None] = [None] * len(paths)
        self.connected = [False] * len(paths)
        self.counts = {
            "opened": 0,
            "reconnected": 0,
            "dropped": 0,
            "refused": 0,
            "connect_errors": 0,
            "events": 0,
            "heartbeats": 0,
        }
        self.stopping = False

    def request(self, i: int) -> bytes:
        lines = [
            f"GET {self.paths[i]} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Accept: text/event-stream",
        ]
        if self.paths[i] == "/sdk/v1/stream":
            lines.append(f"Authorization: Bearer {self.server_key}")
        if self.last_id[i] is not None:
            lines.append(f"Last-Event-ID: {self.last_id[i]}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def hold(self, i: int) -> None:
        """Keep stream `i` open until stopped, reconnecting (bounded back-off) when it ends."""
        opens = 0
        while not self.stopping:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port), 10
                )
            except (OSError, TimeoutError):
                self.counts["connect_errors"] += 1
                await asyncio.sleep(min(5.0, 1.0 + opens))
                continue
            outcome = "dropped"  # until the answer says otherwise: no answer, or cut short
            try:
                writer.write(self.request(i))
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                if int(head.split(b" ", 2)[1]) != 200:
                    outcome = "refused"
                else:
                    opens += 1
                    self.counts["opened" if opens == 1 else "reconnected"] += 1
                    self.connected[i] = True
                    await self.read_events(i, reader, b"chunked" in head.lower())
            except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
                pass
            finally:
                self.connected[i] = False
                writer.close()
            if not self.stopping:
                self.counts[outcome] += 1
                await asyncio.sleep(min(5.0, 1.0 + opens))

    async def read_events(self, i: int, reader: asyncio.StreamReader, chunked: bool) -> None:
        pending = b""
        while True:
            if chunked:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                data = (await reader.readexactly(size + 2))[:-2]
            else:
                data = await reader.read(1 << 16)
                if not data:
                    return
            pending += data
            while b"\n\n" in pending:
                block, pending = pending.split(b"\n\n", 1)
                if block.startswith(b":"):
                    self.counts["heartbeats"] += 1
                    continue
                for line in block.split(b"\n"):
                    if line.startswith(b"id: "):
                        self.last_id[i] = int(line[4:])
                        self.counts["events"] += 1

    def on_version(self, version: int) -> int:
        return sum(1 for v in self.last_id if v == version)


def _emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


async def run_streams(
    port: int, server_key: str, client_key: str, count: int, client_share: float, settle: float
) -> None:
    """Open the streams, say `ready`, then on `final V` from stdin wait (up to `settle` s) for
    every stream to have seen id V and report. Ends when stdin closes."""
    clients = round(count * client_share)
    paths = ["/sdk/v1/stream"] * (count - clients)
    for n in range(clients):
        context = json.dumps({"key": f"browser-{n}", "plan": ["free", "pro"][n % 2]}).encode()
        encoded = base64.urlsafe_b64encode(context).rstrip(b"=").decode()
        paths.append(f"/sdk/v1/client/stream?key={client_key}&context={encoded}")
    streams = Streams(port, paths, server_key)
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(streams.hold(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # a burst of 50 connections at a time
    deadline = time.monotonic() + 120
    while any(v is None for v in streams.last_id) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    _emit(
        {
            "ready": sum(v is not None for v in streams.last_id),
            "of": count,
            "server": count - clients,
            "client": clients,
        }
    )
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.startswith("final"):
            break
        version = int(line.split()[1])
        started = time.monotonic()
        while streams.on_version(version) < count and time.monotonic() - started < settle:
            await asyncio.sleep(0.05)
        behind = sorted({str(v) for v in streams.last_id if v != version})
        _emit(
            {
                "final": version,
                "on_final": streams.on_version(version),
                "of": count,
                "waited": round(time.monotonic() - started, 2),
                "behind_ids": behind[:10],
                "connected": sum(streams.connected),
                **streams.counts,
            }
        )
    streams.stopping = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- evaluations: wrk ----------------------------------------------------------------------


def wrk_script(server_key: str, pause_ms: int, etag: str = "") -> str:
    """Lua for wrk: 100 contexts, /sdk/v1/evaluate and OFREP alternating, with `pause_ms`
    between a connection's requests. With `etag`, the baseline instead: the SDK path's cheapest
    answer, GET /sdk/v1/snapshot with that If-None-Match (the key checked, then 304)."""
    entries: list[tuple[str, str, str | None]] = []
    for n in range(100):
        context = {"country": "ZZ", "email": f"u{n}@example.com", "age": 30, "beta": False}
        sdk = json.dumps({"context": {"key": f"user-{n}", **context}, "flags": ["checkout"]})
        ofrep = json.dumps({"context": {"targetingKey": f"user-{n}", **context}})
        entries.append(("POST", "/sdk/v1/evaluate", sdk))
        entries.append(("POST", "/ofrep/v1/evaluate/flags/checkout", ofrep))
    if etag:
        entries = [("GET", "/sdk/v1/snapshot", None)]
    rows = ",\n".join(
        f"  {{{json.dumps(m)}, {json.dumps(p)}, {json.dumps(b) if b else 'nil'}}}"
        for m, p, b in entries
    )
    match = json.dumps(etag) if etag else "nil"
    return (
        f"local entries = {{\n{rows}\n}}\n"
        "local requests = {}\nlocal n = 0\n"
        "function init(args)\n"
        "  for _, e in ipairs(entries) do\n"
        '    local headers = {["Content-Type"] = "application/json",\n'
        f'                     ["Authorization"] = "Bearer {server_key}",\n'
        f'                     ["If-None-Match"] = {match}}}\n'
        "    requests[#requests + 1] = wrk.format(e[1], e[2], headers, e[3])\n"
        "  end\n"
        "end\n"
        "function request()\n  n = n % #requests + 1\n  return requests[n]\nend\n"
        f"function delay()\n  return {pause_ms}\nend\n"
    )


def start_wrk(base: str, script: Path, seconds: float, connections: int) -> subprocess.Popen[str]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        base,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_figures(out: str) -> dict[str, float]:
    def ms(label: str) -> float:
        match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", out)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * (1000 if unit == "s" else 1)

    done = re.search(r"(\d+) requests in ([\d.]+)(m|s)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "requests": float(done.group(1)) if done else 0.0,
        "rps": float(rate.group(1)) if rate else 0.0,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in socket_errors.groups()))
        if socket_errors
        else 0.0,
    }


# --- the driver ----------------------------------------------------------------------------


class Lines:
    """JSON lines from a child's stdout, read by a thread so that every wait is bounded."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: [self.queue.put(x) for x in stdout], daemon=True).start()

    def next(self, timeout: float) -> dict[str, Any]:
        try:
            return dict(json.loads(self.queue.get(timeout=timeout)))
        except queue.Empty:
            raise SystemExit(f"the stream process said nothing for {timeout:.0f} s") from None


def start_server(port: int, data_dir: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LAUNCHSEQ_DATA_DIR": data_dir,
        "LAUNCHSEQ_MAX_STREAMS_PER_KEY": "20000",
        "LAUNCHSEQ_LOG_LEVEL": "warning",
    }
    env.pop("LAUNCHSEQ_DATABASE_URL", None)
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the server
        server = subprocess.Popen(
            # One process: its RSS and CPU are the server's (the default: a worker per CPU).
            [sys.executable, "-m", "launchsequence", "serve", "--port", f"{port}", "--workers=1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start:\n" + log.read_text()[-2000:])


def setup(base: str) -> tuple[httpx.Client, str, str, str]:
    """A user, a personal API token, the flags; the token client, project path and SDK keys."""
    with httpx.Client(base_url=base, timeout=30) as session:
        me = session.post(
            "/api/v1/auth/signup",
            json={"email": "soak@example.com", "password": "benchmark-pw", "name": "Soak"},
        )
        me.raise_for_status()
        session.headers["X-CSRF-Token"] = me.json()["csrf_token"]
        token = session.post("/api/v1/tokens", json={"name": "soak"})
        token.raise_for_status()
    api = httpx.Client(
        base_url=base, timeout=30, headers={"Authorization": f"Bearer {token.json()['token']}"}
    )
    project = f"/api/v1/orgs/{me.json()['organizations'][0]['key']}/projects/default"
    api.post(f"{project}/flags", json={"key": "checkout"}).raise_for_status()
    config = f"{project}/flags/checkout/environments/production"
    api.put(config, json=eval_bench.flag_config()).raise_for_status()
    for key in TOGGLED:
        api.post(f"{project}/flags", json={"key": key, "client_side": True}).raise_for_status()
        api.patch(
            f"{project}/flags/{key}/environments/production", json={"on": True}
        ).raise_for_status()
    rotated = api.post(
        f"{project}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
    )
    rotated.raise_for_status()
    environment = api.get(f"{project}/environments/production").json()
    client_key = next(k["key"] for k in environment["sdk_keys"] if k["kind"] == "client")
    return api, project, rotated.json()["key"], client_key


class Writer:
    """One write a second: toggles the client-side flags in turn, with If-Match."""

    def __init__(self, api: httpx.Client, project: str) -> None:
        self.api = api
        self.project = project
        self.state = {key: (True, 0) for key in TOGGLED}  # on, version (0: not read yet)
        self.done = 0
        self.failed: list[str] = []
        self.latencies: list[float] = []

    def write(self, n: int) -> None:
        key = TOGGLED[n % len(TOGGLED)]
        path = f"{self.project}/flags/{key}/environments/production"
        on, version = self.state[key]
        try:
            if not version:
                version = int(self.api.get(path).json()["version"])
            started = time.perf_counter()
            answer = self.api.patch(path, json={"on": not on}, headers={"If-Match": f'"{version}"'})
            self.latencies.append((time.perf_counter() - started) * 1000)
        except httpx.HTTPError as exc:
            self.failed.append(f"{type(exc).__name__}: {exc}")
            return
        if answer.status_code != 200:
            self.failed.append(f"{answer.status_code} {answer.text[:200]}")
            self.state[key] = (on, 0)
            return
        self.done += 1
        self.state[key] = (bool(answer.json()["on"]), int(answer.json()["version"]))


def drive(seconds: float, writer: Writer, pid: int) -> list[tuple[float, float]]:
    """Write once a second for `seconds`; RSS samples (elapsed s, MB) every SAMPLE_SECONDS."""
    started = time.monotonic()
    samples = [(0.0, stream_bench.rss_mb(pid))]
    next_sample = SAMPLE_SECONDS
    tick = 0
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            break
        if elapsed >= tick:
            writer.write(tick)
            tick += 1
        if elapsed >= next_sample:
            samples.append((elapsed, stream_bench.rss_mb(pid)))
            next_sample += SAMPLE_SECONDS
        time.sleep(max(0.0, min(tick, next_sample) - (time.monotonic() - started)))
    samples.append((time.monotonic() - started, stream_bench.rss_mb(pid)))
    return samples


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def finish(proc: subprocess.Popen[Any], timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def server_metrics(base: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("launchseq_") and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def log_errors(log: Path) -> list[str]:
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line or "Exception" in line
    ]


def soak(args: argparse.Namespace, work: Path) -> int:
    load_before = os.getloadavg()[0]
    port = stream_bench.free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    server = start_server(port, str(work / "data"), log)
    children: list[subprocess.Popen[Any]] = []
    try:
        api, project, server_key, client_key = setup(base)
        pause_ms = max(0, round(args.connections * 1000 / args.rate))
        etag = httpx.get(
            f"{base}/sdk/v1/snapshot", headers={"Authorization": f"Bearer {server_key}"}
        ).headers["etag"]
        script = work / "baseline.lua"  # the evaluations' baseline: wrk, paced the same
        script.write_text(wrk_script(server_key, pause_ms, etag=etag))
        probe = start_wrk(base, script, BASELINE_SECONDS, args.connections)
        children.append(probe)
        baseline = wrk_figures(probe.communicate(timeout=BASELINE_SECONDS + 60)[0])
        healthz = []  # the writes' baseline: httpx, one request at a time, as the writes
        for _ in range(50):
            started = time.perf_counter()
            api.get("/healthz")
            healthz.append((time.perf_counter() - started) * 1000)
        rss_idle = stream_bench.rss_mb(server.pid)

        streams = subprocess.Popen(
            [
                sys.executable,
                str(HERE),
                "--stream-process",
                str(port),
                server_key,
                client_key,
                str(args.streams),
                str(args.client_share),
                str(args.settle),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(streams)
        lines = Lines(streams)
        ready = lines.next(timeout=150)
        rss_streams = stream_bench.rss_mb(server.pid)

        script = work / "evaluate.lua"
        script.write_text(wrk_script(server_key, pause_ms))
        writer = Writer(api, project)

        warm_wrk = start_wrk(base, script, args.warmup, args.connections)
        children.append(warm_wrk)
        warm_samples = drive(args.warmup, writer, server.pid)
        warm_out = warm_wrk.communicate(timeout=args.warmup + 60)[0]
        warm_writes, warm_failed = writer.done, list(writer.failed)
        writer.done, writer.failed, writer.latencies = 0, [], []

        load = start_wrk(base, script, args.seconds, args.connections)
        children.append(load)
        pids = (server.pid, streams.pid, load.pid)
        cpu_start = [cpu_seconds(p) for p in pids]
        samples = drive(args.seconds, writer, server.pid)
        cpu = [cpu_seconds(p) - c for p, c in zip(pids, cpu_start, strict=True)]
        load_out = load.communicate(timeout=args.seconds + 60)[0]

        final = int(
            httpx.get(
                f"{base}/sdk/v1/snapshot",
                timeout=30,
                headers={"Authorization": f"Bearer {server_key}"},
            ).json()["version"]
        )
        assert streams.stdin is not None
        streams.stdin.write(f"final {final}\n")
        streams.stdin.flush()
        result = lines.next(timeout=args.settle + 30)
        streams.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            streams.wait(timeout=15)
        metrics = server_metrics(base)
        load_after = os.getloadavg()[0]
        errors = log_errors(log)
    finally:
        for child in reversed(children):
            if child.poll() is None:
                finish(child, 15)
        finish(server, 15)

    warm = wrk_figures(warm_out)
    evals = wrk_figures(load_out)
    rss_warm = warm_samples[-1][1]
    rss_max = max(mb for _, mb in samples)
    rss_end = samples[-1][1]
    growth = (rss_max - rss_warm) / rss_warm * 100
    eval_errors = int(
        evals["non_2xx"] + evals["socket_errors"] + warm["non_2xx"] + warm["socket_errors"]
    )
    base_ms = statistics.median(healthz)

    print(
        f"\nload: {ready['of']:,} streams ({ready['server']:,} server, {ready['client']:,} "
        f"client; {ready['ready']:,} had their first event), evaluations paced to "
        f"~{args.rate:,}/s over {args.connections} connections, one write a second; "
        f"{args.warmup:.0f} s warm-up, then {args.seconds:.0f} s measured"
    )
    print(
        f"  baselines before any load: wrk paced the same on GET /sdk/v1/snapshot -> 304, median "
        f"{baseline['p50']:.2f} ms, p99 {baseline['p99']:.2f} ms; from httpx one at a time, "
        f"median {base_ms:.2f} ms; server RSS idle {rss_idle:.0f} MB, {rss_streams:.0f} MB "
        "with the streams open"
    )
    print(
        f"  server RSS: {rss_warm:.1f} MB after warm-up, max {rss_max:.1f} MB, end "
        f"{rss_end:.1f} MB; growth {growth:+.1f}% (max over after-warm-up; limit "
        f"{args.max_growth:.0f}%), end {(rss_end - rss_warm) / rss_warm * 100:+.1f}%"
    )
    trail = [f"{mb:.0f}" for t, mb in samples if round(t) % 20 == 0 or t == samples[-1][0]]
    print(f"  RSS (MB) about every 20 s of the measured period: {' '.join(trail)}")
    print(
        f"  evaluations: {evals['requests']:,.0f} ({evals['rps']:,.0f}/s), median "
        f"{evals['p50']:.2f} ms, p99 {evals['p99']:.2f} ms ({evals['p50'] / baseline['p50']:.1f}x "
        f"and {evals['p99'] / baseline['p99']:.1f}x the wrk baseline), errors {eval_errors} "
        f"(non-2xx {evals['non_2xx'] + warm['non_2xx']:.0f}, socket "
        f"{evals['socket_errors'] + warm['socket_errors']:.0f}; "
        f"{warm['requests']:,.0f} more in the warm-up)"
    )
    write_ms = writer.latencies or [float("nan")]
    print(
        f"  writes: {writer.done} done, {len(writer.failed) + len(warm_failed)} failed "
        f"({warm_writes} more in the warm-up); median {statistics.median(write_ms):.1f} ms "
        f"({statistics.median(write_ms) / base_ms:.0f}x the httpx baseline), "
        f"p99 {stream_bench.percentile(write_ms, 0.99):.1f} ms"
    )
    print(
        f"  streams: {result['opened']:,} opened, {result['dropped']} dropped, "
        f"{result['reconnected']} reconnected, {result['refused']} refused, "
        f"{result['connect_errors']} connect errors; {result['connected']:,} open at the end; "
        f"{result['events']:,} events and {result['heartbeats']:,} heartbeats read"
    )
    dropped_server = sum(v for k, v in metrics.items() if k.startswith("launchseq_stream_dropped"))
    events_server = metrics.get("launchseq_stream_events_sent_total", float("nan"))
    print(
        f"  server says: {events_server:,.0f} events sent, {dropped_server:.0f} streams "
        f"dropped, {len(errors)} error line(s) in its log"
    )
    share = [f"{c / args.seconds:.0%}" for c in cpu]
    print(
        f"  CPU over the measured period (of one core): server {share[0]}, stream process "
        f"{share[1]}, wrk {share[2]}; load average {load_before:.2f} before the run, "
        f"{load_after:.2f} at its end (1 min)"
    )
    print(
        f"  {result['on_final']}/{result['of']} subscribers on final version {final} "
        f"(waited {result['waited']} s after the last write)"
    )

    conditions = [
        ("no evaluation error", eval_errors == 0 and evals["requests"] > 0),
        ("no failed write", not writer.failed and not warm_failed and writer.done > 0),
        (
            "no stream dropped or refused",
            result["dropped"] + result["refused"] + result["connect_errors"] == 0
            and ready["ready"] == args.streams,
        ),
        ("no error in the server's log", not errors),
        (f"RSS growth after warm-up within {args.max_growth:.0f}%", growth <= args.max_growth),
        ("every subscriber on the final version", result["on_final"] == args.streams),
    ]
    for failure in (writer.failed + warm_failed)[:5]:
        print(f"  write failure: {failure}")
    for line in errors[:10]:
        print(f"  server log: {line}")
    if result["behind_ids"]:
        print(f"  last ids of streams behind: {', '.join(result['behind_ids'])}")
    print()
    for name, ok in conditions:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in conditions) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120, help="measured period (120)")
    parser.add_argument("--warmup", type=float, default=15, help="warm-up before it (15)")
    parser.add_argument("--streams", type=int, default=1000, help="SSE streams held open (1000)")
    parser.add_argument(
        "--client-share", type=float, default=0.2, help="share of them on the client stream (0.2)"
    )
    parser.add_argument("--rate", type=int, default=1000, help="evaluations a second (~1000)")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (10)")
    parser.add_argument(
        "--settle",
        type=float,
        default=30,
        help="longest wait for the final version after the last write (30)",
    )
    parser.add_argument("--max-growth", type=float, default=10.0, help="RSS growth limit, %%")
    parser.add_argument("--stream-process", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.seconds, args.warmup, args.streams, args.rate, args.connections) <= 0:
        parser.error("--seconds, --warmup, --streams, --rate and --connections must be positive")
    if args.stream_process:
        port, server_key, client_key, count, share, settle = args.stream_process
        work = run_streams(
            int(port), server_key, client_key, int(count), float(share), float(settle)
        )
        try:
            import uvloop
        except ImportError:
            asyncio.run(work)
        else:
            uvloop.run(work)
        return 0
    print("Launch Sequence soak benchmark")
    print(f"  Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print(
        "  acceptance: no error, RSS growth after warm-up within 10%, every subscriber on the "
        "final version"
    )
    if shutil.which("wrk") is None:
        print("  wrk is not installed (Debian: apt-get install wrk); nothing measured")
        return 1
    with tempfile.TemporaryDirectory(prefix="launchseq-soak-") as work:
        return soak(args, Path(work))


if __name__ == "__main__":
    sys.exit(main())
