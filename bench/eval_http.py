"""Evaluation over HTTP: POST /sdk/v1/evaluate next to a constant endpoint, same server, same run.

    python bench/eval_http.py              # needs wrk (Debian: apt-get install wrk)
    python bench/eval_http.py --seconds 20 --connections 64
    python bench/eval_http.py --baseline-src /tmp/base   # another checkout beside this one

One `launchseq`-configured server process (uvicorn, uvloop, httptools, access log off, as
`launchseq serve` runs) serves the real application, plus two routes of the same framework that
answer a constant JSON body: the baselines. One is a bare Starlette route in front of the
application (the framework alone); the other sits behind the application's dispatcher and
middleware (security headers, body limit, CORS), as the SDK endpoints do. The evaluated flag
is the engine benchmark's: 100 individual targets, five rules (`in` over 20 values, string
equality, `ends_with`, `gt`, boolean equality) and a 50/50 rollout; the context falls through
to the rollout. wrk drives all three for the same time with the same connections; the
figures are requests per second and latency percentiles. Nothing fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, data_dir: str) -> None:
    """The server process: the real app plus the constant baseline route."""
    from starlette.requests import Request
    from starlette.responses import Response

    from launchsequence.app import create_app
    from launchsequence.config import load_settings

    settings = load_settings({"data_dir": data_dir, "log_level": "warning"})
    app = create_app(settings)
    constant = b'{"value":true,"variation":0,"variant":"On","reason":"DEFAULT"}'

    async def baseline(request: Request) -> Response:
        await request.body()
        return Response(constant, media_type="application/json")

    async def counting(request: Request) -> Response:
        # Usage counting on or off for the interleaved comparison (this process only).
        app.state.hubs.usage.enabled = request.query_params.get("on") == "1"
        return Response(b"{}", media_type="application/json")

    app.sdk.add_route("/sdk/v1/bench-constant", baseline, methods=["POST"])
    app.sdk.add_route("/sdk/v1/bench-counting", counting, methods=["POST"])
    run_beside_bare(app, settings, port)


def run_beside_bare(app: Any, settings: Any, port: int) -> None:
    """Serve `app` (the core's or an edge's) on 127.0.0.1:`port` as `launchseq serve` runs it,
    with the bare Starlette route `/bench-bare` in front of it."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from launchsequence.httpserver import head_limited_protocol

    constant = b'{"value":true,"variation":0,"variant":"On","reason":"DEFAULT"}'

    async def baseline(request: Request) -> Response:
        await request.body()
        return Response(constant, media_type="application/json")

    bare = Starlette(routes=[Route("/bench-bare", baseline, methods=["POST"])])

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/bench-bare":
            await bare(scope, receive, send)
        else:
            await app(scope, receive, send)

    uvicorn.run(
        outer,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        # As `launchseq serve` runs it: its HTTP protocol (limits and timeouts on heads and
        # bodies) and proxy headers from loopback.
        http=head_limited_protocol(
            settings.max_header_bytes,
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
        ),
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )


def flag_config() -> dict[str, object]:
    countries = [f"C{i:02d}" for i in range(20)]
    return {
        "on": True,
        "off_variation": 1,
        "targets": [{"variation": 0, "values": [f"target-{i}" for i in range(100)]}],
        "rules": [
            {
                "clauses": [{"attribute": "country", "op": "in", "values": countries}],
                "serve": {"variation": 0},
            },
            {
                "clauses": [{"attribute": "email", "op": "in", "values": ["vip@example.com"]}],
                "serve": {"variation": 0},
            },
            {
                "clauses": [{"attribute": "email", "op": "ends_with", "values": ["@corp.example"]}],
                "serve": {"variation": 0},
            },
            {
                "clauses": [{"attribute": "age", "op": "gt", "values": [120]}],
                "serve": {"variation": 0},
            },
            {
                "clauses": [{"attribute": "beta", "op": "in", "values": [True]}],
                "serve": {"variation": 0},
            },
        ],
        "fallthrough": {
            "rollout": {
                "weights": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]
            }
        },
    }


def setup(base: str) -> str:
    client = httpx.Client(base_url=base, timeout=30)
    body = client.post(
        "/api/v1/auth/signup", json={"email": "bench@example.com", "password": "benchmark-pw"}
    ).json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    project = f"/api/v1/orgs/{body['organizations'][0]['key']}/projects/default"
    client.post(f"{project}/flags", json={"key": "checkout"}).raise_for_status()
    client.put(
        f"{project}/flags/checkout/environments/production", json=flag_config()
    ).raise_for_status()
    rotated = client.post(
        f"{project}/environments/production/sdk-keys", json={"kind": "server", "grace_seconds": 0}
    )
    return str(rotated.json()["key"])


