"""What webhooks cost a write, and how soon they arrive: `python bench/webhooks.py`.

Starts the real application (SQLite in a temporary directory, or `--database-url`) on loopback,
and a webhook receiver on loopback that answers 200. Measures, one request at a time:

- toggling a flag (PATCH `{"on": ...}`) with no webhook: the baseline of this run;
- the same with 5 webhooks that want other events (the event is written, no delivery): the
  outbox's own cost on the write path;
- the same with 5 webhooks that want toggles (each toggle writes its event and 5 deliveries,
  while the sender delivers the earlier ones, its writes queueing with the toggles' on SQLite);
- the time from a toggle's answer to its arrival at the receiver, for the burst of toggles
  above (5 x 300 deliveries, one flag: each webhook gets them one after the other), and for
  single changes made one at a time (the sender polls every `WEBHOOK_POLL_SECONDS`, 1 s by
  default, so this is mostly the wait for its next round).

Prints count, median and p99 and each median over the baseline's. Exits 0 when it ran.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import perf_counter_ns
from typing import Any

import httpx
import orjson
from api import Figure, Server, print_table, timed  # bench/api.py

from launchsequence.app import create_app
from launchsequence.config import Settings


class Receiver:
    """Records the arrival time (perf_counter_ns) of each flag version it is sent."""

    def __init__(self) -> None:
        self.arrived: dict[tuple[str, int], int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                at = perf_counter_ns()
                version = (body.get("after") or {}).get("version")
                with receiver.lock:
                    receiver.arrived.setdefault((self.path, version), at)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def run(args: argparse.Namespace, data_dir: str) -> list[Figure]:
    settings = Settings(data_dir=data_dir, database_url=args.database_url, secret_key="bench",
                        webhook_allow_private_addresses="true")  # fmt: skip
    server = Server(create_app(settings)).start()
    receiver = Receiver()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            signup = client.post(
                "/api/v1/auth/signup",
                json={"email": f"bench-{secrets.token_hex(4)}@example.com",
                      "password": "correct horse", "name": "Bench"},
            )  # fmt: skip
            signup.raise_for_status()
            org = f"/api/v1/orgs/{signup.json()['organizations'][0]['key']}"
            client.headers["X-CSRF-Token"] = signup.json()["csrf_token"]
            flags = f"{org}/projects/default/flags"
            client.post(flags, json={"key": "bench"}).raise_for_status()
            state = {"on": False, "version": 1}
            sent: dict[int, int] = {}

            def toggle(_: int) -> httpx.Response:
                response = client.patch(
                    f"{flags}/bench/environments/production", json={"on": not state["on"]}
                )
                if response.status_code == 200:
                    state["on"], state["version"] = (
                        response.json()["on"],
                        response.json()["version"],
                    )
                    sent[state["version"]] = perf_counter_ns()
                return response

            timed(20, toggle, 200)  # warm up
            plain = timed(args.toggles, toggle, 200)
            for i in range(5):  # subscribed to other events: the outbox write, no sending
                hook = {"url": f"{receiver.url}/quiet{i}", "events": ["flag.deleted"]}
                client.post(f"{org}/webhooks", json=hook).raise_for_status()
            quiet = timed(args.toggles, toggle, 200)
            for i in range(5):
                hook = {"url": f"{receiver.url}/h{i}", "events": ["flag.toggled"]}
                client.post(f"{org}/webhooks", json=hook).raise_for_status()
            first = state["version"] + 1
            hooked = timed(args.toggles, toggle, 200)
            deadline = time.monotonic() + 120
            want = {(f"/h{i}", v) for i in range(5) for v in range(first, state["version"] + 1)}
            while not want <= receiver.arrived.keys():
                if time.monotonic() > deadline:
                    raise RuntimeError("not every event arrived within 120 s")
                time.sleep(0.1)
            arrival = [receiver.arrived[k] - sent[k[1]] for k in sorted(want)]
            # One change at a time, as people make them: the wait for the sender's next round.
            single = []
            for _ in range(args.spaced):
                toggle(0)
                key = ("/h0", state["version"])
                deadline = time.monotonic() + 30
                while key not in receiver.arrived:
                    if time.monotonic() > deadline:
                        raise RuntimeError("a single change did not arrive within 30 s")
                    time.sleep(0.005)
                single.append(receiver.arrived[key] - sent[state["version"]])
                time.sleep(0.3)
    finally:
        server.stop()
        receiver.server.shutdown()
    return [
        Figure("toggle, no webhook (baseline)", plain),
        Figure("toggle, event written, no webhook wants it", quiet),
        Figure("toggle, 5 webhooks sent each toggle", hooked),
        Figure("burst: toggle answered -> event received", arrival),
        Figure("one change: toggle answered -> received", single),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--toggles", type=int, default=300, help="toggles to time, each (300)")
    parser.add_argument("--spaced", type=int, default=20, help="single changes to time (20)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="launchseq-bench-") as data_dir:
            figures = run(args, data_dir)
    except Exception as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("Launch Sequence webhooks benchmark")
    print(f"python   {platform.python_implementation()} {platform.python_version()}")
    print(f"machine  {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}")
    print(f"database {'PostgreSQL' if args.database_url else 'SQLite (WAL, temporary file)'}")
    print("One client, one request at a time, over loopback; 'x base' is the median over the")
    print("baseline's median.")
    print()
    print_table(figures, 44)
    print()
    print(f"total {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
