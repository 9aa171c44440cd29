"""The process's one Launch Sequence client, for every view to share.

`client()` builds it at first use from settings.LAUNCHSEQ_SERVER_KEY and closes it at exit;
tests install their own with `use(Client.for_test_data(td))`."""

from __future__ import annotations

import atexit
import logging
import threading

from django.conf import settings
from launchsequence_sdk import Client

log = logging.getLogger(__name__)
_client: Client | None = None
_lock = threading.Lock()


def client() -> Client:
    global _client
    with _lock:
        if _client is None:
            if settings.LAUNCHSEQ_SERVER_KEY:
                _client = Client(settings.LAUNCHSEQ_SERVER_KEY, base_url=settings.LAUNCHSEQ_URL)
                _client.wait_until_ready(5)  # serves defaults if the server is not reachable
                atexit.register(_client.close)
            else:
                log.warning("LAUNCHSEQ_SERVER_KEY is not set: every flag answers its default")
                _client = Client(offline=True)
        return _client


def use(test_client: Client) -> None:
    """Serve `test_client`'s flags from now on (tests: `Client.for_test_data(td)`)."""
    global _client
    with _lock:
        _client = test_client
