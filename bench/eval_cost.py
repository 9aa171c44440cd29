"""Instructions per request: POST /sdk/v1/evaluate next to a bare Starlette route, under callgrind.

    python bench/eval_cost.py                        # needs valgrind (apt-get install valgrind)
    python bench/eval_cost.py --baseline-src /tmp/base --requests 1000
    python bench/eval_cost.py --edge                 # an edge process too, next to the core

Throughput on a shared machine moves with everyone else's load; the number of instructions a
request costs does not. The server of bench/eval_http.py (the application plus the bare route,
uvicorn with launchseq's HTTP protocol) runs under valgrind's callgrind with instrumentation
off; a client in another process sends `--requests` requests on one kept-alive connection to
each path in turn, and callgrind counts the server's main thread (the event loop) only while
they are served. The timers that query the database every second (schedules, webhooks,
version checks) are set to an hour, so that they fall outside the count. Counted: the user-space
instructions of everything the server runs per request, uvicorn's HTTP protocol included; not
counted: the kernel's work in its system calls (the socket reads and writes), the same for both
paths. Each path is measured twice, in alternation; the figures are their means.

With `--edge`, an edge process (`create_edge_app`, served the same way, with the same bare
route in front of it) is measured the same way after the core, for the same flag and body: its
upstream is the core, run normally (not under valgrind) on the same data directory, with a
relay key made for it. `--keep DIR` keeps the callgrind files (cg.<pid>.<dump>-01, the main
thread; one dump per measured path and round, in the order measured) for callgrind_annotate.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

from eval_http import BODY, free_port, setup  # noqa: E402

QUIET = {
    "LAUNCHSEQ_LOG_LEVEL": "warning",
    "LAUNCHSEQ_USAGE_FLUSH_SECONDS": "3600",
    "LAUNCHSEQ_SCHEDULE_CHECK_SECONDS": "3600",
    "LAUNCHSEQ_WEBHOOK_POLL_SECONDS": "3600",
    "LAUNCHSEQ_VERSION_CHECK_SECONDS": "3600",
    "LAUNCHSEQ_STREAM_RECHECK_SECONDS": "3600",
    "LAUNCHSEQ_SSE_HEARTBEAT_SECONDS": "3600",
}
PATHS = (("bare Starlette route", "/bench-bare"), ("POST /sdk/v1/evaluate", "/sdk/v1/evaluate"))


def send_requests(port: int, path: str, key: str, count: int) -> None:
    """`count` POSTs of the evaluation body on one connection, each answer read whole."""
    body = BODY.encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nX-LaunchSequence-Application: bench\r\n"
        f"X-LaunchSequence-SDK: wrk/1\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        buffered = b""
        for _ in range(count):
            sock.sendall(request)
            while True:
                end = buffered.find(b"\r\n\r\n")
                if end >= 0:
                    head = buffered[:end].lower()
                    length = int(re.search(rb"content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                    if len(buffered) >= end + 4 + length:
                        if not buffered.startswith(b"HTTP/1.1 200"):
                            raise SystemExit(f"{path}: {buffered[: end + 4 + length]!r}")
                        buffered = buffered[end + 4 + length :]
                        break
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit(f"{path}: the server closed the connection")
                buffered += chunk


def environment(src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAUNCHSEQ_")}
    if src:
        root = Path(src).resolve()
        env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), str(root / "engine" / "src")])
    return env


def wait_ok(port: int, path: str, limit: float) -> None:
    """Until GET `path` answers 200 (an edge's /readyz: its snapshot is in)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not answer {path}")
        time.sleep(0.2)


def relay_key(port: int) -> str:
    """A relay key of the benchmark's project (the owner `setup` signed up)."""
    owner = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    body = owner.post(
        "/api/v1/auth/login", json={"email": "bench@example.com", "password": "benchmark-pw"}
    ).json()
    owner.headers["X-CSRF-Token"] = body["csrf_token"]
    org = owner.get("/api/v1/orgs").json()["organizations"][0]["key"]
    made = owner.post(f"/api/v1/orgs/{org}/projects/default/relay-keys", json={"name": "bench"})
    made.raise_for_status()
    return str(made.json()["key"])


def count_under_callgrind(
    serve: list[str], env: dict[str, str], out: Path, key: str, requests: int, ready: str
) -> dict[str, float]:
    """Instructions per request of each path of the server the command `serve` starts (its
    element "PORT" replaced by the port), once GET `ready` answers 200."""
    port = free_port()
    grind = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--instr-atstart=no", "-q",
         f"--callgrind-out-file={out}/cg.%p", *[str(port) if a == "PORT" else a for a in serve]],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    counts: dict[str, list[int]] = {}
    try:
        wait_ok(port, ready, 600)
        pid = str(grind.pid)
        control = ["callgrind_control"]
        for _ in range(2):
            for name, path in PATHS:
                send_requests(port, path, key, 200)  # warm: caches filled, code specialised
                subprocess.run([*control, "-i", "on", pid], check=True, capture_output=True)
                subprocess.run([*control, "-z", pid], check=True, capture_output=True)
                send_requests(port, path, key, requests)
                subprocess.run([*control, "-d", pid], check=True, capture_output=True)
                subprocess.run([*control, "-i", "off", pid], check=True, capture_output=True)
                dumps = sorted(
                    out.glob(f"cg.{pid}.*-01"), key=lambda p: int(p.name.split(".")[2][:-3])
                )
                summary = re.search(r"^summary: (\d+)", dumps[-1].read_text(), re.MULTILINE)
                counts.setdefault(name, []).append(int(summary.group(1)))  # type: ignore[union-attr]
    finally:
        grind.terminate()
        grind.wait(timeout=120)
    return {name: sum(c) / len(c) / requests for name, c in counts.items()}


