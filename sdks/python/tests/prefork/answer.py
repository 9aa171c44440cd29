"""What the pre-forked test applications share: their client, built at import exactly as an
application builds it (so `gunicorn --preload` builds it in the master, before the fork), and
the answer of their `/flag` route."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from launchsequence_sdk import Client
from launchsequence_sdk.openfeature import LaunchSequenceProvider
from openfeature import api

logging.basicConfig(
    stream=sys.stderr, level=logging.INFO,
    format="pid=%(process)d %(levelname)s %(name)s: %(message)s",
)  # fmt: skip

client = Client(
    os.environ["LS_KEY"], base_url=os.environ["LS_URL"], read_timeout=5.0,
    initial_reconnect_delay=0.05, max_reconnect_delay=0.2,
)  # fmt: skip
client.wait_until_ready(10)
api.set_provider_and_wait(LaunchSequenceProvider(client))


def flag_answer(hold: str | None) -> dict[str, Any]:
    """The flag `banner` for one context, as this worker serves it, and who served it. `hold`
    (seconds) keeps the worker busy, so that concurrent requests reach the other worker."""
    if hold:
        time.sleep(min(float(hold), 1.0))
    details = client.bool_details("banner", {"key": "user-1"}, False)
    status = api.get_client().get_provider_status()
    return {
        "pid": os.getpid(), "value": details.value, "reason": details.reason,
        "is_stale": client.is_stale, "is_ready": client.is_ready,
        "provider_status": str(status.value),
    }  # fmt: skip
