"""Celery tasks that decide with a flag. Run a worker: `celery -A tasks worker`.

Each worker process (each child of the prefork pool) has its own client: built when the process
starts (`worker_process_init`), closed when it stops (`worker_process_shutdown`). Tests install
theirs with `use(Client.for_test_data(td))`."""

from __future__ import annotations

import os
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown
from launchsequence_sdk import Client

app = Celery(
    "tasks",
    broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1"),
)
app.conf.task_default_queue = os.environ.get("CELERY_QUEUE", "celery")
app.conf.broker_connection_retry_on_startup = True

_client: Client | None = None
_lock = threading.Lock()


def flags() -> Client:
    """This process's client, built at first use (a worker builds it as its process starts)."""
    global _client
    with _lock:
        if _client is None:
            _client = Client(
                os.environ["LAUNCHSEQ_SERVER_KEY"],
                base_url=os.environ.get("LAUNCHSEQ_URL", "http://127.0.0.1:8080"),
            )
            _client.wait_until_ready(5)  # serves defaults if the server is not reachable
        return _client


def use(client: Client) -> None:
    """Serve `client`'s flags from now on (tests: `Client.for_test_data(td)`)."""
    global _client
    with _lock:
        _client = client


@worker_process_init.connect
def _start_flags(**_: Any) -> None:
    flags()


@worker_process_shutdown.connect
def _close_flags(**_: Any) -> None:
    if _client is not None:
        _client.close()


@app.task
def checkout_for(user: str, country: str = "") -> dict[str, Any]:
    details = flags().bool_details("new-checkout", {"key": user, "country": country}, False)
    return {"checkout": "new" if details.value else "classic", "reason": details.reason,
            "pid": os.getpid()}  # fmt: skip
