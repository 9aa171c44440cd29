"""POST /sdk/v1/usage: evaluation counts from SDKs that evaluate locally (the Python SDK).

The payload (at most `MAX_USAGE_BYTES` and `MAX_ENTRIES` entries):

    {"application": "checkout", "instance": "9f2c...", "sdk": "python", "sdk_version": "0.1.0",
     "start": 1733540000000, "end": 1733540045000,
     "counts": [{"flag": "new-checkout", "variation": 0, "version": 7, "count": 1520}, ...]}

`variation` may be null (an answer without one: an error or the caller's default); `version`
is the flag's version when it was evaluated (checked, kept for later use, not stored);
`start`/`end` the interval (checked, informational: the server files the counts under the
hour it receives them). Only the server key may post: it decides the environment. Client keys
are refused (403): the browser SDK evaluates on the server, where its evaluations are already
counted, and a public key must not be able to inflate counts. Counts of flags the environment
does not have are ignored (the answer says how many), except archived flags': those show
as still asked for. The counts join the process's in-memory counter; nothing here touches
the database. Each key may post `usage_posts_per_minute` times a minute per process; past
it 429 `rate_limited` with Retry-After.

Errors (stable codes): 400 `invalid_json`, 400 `invalid_usage` (the message names the
field), 413 `payload_too_large` (bytes) or `too_many_entries`, 429 `rate_limited`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..realtime.hubs import Hubs
from ..usagecount import MAX_NAME, MAX_SDK, Caller, parse_caller
from .common import SdkError, authenticate, json_response

__all__ = ["MAX_ENTRIES", "MAX_USAGE_BYTES", "RateLimit", "routes"]

MAX_USAGE_BYTES = 262_144
MAX_ENTRIES = 2_000
MAX_COUNT = 1_000_000_000  # per entry: more than any process evaluates in an interval
_FIELDS = {"application", "instance", "sdk", "sdk_version", "start", "end", "counts"}
_ENTRY_FIELDS = {"flag", "variation", "version", "count"}


class RateLimit:
    """A token bucket per key: `per_minute` posts a minute, bursts up to that many."""

    def __init__(self, per_minute: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # key digest -> (tokens, at)

    def take(self, key: str) -> float:
        """0 when a post is allowed now, else the seconds until one will be."""
        if self.per_minute <= 0:
            return 0.0
        now = self._monotonic()
        rate = self.per_minute / 60.0
        tokens, at = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
        if len(self._buckets) > 100_000:
            self._buckets.clear()  # keys are few; this bounds memory against anything odd
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


def _invalid(message: str) -> SdkError:
    return SdkError(400, "invalid_usage", message)


def _text(body: dict[str, Any], field: str, limit: int, required: bool) -> str:
    value = body.get(field, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        need = "a non-empty string" if required else "a string"
        raise _invalid(f"`{field}` must be {need} of at most {limit} characters")
    return value


def _int(value: Any, field: str, low: int, high: int, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if type(value) is not int or not low <= value <= high:
        raise _invalid(f"`{field}` must be a whole number from {low} to {high}")
    return value


def parse_report(body: Any) -> tuple[Caller, list[tuple[str, int | None, int]]]:
    """The caller and its (flag, variation, count) entries; raises SdkError."""
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    unknown = body.keys() - _FIELDS
    if unknown:
        raise _invalid(f"unknown field `{sorted(unknown)[0]}`")
    application = _text(body, "application", MAX_NAME, required=False)
    instance = _text(body, "instance", MAX_SDK, required=False)
    sdk = _text(body, "sdk", MAX_SDK, required=True)
    version = _text(body, "sdk_version", MAX_SDK, required=False)
    start = _int(body.get("start", 0), "start", 0, 2**53)
    end = _int(body.get("end", 0), "end", 0, 2**53)
    if start and end and start > end:
        raise _invalid("`start` must not be after `end`")
    counts = body.get("counts")
    if not isinstance(counts, list):
        raise _invalid("`counts` must be a list")
    if len(counts) > MAX_ENTRIES:
        raise SdkError(
            413, "too_many_entries", f"at most {MAX_ENTRIES} entries per report; send several"
        )
    entries = []
    for i, entry in enumerate(counts):
        where = f"counts[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("flag"), str):
            raise _invalid(f"`{where}` must be an object with a `flag` key")
        if entry.keys() - _ENTRY_FIELDS:
            raise _invalid(f"`{where}` has an unknown field")
        flag = entry["flag"]
        if not 0 < len(flag) <= 64:
            raise _invalid(f"`{where}.flag` must be a flag key")
        variation = _int(entry.get("variation"), f"{where}.variation", 0, 10_000, nullable=True)
        _int(entry.get("version", 0), f"{where}.version", 0, 2**53)
        n = _int(entry.get("count"), f"{where}.count", 1, MAX_COUNT)
        entries.append((flag, variation, n or 0))
    caller = parse_caller(f"{sdk}/{version}".encode(), application.encode(), instance.encode(), b"")
    return caller, entries


def routes(hubs: Hubs, clock: Callable[[], int], limit: RateLimit) -> list[Route]:
    async def usage(request: Request) -> Response:
        key, hub = await authenticate(request, hubs, server_only=True)
        wait = limit.take(key.digest)
        if wait:
            raise SdkError(
                429,
                "rate_limited",
                "too many usage reports for this key; retry "
                "later (keep the counts and send them then)",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        raw = await request.body()
        if len(raw) > MAX_USAGE_BYTES:
            raise SdkError(
                413, "payload_too_large", f"a usage report may be at most {MAX_USAGE_BYTES} bytes"
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise SdkError(400, "invalid_json", "the body is not valid JSON") from None
        caller, entries = parse_report(body)
        counter = hubs.usage
        known = hub.state.compiled
        accepted = ignored = 0
        if counter.enabled:
            counter.seen(hub.env_id, caller, clock())
            archived = counter.archived.get(hub.env_id, frozenset())
            for flag, variation, n in entries:
                if flag in known.flags or flag in known.broken or flag in archived:
                    counter.add(hub.env_id, flag, variation, caller.application, n)
                    accepted += n
                else:
                    ignored += n
        return json_response({"accepted": accepted, "ignored": ignored}, 202)

    return [Route("/sdk/v1/usage", usage, methods=["POST"])]
