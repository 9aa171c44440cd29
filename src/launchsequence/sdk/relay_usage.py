"""POST /relay/v1/usage: the evaluation counts an edge forwards to its upstream.

An edge counts what it answers exactly as the core does (`usagecount.py`, per environment,
flag, variation and application) and takes SDKs' own `POST /sdk/v1/usage` reports into the
same counter. Every interval, and at shutdown, it drains the counter and posts it here, to
its upstream (`edge/usage_forward.py`), with its relay key. The core adds the counts to its
own counter, written with its next flush; an edge that is the upstream of another edge adds
them to its counter, forwarded onwards with its next interval. The same code serves both.

The payload (at most `MAX_BYTES`; at most `MAX_COUNTS` counts and `MAX_APPLICATIONS`
applications, each with at most `MAX_INSTANCES` instance ids; `chunks()` cuts an interval
into posts that fit):

    {"edge_id": "edge-3f9a…", "post_id": "Zt3q…",
     "counts": [{"env_id": 3, "flag": "new-checkout", "variation": 0,
                 "application": "checkout", "count": 1520}, ...],
     "applications": [{"env_id": 3, "application": "checkout", "sdk": "python",
                       "sdk_version": "0.1.0", "last_seen": 1733540045000,
                       "instances": ["9f2c…"]}, ...]}

`post_id` (optional; 1 to 64 letters, digits, `-` and `_`) names the post: the same post
sent again (the edge's retry of a post whose answer it never got) is answered as the first
time, with `"duplicate": true`, and not applied again. Each process remembers the last
`REMEMBERED_POSTS` ids of each of the last `REMEMBERED_EDGES` edges (by relay key project
and `edge_id`), in memory: a repeat reaching a process restarted since, or another core
instance, is applied again. A repeat arriving while the first is still being applied is
answered 409 `post_in_progress` (the edge sends it again later).

`env_id` is the core's environment id (the relay stream carries it). Entries of environments
the relay key does not cover (another project's, or one that no longer exists) are ignored,
as are counts of flags the environment does not have (archived flags excepted, as for SDK
reports): a relay key can add counts to its own project's flags, nothing else. Answer: 202
`{"accepted": n, "ignored": m}` (evaluations). Errors (stable codes): 401 `unauthorized`
(missing, unknown or revoked relay key), 405 `method_not_allowed`, 400 `invalid_json`, 400
`invalid_usage` (the message names the field), 413 `payload_too_large` (a Content-Length
over `MAX_BYTES` is refused before the body is read, and the connection closed) or
`too_many_entries`, 409 `post_in_progress`, 503 `unavailable` (the upstream's own source is
unreachable). Every answer has the security headers of the other endpoints.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from ..middleware import add_security_headers, refuse
from ..realtime.hubs import Hubs
from ..realtime.source import RelayKeyRecord, SourceUnavailable
from ..secrets import digest
from ..usagecount import MAX_NAME, MAX_SDK, NO_VARIATION, Drained, parse_caller
from .common import SdkError, json_response, sdk_error_response

__all__ = [
    "MAX_APPLICATIONS",
    "MAX_BYTES",
    "MAX_COUNTS",
    "MAX_INSTANCES",
    "RELAY_USAGE_PATH",
    "REMEMBERED_EDGES",
    "REMEMBERED_POSTS",
    "RelayUsage",
    "chunks",
    "parse",
]

RELAY_USAGE_PATH = "/relay/v1/usage"
MAX_BYTES = 4 * 1024 * 1024
MAX_COUNTS = 5_000
MAX_APPLICATIONS = 200
MAX_INSTANCES = 100
MAX_FLAG_KEY = 64  # as flag keys are (and SDK reports check)
MAX_COUNT = 10**12  # per entry: an edge's interval may hold many SDK reports
REMEMBERED_EDGES = 256  # edges whose recent post ids a process remembers
REMEMBERED_POSTS = 256  # post ids remembered per edge (an edge posts a few per interval)
_POST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BODY_SECONDS = 30.0
_UNAUTHORIZED = SdkError(
    401, "unauthorized", "missing, unknown or revoked relay key", {"WWW-Authenticate": "Bearer"}
)

#: (env id, flag, variation or None, application, count)
CountEntry = tuple[int, str, int | None, str, int]
#: ((env id, application, sdk, sdk version), last seen, instance ids)
AppEntry = tuple[tuple[int, str, str, str], int, list[str]]


# --- the edge's side: an interval as posts -------------------------------------------------


def chunks(drained: Drained, edge_id: str) -> Iterator[tuple[Drained, bytes]]:
    """The interval as bodies that each fit the bounds, with the part of `drained` each
    carries (what to put back into the counter when that post fails). Instance ids past
    `MAX_INSTANCES` per application are not sent (the core shows how many instances one
    process heard from; past 100 behind one edge it shows 100)."""
    # A key no flag can have is not sent: the upstream would refuse the whole post for it.
    counts = [item for item in drained.counts.items() if 0 < len(item[0][1]) <= MAX_FLAG_KEY]
    apps = list(drained.apps.items())
    first = True
    while counts or apps or first:
        part_counts = dict(counts[:MAX_COUNTS])
        part_apps = dict(apps[:MAX_APPLICATIONS])
        del counts[:MAX_COUNTS], apps[:MAX_APPLICATIONS]
        body = {
            "edge_id": edge_id,
            "post_id": secrets.token_urlsafe(12),  # the same for every retry of this post
            "counts": [
                {
                    "env_id": env_id,
                    "flag": flag,
                    "variation": None if variation == NO_VARIATION else variation,
                    "application": application,
                    "count": n,
                }
                for (env_id, flag, variation, application), n in part_counts.items()
            ],
            "applications": [
                {
                    "env_id": env_id,
                    "application": application,
                    "sdk": sdk,
                    "sdk_version": version,
                    "last_seen": seen.last_seen,
                    "instances": sorted(seen.instances)[:MAX_INSTANCES],
                }
                for (env_id, application, sdk, version), seen in part_apps.items()
            ],
        }
        # The overflow travels once, with the first part (it is only logged upstream).
        overflow = drained.overflow if first else 0
        first = False
        if part_counts or part_apps:
            yield Drained(part_counts, part_apps, overflow), orjson.dumps(body)


# --- the upstream's side: checking a post ----------------------------------------------------


def _invalid(message: str) -> SdkError:
    return SdkError(400, "invalid_usage", message)


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _invalid(f"`{field}` must be a whole number from {low} to {high}")
    return value


def _name(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _invalid(f"`{field}` must be a string of at most {limit} characters")
    return value


def _objects(body: dict[str, Any], field: str, limit: int) -> list[dict[str, Any]]:
    items = body.get(field, [])
    if not isinstance(items, list):
        raise _invalid(f"`{field}` must be a list")
    if len(items) > limit:
        raise SdkError(413, "too_many_entries", f"at most {limit} `{field}` per post; send several")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _invalid(f"`{field}[{i}]` must be an object")
    return items


def parse(body: Any) -> tuple[list[CountEntry], list[AppEntry]]:
    """The counts and applications of a post; raises SdkError (400, 413)."""
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    unknown = body.keys() - {"edge_id", "post_id", "counts", "applications"}
    if unknown:
        raise _invalid(f"unknown field `{sorted(unknown)[0]}`")
    _name(body.get("edge_id", ""), "edge_id", MAX_SDK)
    post_id = body.get("post_id")
    if post_id is not None and not (isinstance(post_id, str) and _POST_ID.fullmatch(post_id)):
        raise _invalid("`post_id` must be 1 to 64 letters, digits, `-` or `_`")
    counts: list[CountEntry] = []
    for i, entry in enumerate(_objects(body, "counts", MAX_COUNTS)):
        where = f"counts[{i}]"
        if entry.keys() - {"env_id", "flag", "variation", "application", "count"}:
            raise _invalid(f"`{where}` has an unknown field")
        flag = entry.get("flag")
        if not isinstance(flag, str) or not 0 < len(flag) <= MAX_FLAG_KEY:
            raise _invalid(f"`{where}.flag` must be a flag key")
        variation = entry.get("variation")
        if variation is not None:
            variation = _whole(variation, f"{where}.variation", 0, 10_000)
        caller = parse_caller(b"", _name(entry.get("application", ""), f"{where}.application",
                                         MAX_NAME).encode(), b"", b"")  # fmt: skip
        counts.append(
            (
                _whole(entry.get("env_id"), f"{where}.env_id", 1, 2**53),
                flag,
                variation,
                caller.application,
                _whole(entry.get("count"), f"{where}.count", 1, MAX_COUNT),
            )
        )
    apps: list[AppEntry] = []
    for i, entry in enumerate(_objects(body, "applications", MAX_APPLICATIONS)):
        where = f"applications[{i}]"
        known = {"env_id", "application", "sdk", "sdk_version", "last_seen", "instances"}
        if entry.keys() - known:
            raise _invalid(f"`{where}` has an unknown field")
        instances = entry.get("instances", [])
        if not isinstance(instances, list) or len(instances) > MAX_INSTANCES:
            raise _invalid(f"`{where}.instances` must be a list of at most {MAX_INSTANCES}")
        ids = [_name(x, f"{where}.instances", MAX_SDK) for x in instances]
        application = _name(entry.get("application", ""), f"{where}.application", MAX_NAME)
        sdk = _name(entry.get("sdk", ""), f"{where}.sdk", MAX_SDK)
        version = _name(entry.get("sdk_version", ""), f"{where}.sdk_version", MAX_SDK)
        caller = parse_caller(f"{sdk}/{version}".encode(), application.encode(), b"", b"")
        key = (
            _whole(entry.get("env_id"), f"{where}.env_id", 1, 2**53),
            caller.application,
            caller.sdk,
            caller.sdk_version,
        )
        seen = _whole(entry.get("last_seen"), f"{where}.last_seen", 0, 2**53)
        apps.append((key, seen, [parse_caller(b"", b"", x.encode(), b"").instance for x in ids]))
    return counts, apps


class RelayUsage:
    """The endpoint (raw ASGI, beside the relay stream): served by the core and every edge."""

    def __init__(self, hubs: Hubs) -> None:
        self.hubs = hubs
        self.source = hubs.source
        #: (project, edge id) -> {post id: (accepted, ignored), None while being applied}
        self.recent: OrderedDict[tuple[int, str], OrderedDict[str, Any]] = OrderedDict()

    def matches(self, scope: Scope) -> bool:
        return bool(scope["type"] == "http" and scope["path"] == RELAY_USAGE_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _too_long(scope):
            await refuse(send, security=True)  # not read: the connection is closed
            return
        try:
            if scope["method"] != "POST":
                raise SdkError(405, "method_not_allowed", "method not allowed", {"Allow": "POST"})
            record = await self._authenticate(HTTPConnection(scope))
            raw = await _body(receive)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise SdkError(400, "invalid_json", "the body is not valid JSON") from None
            counts, apps = parse(body)
            response = json_response(await self._apply_once(record, body, counts, apps), 202)
        except SdkError as exc:
            response = sdk_error_response(exc)
        add_security_headers(response.raw_headers)
        await response(scope, receive, send)

    async def _apply_once(
        self,
        record: RelayKeyRecord,
        body: dict[str, Any],
        counts: list[CountEntry],
        apps: list[AppEntry],
    ) -> dict[str, Any]:
        """Apply the post unless its `post_id` was applied already (then its first answer,
        marked `duplicate`)."""
        post_id = body.get("post_id")
        if post_id is None:
            accepted, ignored = await self._add(record, counts, apps)
            return {"accepted": accepted, "ignored": ignored}
        ids = self._ids(record.project_id, str(body.get("edge_id", "")))
        if post_id in ids:
            ids.move_to_end(post_id)
            first = ids[post_id]
            if first is None:
                raise SdkError(
                    409,
                    "post_in_progress",
                    "this post is being applied; send it again later",
                    {"Retry-After": "1"},
                )
            return {"accepted": first[0], "ignored": first[1], "duplicate": True}
        ids[post_id] = None
        while len(ids) > REMEMBERED_POSTS:
            ids.popitem(last=False)
        try:
            accepted, ignored = await self._add(record, counts, apps)
        except BaseException:
            ids.pop(post_id, None)  # not applied: its repeat must be
            raise
        ids[post_id] = (accepted, ignored)
        return {"accepted": accepted, "ignored": ignored}

    def _ids(self, project_id: int, edge_id: str) -> OrderedDict[str, Any]:
        key = (project_id, edge_id)
        ids = self.recent.get(key)
        if ids is None:
            ids = self.recent[key] = OrderedDict()
            while len(self.recent) > REMEMBERED_EDGES:
                self.recent.popitem(last=False)
        else:
            self.recent.move_to_end(key)
        return ids

    async def _authenticate(self, conn: HTTPConnection) -> RelayKeyRecord:
        scheme, _, secret = conn.headers.get("authorization", "").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret or len(secret) > 200:
            raise _UNAUTHORIZED
        try:
            record = await asyncio.to_thread(self.source.relay_key, digest(secret))
        except SourceUnavailable:
            raise _unavailable() from None
        if record is None or record.revoked:
            raise _UNAUTHORIZED
        return record

    async def _add(
        self, record: RelayKeyRecord, counts: list[CountEntry], apps: list[AppEntry]
    ) -> tuple[int, int]:
        """Add what the key's project covers to this process's counter (on the event loop,
        where the counter lives): (evaluations accepted, evaluations ignored)."""
        counter = self.hubs.usage
        if not counter.enabled:
            return 0, 0
        try:
            covered = set(await asyncio.to_thread(self.source.environments, record.project_id))
        except SourceUnavailable:
            raise _unavailable() from None
        known: dict[int, frozenset[str] | None] = {}
        for env_id in {c[0] for c in counts} & covered:
            try:
                hub = await self.hubs.aget(env_id)
            except SourceUnavailable:
                raise _unavailable() from None
            if hub is not None:
                compiled = hub.state.compiled
                archived = counter.archived.get(env_id, frozenset())
                known[env_id] = frozenset(compiled.flags) | frozenset(compiled.broken) | archived
        accepted = ignored = 0
        for env_id, flag, variation, application, n in counts:
            flags = known.get(env_id)
            if flags is not None and flag in flags:
                counter.add(env_id, flag, variation, application, n)
                accepted += n
            else:
                ignored += n
        for key, last_seen, instances in apps:
            if key[0] in covered:
                counter.add_seen(key, last_seen, instances)
        return accepted, ignored


def _unavailable() -> SdkError:
    return SdkError(
        503, "unavailable", "the flag source is unreachable; retry shortly", {"Retry-After": "5"}
    )


def _too_long(scope: Scope) -> bool:
    """A Content-Length over MAX_BYTES: refused unread, as the other endpoints do."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value) > MAX_BYTES
            except ValueError:
                return False
    return False


async def _body(receive: Receive) -> bytes:
    """The request body, at most MAX_BYTES, within _BODY_SECONDS."""
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(_BODY_SECONDS):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise SdkError(400, "invalid_usage", "the request body was cut short")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BYTES:
                    raise SdkError(
                        413, "payload_too_large", f"a usage post may be at most {MAX_BYTES} bytes"
                    )
                parts.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(parts)
    except TimeoutError:
        raise SdkError(408, "request_timeout", "the request body took too long") from None
