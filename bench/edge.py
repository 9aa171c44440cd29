"""An edge process next to the core, same run: evaluation throughput, idle memory, start time.

    python bench/edge.py                   # needs wrk (Debian: apt-get install wrk)
    python bench/edge.py --seconds 20 --connections 64 --starts 7 --rounds 5

A core (`launchseq serve`, SQLite) and one edge (`launchseq edge`) fed by it, both real
processes as users run them. Figures:

- POST /sdk/v1/evaluate, requests per second and latency percentiles, on the core and on the
  edge (the same flag as bench/eval_http.py: 100 targets, five rules, a 50/50 rollout), wrk
  driving each for the same time with the same connections, alternating edge and core
  `--rounds` times (medians; which goes first turns every round), so that load from elsewhere
  falls on both; beside it the CPU time each process (a core's workers included) used per
  request, which that load disturbs least;
- resident memory (VmRSS) of each process, idle after start and its first answers;
- start to serving: from spawning the process to its first 200 on /sdk/v1/evaluate: the edge
  with the core down (it serves the snapshot it saved on disk), next to the core itself
  (which opens its database and migrates); median and p99 over `--starts` starts;
- the same two figures for a bare Starlette app under uvicorn (one route answering the same
  POST), measured in the same run: the floor any process on this stack has, on this machine
  under its load at that moment.

Before anything starts, the package's and the engine's sources are compiled to bytecode, as
pip does when it installs the wheel (the Docker image, `pip install launchsequence`): an
editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise compile ~80 modules at every
start, which no installed server does.

Nothing fails on time: it prints figures.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_http import BODY, cpu_seconds, free_port, run_wrk, setup

LAUNCHSEQ = [sys.executable, "-m", "launchsequence"]
#: The floor: Starlette and uvicorn (uvloop, httptools) answering the benchmark's POST.
BARE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def evaluate(request):
    await request.body()
    return Response(b'{"flags":{}}', media_type="application/json")
app = Starlette(routes=[Route("/sdk/v1/evaluate", evaluate, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws="none")
"""


def compile_sources() -> None:
    """Bytecode for the package and the engine, as an installed wheel has it."""
    import launchsequence_engine

    import launchsequence

    for package in (launchsequence, launchsequence_engine):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def p99(values: list[float]) -> float:
    """The 99th percentile (of fewer than 100 values: near the largest)."""
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def timed_starts(
    count: int, args: list[str], env: dict[str, str], url: str, key: str
) -> tuple[list[float], list[float], subprocess.Popen[bytes]]:
    """Start-to-first-200 wall times and CPU times of `count` starts; the last one left
    running."""
    walls: list[float] = []
    cpus: list[float] = []
    process = None
    for _ in range(count):
        if process is not None:
            stop(process)
        started = time.monotonic()
        process = spawn(args, env)
        try:
            until_serving(url, key, process)
        except BaseException:
            stop(process)
            raise
        walls.append(time.monotonic() - started)
        cpus.append(cpu_seconds(process.pid))
    assert process is not None
    return walls, cpus, process