def run_wrk(url: str, key: str, body: str, seconds: int, connections: int) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        # What the SDKs send: the application and SDK, as usage counting reads them.
        'wrk.headers["X-LaunchSequence-Application"] = "bench"\n'
        'wrk.headers["X-LaunchSequence-SDK"] = "wrk/1"\n'
    )
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    figures = {"rps": rps}
    for label in ("50%", "99%"):
        match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[label] = value / 1000 if unit == "us" else value * (1000 if unit == "s" else 1)
    total = re.search(r"(\d+) requests in", out)
    figures["requests"] = float(total.group(1)) if total else 0.0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["errors"] = float(errors.group(1)) if errors else 0.0
    return figures


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def compare_counting(
    base: str, key: str, body: str, args: argparse.Namespace, server_pid: int
) -> None:
    """POST /sdk/v1/evaluate with usage counting off and on, alternating in the same server
    (the order flips every round, so that drift favours neither), `args.rounds` rounds. Also
    the server process's CPU time per request: what other processes' load disturbs least."""
    url = f"{base}/sdk/v1/evaluate"
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for i in range(args.rounds):
        for on in (False, True) if i % 2 == 0 else (True, False):
            httpx.post(f"{base}/sdk/v1/bench-counting", params={"on": "1" if on else "0"})
            cpu = cpu_seconds(server_pid)
            figures = run_wrk(url, key, body, args.seconds, args.connections)
            figures["cpu_us"] = (cpu_seconds(server_pid) - cpu) / figures["requests"] * 1e6
            runs[on].append(figures)
    # Each round's on/off pair ran back to back: the median of the pairs' ratios is what
    # a busy machine (other processes' load drifting between rounds) disturbs least.
    ratios = [on["rps"] / off["rps"] for on, off in zip(runs[True], runs[False], strict=True)]
    print(f"  usage counting, {args.rounds} interleaved rounds of {args.seconds} s (median):")
    for name, on in (("counting off", False), ("counting on", True)):
        rps = statistics.median(f["rps"] for f in runs[on])
        p99 = statistics.median(f.get("99%", 0) for f in runs[on])
        rounds = ", ".join(f"{f['rps']:,.0f}" for f in runs[on])
        print(f"    {name:<13} {rps:9,.0f} req/s   p99 {p99:6.2f} ms   rounds: {rounds}")
    print(
        f"    on / off, median of the rounds' ratios: {statistics.median(ratios):.1%} "
        f"(rounds: {', '.join(f'{r:.0%}' for r in ratios)}; target: at least 97%)"
    )
    cpu_off = statistics.median(f["cpu_us"] for f in runs[False])
    cpu_on = statistics.median(f["cpu_us"] for f in runs[True])
    print(f"    server CPU per request (median): off {cpu_off:.1f} us, on {cpu_on:.1f} us; "
          f"throughput that leaves, on / off: {cpu_off / cpu_on:.1%}")  # fmt: skip


BODY = json.dumps(
    {
        "context": {
            "key": "user-fallthrough",
            "country": "ZZ",
            "email": "someone@example.com",
            "age": 30,
            "beta": False,
        },
        "flags": ["checkout"],
    }
)


