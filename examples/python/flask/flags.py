"""The application's one Launch Sequence client: built once per process, closed at exit."""

from __future__ import annotations

import atexit
import os

from launchsequence_sdk import Client


def make_client() -> Client:
    """A client for the environment whose server key is in LAUNCHSEQ_SERVER_KEY.

    It waits up to 5 seconds for the flags; when the server cannot be reached the application
    starts anyway and serves each flag's default until the flags arrive."""
    client = Client(
        os.environ["LAUNCHSEQ_SERVER_KEY"],
        base_url=os.environ.get("LAUNCHSEQ_URL", "http://127.0.0.1:8080"),
    )
    client.wait_until_ready(5)
    atexit.register(client.close)  # each gunicorn worker (and the master) closes its stream
    return client