def measure(
    src: str | None, data_dir: str, requests: int, *, edge: bool = False, keep: Path | None = None
) -> dict[str, dict[str, float]]:
    """Instructions per request of each path for the code in `src` (None: this tree): at the
    core, and with `edge` at an edge too."""
    core_serve = [sys.executable, str(HERE.parent / "eval_http.py"), "--serve"]
    env = environment(src)
    core_dir = str(Path(data_dir) / "core")
    port = free_port()
    plain = subprocess.Popen([*core_serve, str(port), core_dir], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_ok(port, "/healthz", 60)
        key = setup(f"http://127.0.0.1:{port}")
        relay = relay_key(port) if edge else ""
    finally:
        plain.terminate()
        plain.wait(timeout=30)
    out = keep if keep is not None else Path(data_dir) / "callgrind"
    out.mkdir(parents=True, exist_ok=True)
    figures = {"core": count_under_callgrind(
        [*core_serve, "PORT", core_dir], {**env, **QUIET}, out, key, requests, "/healthz"
    )}  # fmt: skip
    if edge:
        # The upstream: the core run normally, on the same database.
        port = free_port()
        upstream = subprocess.Popen(
            [*core_serve, str(port), core_dir],
            env={**env, **QUIET},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ok(port, "/healthz", 60)
            edge_serve = [sys.executable, str(HERE), "--serve-edge", "PORT"]
            edge_args = [str(Path(data_dir) / "edge"), f"http://127.0.0.1:{port}", relay]
            figures["edge"] = count_under_callgrind(
                [*edge_serve, *edge_args], {**env, **QUIET}, out, key, requests, "/readyz"
            )
        finally:
            upstream.terminate()
            upstream.wait(timeout=30)
    return figures


def serve_edge(port: int, data_dir: str, upstream: str, relay: str) -> None:
    """The edge process: `create_edge_app` with the bare route in front, as the core's."""
    from eval_http import run_beside_bare

    from launchsequence.config import load_settings
    from launchsequence.edge.app import create_edge_app

    settings = load_settings({"data_dir": data_dir, "log_level": "warning"})
    app = create_edge_app(settings, upstream_url=upstream, relay_key=relay)
    run_beside_bare(app, settings, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--baseline-src", help="another checkout, measured after this tree")
    parser.add_argument("--edge", action="store_true", help="measure an edge process too")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this directory")
    parser.add_argument("--serve-edge", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_edge:
        port, data_dir, upstream, relay = args.serve_edge
        serve_edge(int(port), data_dir, upstream, relay)
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind); nothing measured")
        return
    print("Launch Sequence: instructions per request under callgrind (main thread, user space)")
    trees = [("this tree", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    for label, src in trees:
        with tempfile.TemporaryDirectory() as data_dir:
            keep = args.keep / label.replace(" ", "-") if args.keep else None
            figures = measure(src, data_dir, args.requests, edge=args.edge, keep=keep)
        for process, paths in figures.items():
            bare, evaluate = paths[PATHS[0][0]], paths[PATHS[1][0]]
            print(
                f"  {label:<9}  {process:<4}  bare route {bare / 1000:6.1f}k   "
                f"evaluate {evaluate / 1000:6.1f}k   bare / evaluate {bare / evaluate:.0%}  "
                f"({args.requests} requests per path, twice)"
            )
        if "edge" in figures:
            core, edge = figures["core"][PATHS[1][0]], figures["edge"][PATHS[1][0]]
            print(f"  {label:<9}  evaluate, edge / core: {edge / core:.1%} of the instructions")


if __name__ == "__main__":
    main()