class Server:
    """One `--serve` process on its own data directory; `src`: another checkout's code (its
    `src/` and `engine/src/` first on the path), to measure a baseline in the same run."""

    def __init__(self, data_dir: str, src: str | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.name = "baseline" if src else "this tree"
        env = dict(os.environ)
        if src:
            root = Path(src).resolve()
            env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), str(root / "engine" / "src")])
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), "--serve", str(self.port), data_dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        self.key = setup(self.base)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def interleaved(servers: list[Server], args: argparse.Namespace) -> None:
    """Per server, the bare route and POST /sdk/v1/evaluate back to back, `args.ratio_rounds`
    rounds, the order of servers and endpoints turning every round, so that other processes'
    load falls alike on all. Each round's ratio compares two runs a few seconds apart; the
    median of those ratios is the figure. The server's CPU time per request is beside it."""
    paths = (("bare", "/bench-bare"), ("evaluate", "/sdk/v1/evaluate"))
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for i in range(args.ratio_rounds):
        order = servers if i % 2 == 0 else servers[::-1]
        for server in order:
            for name, path in paths if i % 2 == 0 else paths[::-1]:
                cpu = cpu_seconds(server.process.pid)
                f = run_wrk(server.base + path, server.key, BODY, args.seconds, args.connections)
                f["cpu_us"] = (cpu_seconds(server.process.pid) - cpu) / max(f["requests"], 1) * 1e6
                runs.setdefault((server.name, name), []).append(f)
    print(f"  bare route and evaluate, {args.ratio_rounds} interleaved rounds of {args.seconds} s:")
    for server in servers:
        bare, evaluate = runs[(server.name, "bare")], runs[(server.name, "evaluate")]
        ratios = [e["rps"] / b["rps"] for e, b in zip(evaluate, bare, strict=True)]
        cpu_b = statistics.median(f["cpu_us"] for f in bare)
        cpu_e = statistics.median(f["cpu_us"] for f in evaluate)
        for label, rows in (("bare Starlette route", bare), ("POST /sdk/v1/evaluate", evaluate)):
            rounds = ", ".join(f"{f['rps']:,.0f}" for f in rows)
            print(
                f"    {server.name:<9} {label:<22} median "
                f"{statistics.median(f['rps'] for f in rows):8,.0f} req/s   "
                f"CPU {statistics.median(f['cpu_us'] for f in rows):6.1f} us/request   "
                f"errors {sum(f['errors'] for f in rows):.0f}   rounds: {rounds}"
            )
        print(
            f"    {server.name:<9} evaluate / bare: median of the rounds' ratios "
            f"{statistics.median(ratios):.0%} (rounds: {', '.join(f'{r:.0%}' for r in ratios)}); "
            f"by server CPU per request {cpu_b / cpu_e:.0%} (target: at least 70%)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of counting off/on, interleaved (0: none)"
    )
    parser.add_argument(
        "--ratio-rounds", type=int, default=5, help="rounds of bare route / evaluate, interleaved"
    )
    parser.add_argument(
        "--baseline-src",
        help="another checkout (e.g. `git worktree add /tmp/base main`): its server runs beside "
        "this tree's and enters the interleaved rounds",
    )
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    print("Launch Sequence evaluation-over-HTTP benchmark")
    print(
        f"  Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
        f"wrk, 1 thread, {args.connections} connections, {args.seconds} s per endpoint; "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    if shutil.which("wrk") is None:
        print("  wrk is not installed (Debian: apt-get install wrk); nothing measured")
        return
    with tempfile.TemporaryDirectory() as data_dir:
        servers = [Server(f"{data_dir}/this")]
        try:
            if args.baseline_src:
                servers.append(Server(f"{data_dir}/baseline", args.baseline_src))
            server = servers[0]
            base, key, body = server.base, server.key, BODY
            check = httpx.post(
                f"{base}/sdk/v1/evaluate", content=body, headers={"Authorization": f"Bearer {key}"}
            ).json()
            print(f"  evaluated: {check['flags']['checkout']}")
            for s in servers:  # warm-up
                run_wrk(f"{s.base}/bench-bare", s.key, body, 2, args.connections)
                run_wrk(f"{s.base}/sdk/v1/evaluate", s.key, body, 2, args.connections)
            bare = run_wrk(f"{base}/bench-bare", key, body, args.seconds, args.connections)
            plain = run_wrk(
                f"{base}/sdk/v1/bench-constant", key, body, args.seconds, args.connections
            )
            evaluate = run_wrk(f"{base}/sdk/v1/evaluate", key, body, args.seconds, args.connections)
            rows = (
                ("bare Starlette route", bare),
                ("constant behind the app", plain),
                ("POST /sdk/v1/evaluate", evaluate),
            )
            for name, f in rows:
                print(
                    f"  {name:<25} {f['rps']:9,.0f} req/s   p50 {f.get('50%', 0):6.2f} ms   "
                    f"p99 {f.get('99%', 0):6.2f} ms   non-2xx {f['errors']:.0f}"
                )
            print(
                f"  evaluate / bare route throughput: {evaluate['rps'] / bare['rps']:.0%} "
                "(one run each)"
            )
            print(f"  evaluate / constant behind the app: {evaluate['rps'] / plain['rps']:.0%}")
            if args.ratio_rounds:
                interleaved(servers, args)
            if args.rounds:
                compare_counting(base, key, body, args, server.process.pid)
            print(f"  load average at the end {os.getloadavg()[0]:.1f}")
        finally:
            for s in servers:
                s.stop()


if __name__ == "__main__":
    main()
