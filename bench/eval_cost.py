"""Instructions per request: POST /sdk/v1/evaluate next to a bare Starlette route, under callgrind.

    python bench/eval_cost.py                        # needs valgrind (apt-get install valgrind)
    python bench/eval_cost.py --baseline-src /tmp/base --requests 1000

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


def wait_healthy(port: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


def measure(src: str | None, data_dir: str, requests: int) -> dict[str, float]:
    """Instructions per request of each path for the code in `src` (None: this tree)."""
    serve = [sys.executable, str(HERE.parent / "eval_http.py"), "--serve"]
    port = free_port()
    env = environment(src)
    plain = subprocess.Popen([*serve, str(port), data_dir], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_healthy(port, 60)
        key = setup(f"http://127.0.0.1:{port}")
    finally:
        plain.terminate()
        plain.wait(timeout=30)
    out = Path(data_dir) / "callgrind"
    out.mkdir()
    port = free_port()
    grind = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--instr-atstart=no", "-q",
         f"--callgrind-out-file={out}/cg.%p", *serve, str(port), data_dir],
        env={**env, **QUIET}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    counts: dict[str, list[int]] = {}
    try:
        wait_healthy(port, 600)
        pid = str(grind.pid)
        for _ in range(2):
            for name, path in PATHS:
                send_requests(port, path, key, 200)  # warm: caches filled, code specialised
                control = ["callgrind_control"]
                subprocess.run([*control, "-i", "on", pid], check=True, capture_output=True)
                subprocess.run([*control, "-z", pid], check=True, capture_output=True)
                send_requests(port, path, key, requests)
                subprocess.run([*control, "-d", pid], check=True, capture_output=True)
                subprocess.run([*control, "-i", "off", pid], check=True, capture_output=True)
                dumps = sorted(out.glob("cg.*.*-01"), key=lambda p: int(p.name.split(".")[2][:-3]))
                summary = re.search(r"^summary: (\d+)", dumps[-1].read_text(), re.MULTILINE)
                counts.setdefault(name, []).append(int(summary.group(1)))  # type: ignore[union-attr]
    finally:
        grind.terminate()
        grind.wait(timeout=120)
    return {name: sum(c) / len(c) / requests for name, c in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--baseline-src", help="another checkout, measured after this tree")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind); nothing measured")
        return
    print("Launch Sequence: instructions per request under callgrind (main thread, user space)")
    trees = [("this tree", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    for label, src in trees:
        with tempfile.TemporaryDirectory() as data_dir:
            figures = measure(src, data_dir, args.requests)
        bare, evaluate = figures[PATHS[0][0]], figures[PATHS[1][0]]
        print(
            f"  {label:<9}  bare route {bare / 1000:6.0f}k   evaluate {evaluate / 1000:6.0f}k   "
            f"bare / evaluate {bare / evaluate:.0%}  ({args.requests} requests per path, twice)"
        )


if __name__ == "__main__":
    main()
