"""The collector's freeze (serving.make_server): the process that serves freezes what startup
made, once it serves; an app built and served elsewhere (tests, tools that build apps again
and again) leaves the collector alone, so those apps are collected when they go."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import httpx

from launchsequence.app import create_app
from launchsequence.serving import make_server
from tests.support.live import free_port, serving


def test_an_app_served_without_make_server_freezes_nothing(make_settings, clock):
    assert gc.get_freeze_count() == 0
    for _ in range(2):
        with serving(create_app(make_settings(), clock=clock)) as live:
            assert httpx.get(f"{live.url}/healthz", timeout=10).status_code == 200
            assert gc.get_freeze_count() == 0
    assert gc.get_freeze_count() == 0


def test_the_server_freezes_once_serving_and_thaws_when_it_stops(make_settings, clock):
    settings = make_settings(host="127.0.0.1", port=free_port())
    server = make_server(settings, create_app(settings, clock=clock), None)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        url = f"http://127.0.0.1:{settings.port}/healthz"
        assert httpx.get(url, timeout=10).status_code == 200
        assert gc.get_freeze_count() > 0
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert gc.get_freeze_count() == 0
