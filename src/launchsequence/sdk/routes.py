"""/sdk/v1: evaluation, the snapshot, and the server and client streams."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable
from typing import Any

import launchsequence_engine as engine
import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from ..realtime.hub import ClientSubscriber, Hub, HubState, ServerSubscriber, client_values
from ..realtime.hubs import Hubs
from ..realtime.legacy import wants_v2
from ..realtime.writer import Writer
from ..usagecount import Caller, caller_from_headers, parse_caller
from .common import SdkError, authenticate, json_response, loads, read_json
from .streams import EventStream, StreamHandler

__all__ = ["routes", "stream_handlers"]

MAX_CONTEXT_BYTES = 32_768
_VERSION = re.compile(r"[0-9]{1,18}")


def result_dict(r: engine.EvaluationResult) -> dict[str, Any]:
    out: dict[str, Any] = {"value": r.value, "variation": r.variation, "variant": r.variant,
                           "reason": r.reason}  # fmt: skip
    if r.error_code is not None:
        out["error_code"] = r.error_code
        if r.error_message:
            out["error_message"] = r.error_message
    if r.rule_id is not None:
        out["rule_id"] = r.rule_id
        out["rule_index"] = r.rule_index
    if r.prerequisite is not None:
        out["prerequisite"] = r.prerequisite
    if r.metadata:
        out["metadata"] = r.metadata
    return out


def _context(body: Any) -> Any:
    if not isinstance(body, dict):
        raise SdkError(400, "invalid_request", "the body must be a JSON object")
    if "context" not in body:
        raise SdkError(400, "invalid_request", "the body needs a `context` object")
    return body["context"]


def routes(hubs: Hubs, clock: Callable[[], int]) -> list[Route]:
    # The labelled counters, looked up once: `labels()` takes a lock and builds a key.
    sdk_evaluations = hubs.metrics.evaluations.labels("sdk")
    client_evaluations = hubs.metrics.evaluations.labels("client")

    async def evaluate(request: Request) -> Response:
        _, hub = await authenticate(request, hubs, server_only=True)
        body = await read_json(request)
        context = _context(body)
        wanted = body.get("flags")
        if wanted is not None and (
            not isinstance(wanted, list) or not all(isinstance(k, str) for k in wanted)
        ):
            raise SdkError(400, "invalid_request", "`flags` must be a list of flag keys")
        defaults = body.get("defaults")
        if defaults is not None and not isinstance(defaults, dict):
            raise SdkError(400, "invalid_request", "`defaults` must be an object of flag keys")
        state = hub.state
        now = clock()
        if wanted is None:
            results = engine.evaluate_all(state.compiled, context, now=now)
        else:
            results = {k: engine.evaluate(state.compiled, k, context, now=now) for k in wanted}
        if defaults:
            # The caller's defaults: a type check against the flag's type (TYPE_MISMATCH) and
            # the value of a code default, as the engine answers them.
            for k in results.keys() & defaults.keys():
                results[k] = engine.evaluate(state.compiled, k, context, defaults[k], now=now)
        sdk_evaluations.inc(len(results))
        usage = hubs.usage
        if usage.enabled:
            caller = caller_from_headers(request.scope["headers"])
            usage.seen(hub.env_id, caller, now)
            usage.add_results(hub.env_id, caller.application, results.values())
        return json_response(
            {"version": state.version, "flags": {k: result_dict(r) for k, r in results.items()}}
        )

    async def snapshot(request: Request) -> Response:
        """Schema version 2 with `?schema=2`; else version 1, for SDKs that read only that."""
        _, hub = await authenticate(request, hubs, server_only=True)
        state = hub.state
        headers = {"ETag": state.etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match"), state.etag):
            return Response(status_code=304, headers=headers)
        body = state.body if wants_v2(request.query_params.get("schema")) else state.legacy_body
        return Response(body, headers=headers, media_type="application/json")

    async def client_evaluate(request: Request) -> Response:
        _, hub = await authenticate(request, hubs, server_only=False)
        context = _context(await read_json(request))
        state = hub.state
        flags = client_values(state, context)
        client_evaluations.inc(len(flags))
        usage = hubs.usage
        if usage.enabled:
            caller = caller_from_headers(request.scope["headers"])
            usage.seen(hub.env_id, caller, clock())
            usage.add_values(hub.env_id, caller.application, flags)
        return json_response({"version": state.version, "flags": flags})

    return [
        Route("/sdk/v1/evaluate", evaluate, methods=["POST"]),
        Route("/sdk/v1/snapshot", snapshot, methods=["GET"]),
        Route("/sdk/v1/client/evaluate", client_evaluate, methods=["POST"]),
    ]


def stream_handlers(hubs: Hubs) -> dict[str, StreamHandler]:
    """The stream endpoints, served by `StreamApp` (raw ASGI) rather than as routes."""

    async def catch_up(request: HTTPConnection, hub: Hub) -> str | None:
        """The client's Last-Event-ID. When it is ahead of this process (the client came from
        an instance that saw a write whose notification has not arrived here yet), reload
        first, so that the client is not sent back to an older version."""
        last = request.headers.get("last-event-id")
        # A version is ASCII digits: "²" passes str.isdigit() but not int() (that was a 500).
        # Anything else is no version this server sent, and gets the whole ruleset.
        ahead = last is not None and _VERSION.fullmatch(last) is not None
        if ahead and int(last or 0) > hub.state.version:
            with contextlib.suppress(Exception):  # the database is away: serve what we have
                await hubs.areload(hub.env_id, cause="ahead")
        return last

    async def stream(request: HTTPConnection) -> EventStream:
        key, hub = await authenticate(request, hubs, server_only=True)
        last = await catch_up(request, hub)
        legacy = not wants_v2(request.query_params.get("schema"))
        caller = _stream_caller(request, hubs, hub)

        def subscribe(writer: Writer, state: HubState) -> tuple[bytes, Callable[[], None]]:
            sub = ServerSubscriber(hub, writer, key, legacy)
            sub.caller = caller
            sub.version = state.version
            hub.server_subs.add(sub)
            put = state.legacy_put if legacy else state.put
            first = b"" if last == str(state.version) else put
            return first, lambda: hub.server_subs.discard(sub)

        return EventStream(hubs, hub, key, "server", subscribe)

    async def client_stream(request: HTTPConnection) -> EventStream:
        key, hub = await authenticate(request, hubs, server_only=False, query=True)
        context = _decode_context(request.query_params.get("context"))
        await catch_up(request, hub)
        caller = _stream_caller(request, hubs, hub)

        def subscribe(writer: Writer, state: HubState) -> tuple[bytes, Callable[[], None]]:
            sub = ClientSubscriber(hub, writer, key, context)
            sub.version = state.version
            sub.values = client_values(state, context)
            sub.caller = caller
            hubs.usage.add_values(hub.env_id, caller.application, sub.values)
            hub.client_subs.add(sub)
            put = {"version": state.version, "flags": sub.values}
            first = b"event: put\nid: %d\ndata: %b\n\n" % (state.version, orjson.dumps(put))
            return first, lambda: hub.client_subs.discard(sub)

        return EventStream(hubs, hub, key, "client", subscribe)

    return {"/sdk/v1/stream": stream, "/sdk/v1/client/stream": client_stream}


def _stream_caller(request: HTTPConnection, hubs: Hubs, hub: Hub) -> Caller:
    """The application opening a stream, noted as seen. EventSource cannot send headers: a
    browser's stream may name its application and SDK as `?application=` and `?sdk=`."""
    caller = caller_from_headers(request.scope["headers"])
    query = request.query_params
    if not caller.application and (query.get("application") or query.get("sdk")):
        caller = parse_caller(query.get("sdk", "").encode(), query.get("application", "").encode(),
                              b"", b"")  # fmt: skip
    hubs.usage.seen(hub.env_id, caller, hubs.clock())
    return caller


def _etag_matches(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names `etag` (a quoted tag); the unquoted form matches too, as
    some clients send it."""
    if not header:
        return False
    bare = etag.strip('"')
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/")
        if tag in (etag, "*", bare):
            return True
    return False


def _decode_context(raw: str | None) -> dict[str, Any]:
    """The context of a client stream: base64url of its JSON (EventSource cannot POST)."""
    if not raw:
        raise SdkError(400, "invalid_context", "pass the context as ?context=<base64url JSON>")
    if len(raw) > MAX_CONTEXT_BYTES:
        raise SdkError(413, "payload_too_large", "the context is too large")
    try:
        context = loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise SdkError(400, "invalid_context", "the context is not base64url JSON") from None
    if not isinstance(context, dict):
        raise SdkError(400, "invalid_context", "the context must be a JSON object")
    return context
