"""Streams under a server whose transport we do not write to directly (uvicorn's h11 protocol):
the portable path, a queue pumped through ASGI `send`, must behave the same."""

from __future__ import annotations

import threading
import time

import httpx

from launchsequence.app import create_app
from tests.support.api import signup
from tests.support.live import LiveServer


def test_stream_works_through_asgi_send(make_settings, clock):
    app = create_app(make_settings(sse_heartbeat_seconds=1), clock=clock)
    server = LiveServer(app, http="h11").start()
    try:
        user = signup(server.url, "fallback@example.com")
        project = f"/api/v1/orgs/{user.org}/projects/default"
        assert user.post(f"{project}/flags", json={"key": "f"}).status_code == 201
        key = user.post(
            f"{project}/environments/production/sdk-keys",
            json={"kind": "server", "grace_seconds": 0},
        ).json()["key"]
        lines: list[str] = []
        done = threading.Event()

        def read() -> None:
            with httpx.stream(
                "GET",
                f"{server.url}/sdk/v1/stream",
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ) as response:
                for line in response.iter_lines():
                    lines.append(line)
                    if line.startswith("event: patch") or done.is_set():
                        break
            done.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while "event: put" not in lines and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "event: put" in lines
        toggled = user.patch(f"{project}/flags/f/environments/production", json={"on": True})
        assert toggled.status_code == 200
        assert done.wait(10), "the patch did not arrive"
        assert "event: patch" in lines
        reader.join(5)

        # The stream's slot is given back once the client has gone.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{server.url}/metrics").text
            if 'launchseq_open_streams{kind="server"} 0.0' in metrics:
                break
            time.sleep(0.1)
        assert 'launchseq_open_streams{kind="server"} 0.0' in metrics
    finally:
        server.stop()


def test_a_stalled_client_is_dropped_on_the_portable_path(make_settings, clock):
    import socket

    app = create_app(make_settings(stream_max_buffer_bytes=65_536), clock=clock)
    server = LiveServer(app, http="h11").start()
    stalled = socket.socket()
    try:
        user = signup(server.url, "stall@example.com")
        project = f"/api/v1/orgs/{user.org}/projects/default"
        assert user.post(f"{project}/flags", json={"key": "big"}).status_code == 201
        key = user.post(
            f"{project}/environments/production/sdk-keys",
            json={"kind": "server", "grace_seconds": 0},
        ).json()["key"]
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        request = f"GET /sdk/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
        stalled.sendall(request.encode())
        targets = [f"user-{i:06d}-{'x' * 40}" for i in range(10_000)]  # ~0.5 MB per patch
        dropped = False
        for round_ in range(40):  # kernel buffers absorb a few MB before anything queues
            half = targets[: 9_000 + round_]
            config = {"targets": [{"variation": 0, "values": half}]}
            assert (
                user.patch(f"{project}/flags/big/environments/production", json=config).status_code
                == 200
            )
            metrics = httpx.get(f"{server.url}/metrics").text
            if 'launchseq_stream_dropped_total{reason="slow"}' in metrics:
                dropped = True
                break
        assert dropped, "the stalled stream was never dropped"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{server.url}/metrics").text
            if 'launchseq_open_streams{kind="server"} 0.0' in metrics:
                break
            time.sleep(0.1)
        assert 'launchseq_open_streams{kind="server"} 0.0' in metrics, "its slot was not freed"
    finally:
        stalled.close()
        server.stop()


def test_ofrep_event_stream_url_honours_the_public_url(make_settings, clock):
    app = create_app(make_settings(base_url="https://flags.example.com/launch"), clock=clock)
    server = LiveServer(app).start()
    try:
        user = signup(server.url, "urls@example.com")
        project = f"/api/v1/orgs/{user.org}/projects/default"
        env = user.get(f"{project}/environments/production").json()
        client_key = next(k["key"] for k in env["sdk_keys"] if k["kind"] == "client")
        answer = httpx.post(
            f"{server.url}/ofrep/v1/evaluate/flags",
            json={"context": {"targetingKey": "u1"}},
            headers={"Authorization": f"Bearer {client_key}"},
        ).json()
        url = answer["eventStreams"][0]["url"]
        assert url.startswith("https://flags.example.com/launch/ofrep/v1/events?token=")
        assert client_key not in url
    finally:
        server.stop()
