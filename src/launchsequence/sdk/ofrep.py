"""The OpenFeature Remote Evaluation Protocol (OFREP) at /ofrep/v1, with its SSE extension.

Single-flag and bulk evaluation answer OpenFeature reasons and error codes as the protocol
shapes them. A server key sees every flag; a client key only client-side flags (others are
FLAG_NOT_FOUND). A flag whose off variation or fallthrough is unset answers without `value`
(OFREP's code default: the provider serves the caller's default), with reason DISABLED or
DEFAULT.
`metadata` holds the flag's metadata (and the matched rule's id and index). The bulk answer's
ETag is a digest of the flags it lists and its event stream, nothing else, so it changes only
when what that key sees for that context changes. It lists an `eventStreams` entry: an SSE
stream that sends `refetchEvaluation` (with the environment's new version as `etag`) when
something the key can see changes. EventSource cannot send headers, so the stream URL carries
a token signed by the server: it names the key's digest, never the key, and is worth no more
than the key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import launchsequence_engine as engine
import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from ..realtime.hub import HubState, OfrepSubscriber
from ..realtime.hubs import Hubs
from ..realtime.keys import SdkKey
from ..realtime.writer import Writer
from ..usagecount import caller_from_headers
from .common import (
    SdkError,
    authenticate,
    json_response,
    read_json,
    refuse_server_key_in_url,
    store_errors,
)
from .routes import _etag_matches
from .streams import EventStream, StreamHandler

__all__ = ["routes", "stream_handlers"]

INACTIVITY_DELAY_SECONDS = 120


def _context(body: Any) -> dict[str, Any]:
    """An OFREP context as an engine context: `targetingKey` becomes `key`."""
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    raw = body.get("context", {})
    if not isinstance(raw, dict):
        raise _invalid("`context` must be an object")
    context = {k: v for k, v in raw.items() if k != "targetingKey"}
    if "targetingKey" in raw:
        context["key"] = raw["targetingKey"]
    return context


def _invalid(message: str) -> SdkError:
    return SdkError(400, "INVALID_CONTEXT", message)


def _success(r: engine.EvaluationResult) -> dict[str, Any]:
    metadata: dict[str, Any] = dict(r.metadata) if r.metadata else {}
    if r.rule_id is not None:
        metadata["ruleId"] = r.rule_id
        metadata["ruleIndex"] = r.rule_index
    if r.prerequisite is not None:
        metadata["prerequisite"] = r.prerequisite
    if r.variation is None:
        # The code default: no value. `variant` is there, null, because the published Python
        # OFREP provider (0.3.0) reads it unconditionally and fails without it.
        return {"key": r.key, "reason": r.reason, "variant": None, "metadata": metadata}
    return {"key": r.key, "reason": r.reason, "variant": r.variant, "value": r.value,
            "metadata": metadata}  # fmt: skip


def _failure(r: engine.EvaluationResult) -> dict[str, Any]:
    return {"key": r.key, "errorCode": r.error_code,
            "errorDetails": r.error_message or r.error_code}  # fmt: skip


def _visible(key: SdkKey, state: HubState, flag_key: str) -> bool:
    return key.kind == "server" or flag_key in state.client_flags


def _not_found(flag_key: str) -> engine.EvaluationResult:
    return engine.EvaluationResult(flag_key, None, None, None, engine.Reason.ERROR,
                                   engine.ErrorCode.FLAG_NOT_FOUND, "no such flag")  # fmt: skip


def _event_stream(stream: str, base_url: str) -> dict[str, Any]:
    """The `eventStreams` entry: an absolute URL when the public URL is configured (it may
    carry a path prefix), else a path the provider resolves against its own base URL."""
    entry: dict[str, Any] = {"type": "sse", "inactivityDelaySec": INACTIVITY_DELAY_SECONDS}
    if base_url:
        entry["url"] = base_url.rstrip("/") + stream
    else:
        entry["endpoint"] = {"requestUri": stream}
    return entry


def stream_token(secret: str, key: SdkKey) -> str:
    signature = hmac.new(secret.encode(), b"ofrep-stream:" + key.digest.encode(), hashlib.sha256)
    return f"{key.digest}.{signature.hexdigest()[:40]}"


def routes(hubs: Hubs, clock: Callable[[], int], secret: str, base_url: str = "") -> list[Route]:
    evaluations = hubs.metrics.evaluations.labels("ofrep")  # looked up once

    def _error_answer(exc: SdkError) -> Response:
        return json_response({"errorCode": exc.code, "errorDetails": exc.message}, exc.status)

    async def evaluate_flag(request: Request) -> Response:
        key, hub = await authenticate(request, hubs, server_only=False)
        flag_key = request.path_params["key"]
        try:
            context = _context(await read_json(request))
        except SdkError as exc:
            return json_response({"key": flag_key, "errorCode": "INVALID_CONTEXT"
                                  if exc.code != "invalid_json" else "PARSE_ERROR",
                                  "errorDetails": exc.message}, 400)  # fmt: skip
        state = hub.state
        now = clock()
        if _visible(key, state, flag_key):
            r = engine.evaluate(state.compiled, flag_key, context, now=now)
        else:
            r = _not_found(flag_key)
        evaluations.inc()
        usage = hubs.usage
        if usage.enabled:
            caller = caller_from_headers(request.scope["headers"])
            usage.seen(hub.env_id, caller, now)
            usage.add_results(hub.env_id, caller.application, (r,))
        if r.error_code is None:
            return json_response(_success(r))
        status = 404 if r.error_code == engine.ErrorCode.FLAG_NOT_FOUND else 400
        return json_response(_failure(r), status)

    async def evaluate_all(request: Request) -> Response:
        key, hub = await authenticate(request, hubs, server_only=False)
        try:
            context = _context(await read_json(request))
        except SdkError as exc:
            code = "PARSE_ERROR" if exc.code == "invalid_json" else "INVALID_CONTEXT"
            return _error_answer(SdkError(400, code, exc.message))
        state = hub.state
        check = engine.check_context(context)
        if isinstance(check, tuple):  # not a valid context; a missing key is fine
            return _error_answer(SdkError(400, check[0], check[1]))
        now = clock()
        results = engine.evaluate_all(
            state.compiled, context, now=now, client_side_only=key.kind == "client"
        )
        if key.kind == "client" and state.compiled.broken:
            # Client-side flags set aside answer their error, as they do to a server key.
            for flag_key in state.client_flags - results.keys():
                results[flag_key] = engine.evaluate(state.compiled, flag_key, context)
        evaluations.inc(len(results))
        usage = hubs.usage
        if usage.enabled:
            caller = caller_from_headers(request.scope["headers"])
            usage.seen(hub.env_id, caller, now)
            usage.add_results(hub.env_id, caller.application, results.values())
        flags = [_success(r) if r.error_code is None else _failure(r) for r in results.values()]
        stream = f"/ofrep/v1/events?token={stream_token(secret, key)}"
        streams = [_event_stream(stream, base_url)]
        # Only what this key and context receive: not the environment's version, which moves
        # with changes to flags they cannot see.
        seen = orjson.dumps([flags, streams])
        etag = '"' + hashlib.sha256(seen).hexdigest()[:32] + '"'
        body = orjson.dumps(
            {"flags": flags, "metadata": {"version": state.version}, "eventStreams": streams}
        )
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, headers=headers, media_type="application/json")

    return [
        Route("/ofrep/v1/evaluate/flags/{key}", evaluate_flag, methods=["POST"]),
        Route("/ofrep/v1/evaluate/flags", evaluate_all, methods=["POST"]),
    ]


def stream_handlers(hubs: Hubs, clock: Callable[[], int], secret: str) -> dict[str, StreamHandler]:
    """The OFREP event stream, served by `StreamApp` (raw ASGI)."""

    async def events(request: HTTPConnection) -> EventStream:
        refuse_server_key_in_url(request)
        token = request.query_params.get("token", "")
        key = await _key_for_token(token)
        with store_errors():
            hub = await hubs.aget(key.env_id)
        if hub is None:
            raise SdkError(401, "unauthorized", "missing, unknown or expired stream token")

        def subscribe(writer: Writer, state: HubState) -> tuple[bytes, Callable[[], None]]:
            sub = OfrepSubscriber(hub, writer, key, client_only=key.kind == "client")
            sub.version = state.version
            hub.ofrep_subs.add(sub)
            return b"", lambda: hub.ofrep_subs.discard(sub)

        return EventStream(hubs, hub, key, "ofrep", subscribe)

    async def _key_for_token(token: str) -> SdkKey:
        digest = token.partition(".")[0]
        expected = stream_token(secret, _probe(digest))
        if not digest or not hmac.compare_digest(token, expected):
            raise SdkError(401, "unauthorized", "missing, unknown or expired stream token")
        with store_errors():
            found = await asyncio.to_thread(hubs.keys.load_digest, digest)
        if found is None or not found.valid(clock()):
            raise SdkError(401, "unauthorized", "missing, unknown or expired stream token")
        return found

    return {"/ofrep/v1/events": events}


def _probe(digest: str) -> SdkKey:
    return SdkKey(digest, "", 0, 0, 0, None)