def environ(data_dir: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAUNCHSEQ_")}
    env.update({"LAUNCHSEQ_DATA_DIR": data_dir, "LAUNCHSEQ_LOG_LEVEL": "warning", **extra})
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    return env


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def until_serving(url: str, key: str, process: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited")
        try:
            answer = httpx.post(
                f"{url}/sdk/v1/evaluate",
                content=BODY,
                timeout=2,
                headers={"Authorization": f"Bearer {key}"},
            )
            if answer.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}: not serving after {limit} s")
        time.sleep(0.01)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its living descendants (a core's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
        except OSError:
            continue  # exited meanwhile
        todo += children.get(current, [])
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="alternated wrk runs per process")
    args = parser.parse_args()
    print("Launch Sequence edge benchmark")
    print(
        f"  Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
        f"wrk, 1 thread, {args.connections} connections, {args.seconds} s per process"
    )
    has_wrk = shutil.which("wrk") is not None
    compile_sources()
    print("  bytecode of launchsequence and the engine compiled, as an installed wheel has it")
    with tempfile.TemporaryDirectory() as tmp:
        core_dir, edge_dir = f"{tmp}/core", f"{tmp}/edge"
        core_port, edge_port = free_port(), free_port()
        core_url, edge_url = f"http://127.0.0.1:{core_port}", f"http://127.0.0.1:{edge_port}"
        # The core as one process (the default runs a worker per CPU): the one timed and
        # measured below.
        core_args = [*LAUNCHSEQ, "serve", "--port", str(core_port), "--workers", "1"]
        core = spawn(core_args, environ(core_dir))
        edge = None
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{core_url}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the core did not start") from None
                    time.sleep(0.1)
            key = setup(core_url)
            owner = httpx.Client(base_url=core_url, timeout=30)
            body = owner.post(
                "/api/v1/auth/login",
                json={"email": "bench@example.com", "password": "benchmark-pw"},
            ).json()
            owner.headers["X-CSRF-Token"] = body["csrf_token"]
            org = owner.get("/api/v1/orgs").json()["organizations"][0]["key"]
            relay = owner.post(
                f"/api/v1/orgs/{org}/projects/default/relay-keys", json={"name": "bench"}
            ).json()["key"]
            edge_args = [*LAUNCHSEQ, "edge", "--upstream", core_url, "--port", str(edge_port)]
            edge_env = environ(edge_dir, LAUNCHSEQ_RELAY_KEY=relay)
            edge = spawn(edge_args, edge_env)
            until_serving(edge_url, key, edge)
            until_serving(core_url, key, core)
            time.sleep(2)  # idle
            print(
                f"  idle RSS: core {rss_mib(core.pid):6.1f} MiB   edge {rss_mib(edge.pid):6.1f} MiB"
            )

            if has_wrk:
                run_wrk(f"{edge_url}/sdk/v1/evaluate", key, BODY, 2, args.connections)  # warm
                run_wrk(f"{core_url}/sdk/v1/evaluate", key, BODY, 2, args.connections)
                # Alternated, so that a neighbour's load on a shared machine falls on both,
                # and which goes first turns every round. Beside each run, the CPU time the
                # process (and any worker it runs) used per request: what that load disturbs
                # least.
                runs: dict[str, list[dict[str, float]]] = {"core": [], "edge": []}
                for i in range(args.rounds):
                    order = [("edge", edge_url, edge), ("core", core_url, core)]
                    for name, url, process in order if i % 2 == 0 else order[::-1]:
                        cpu = tree_cpu_seconds(process.pid)
                        f = run_wrk(
                            f"{url}/sdk/v1/evaluate", key, BODY, args.seconds, args.connections
                        )
                        used = tree_cpu_seconds(process.pid) - cpu
                        f["cpu_us"] = used / max(f["requests"], 1) * 1e6
                        runs[name].append(f)
                rows = []
                for name in ("core", "edge"):
                    f = {
                        m: statistics.median(r.get(m, 0) for r in runs[name])
                        for m in ("rps", "50%", "99%", "errors", "cpu_us")
                    }
                    rows.append((name, f))
                for name, f in rows:
                    rounds = ", ".join(f"{r['rps']:,.0f}" for r in runs[name])
                    print(
                        f"  evaluate on the {name} (median of {args.rounds}): "
                        f"{f['rps']:9,.0f} req/s   p50 {f['50%']:6.2f} ms   "
                        f"p99 {f['99%']:6.2f} ms   non-2xx {f['errors']:.0f}   "
                        f"CPU {f['cpu_us']:5.1f} us/request   rounds: {rounds}"
                    )
                (_, c), (_, e) = rows
                print(
                    f"  edge / core throughput: {e['rps'] / c['rps']:.0%}; "
                    f"by CPU per request: {c['cpu_us'] / e['cpu_us']:.0%}"
                )
            else:
                print("  wrk is not installed (Debian: apt-get install wrk): no throughput")

            # Start to serving. The core first (its database is there), then the edge with
            # the core down: from its disk snapshot; then the bare app, the floor.
            stop(core)
            core_starts, core_cpu, core = timed_starts(
                args.starts, core_args, environ(core_dir), core_url, key
            )
            time.sleep(2)  # idle, as a restarted server sits (its migrations already applied)
            core_restarted = rss_mib(core.pid)
            stop(core)
            stop(edge)
            edge_starts, edge_cpu, edge = timed_starts(
                args.starts, edge_args, edge_env, edge_url, key
            )
            ready = httpx.get(f"{edge_url}/readyz").json()
            time.sleep(2)
            edge_restarted = rss_mib(edge.pid)
            stop(edge)
            bare_port = free_port()
            bare_args = [sys.executable, "-c", BARE, str(bare_port)]
            bare_starts, bare_cpu, bare = timed_starts(
                args.starts, bare_args, environ(f"{tmp}/bare"), f"http://127.0.0.1:{bare_port}", key
            )
            time.sleep(2)
            bare_rss = rss_mib(bare.pid)
            stop(bare)
            print(
                f"  idle RSS after a restart: core {core_restarted:6.1f} MiB   edge (from disk) "
                f"{edge_restarted:6.1f} MiB = {edge_restarted * 1.048576:.1f} MB   "
                f"bare Starlette + uvicorn {bare_rss:6.1f} MiB"
            )
            print(
                f"  start to the first 200 ({args.starts} starts; wall, then CPU at that answer):"
            )
            for name, walls, cpus in (
                ("core", core_starts, core_cpu),
                (
                    f"edge from disk, core down (serving_from={ready['serving_from']})",
                    edge_starts,
                    edge_cpu,
                ),
                ("bare Starlette + uvicorn", bare_starts, bare_cpu),
            ):
                print(
                    f"    {name}: median {statistics.median(walls):5.2f} s, "
                    f"p99 {p99(walls):5.2f} s; CPU median {statistics.median(cpus):5.2f} s"
                )
        finally:
            if edge is not None:
                stop(edge)
            stop(core)


if __name__ == "__main__":
    main()
