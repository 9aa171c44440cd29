"""Live updates for open dashboard pages: `GET /ui/events?org=..&project=..` (session cookie)
sends an SSE event whenever an environment of the project serves a new version. It reads the
version each environment's hub holds in memory (the hub the SDK streams use, kept current by
the change feed), so it costs no database reads while the page stays open.

A stream is authorized when it opens and checked again, session and membership both, every
`stream_recheck_seconds`, and at once when this process ends its session or changes its user's
memberships (see services/revocations.py): it ends as soon as either check fails.

Each such stream holds a connection, and so a file descriptor, as an SDK stream does: it counts
against the same per-process stream limit (and the per-owner one, per user), and past it answers
503 with Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..api.auth import SESSION_COOKIE
from ..secrets import digest
from ..services import ServiceError
from ..streamslots import LimitReached, StreamSlots, retry_after
from . import params

__all__ = ["ROUTES"]

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0
_REFUSAL = orjson.dumps(
    {"error": {"code": "too_many_streams", "message": "stream limit reached; retry later"}}
)


async def events(request: Request) -> Response:
    services = request.app.state.services
    hubs = request.app.state.hubs
    token = request.cookies.get(SESSION_COOKIE)
    org = request.query_params.get("org", "")
    project = request.query_params.get("project", "")

    def authorize() -> dict[str, int]:
        """The project's environments, if the session is valid and its user a member."""
        actor = services.accounts.authenticate_session(token)
        ids: dict[str, int] = services.orgs.environment_ids(actor, org, project)
        return ids

    try:
        org, project = params.key(org, "org"), params.key(project, "project")
        actor = await run_in_threadpool(services.accounts.authenticate_session, token)
        env_ids = await run_in_threadpool(services.orgs.environment_ids, actor, org, project)
    except ServiceError:
        return Response("not found", status_code=404, media_type="text/plain")
    assert token is not None  # a session was found for it
    recheck_seconds = float(services.rt.settings.stream_recheck_seconds)

    async def stream() -> AsyncIterator[bytes]:
        with services.revocations.watch(digest(token), actor.user_id) as watch:
            seen: dict[str, int] = {}
            for key, env_id in list(env_ids.items()):
                hub = await hubs.aget(env_id)
                seen[key] = hub.state.version if hub else 0
                if hub is None:
                    del env_ids[key]  # gone: asking again would read the database every poll
            yield b"retry: 1000\nevent: hello\ndata: " + orjson.dumps(seen) + b"\n\n"
            loop = asyncio.get_running_loop()
            last_beat = last_check = loop.time()
            while True:
                await asyncio.sleep(POLL_SECONDS)
                if await request.is_disconnected():
                    return
                now = loop.time()
                if watch.woken.is_set() or now - last_check >= recheck_seconds:
                    watch.woken.clear()
                    last_check = now
                    try:
                        await run_in_threadpool(authorize)
                    except ServiceError:
                        return  # logged out, expired, or no longer a member: end here
                for key, env_id in list(env_ids.items()):
                    hub = await hubs.aget(env_id)
                    version = hub.state.version if hub else 0
                    if hub is None:
                        del env_ids[key]  # deleted meanwhile: said once below, not asked again
                    if version != seen[key]:
                        seen[key] = version
                        data = orjson.dumps({"environment": key, "version": version})
                        yield b"event: version\nid: %d\ndata: %b\n\n" % (version, data)
                if now - last_beat > HEARTBEAT_SECONDS:
                    last_beat = now
                    yield b": heartbeat\n\n"

    return _CountedStream(
        request.app.state.stream_slots,
        f"user:{actor.user_id}",
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


ROUTES = [("/ui/events", events, ["GET"])]


class _CountedStream(StreamingResponse):
    """A streaming answer that holds a slot of the stream limit while it is sent, or answers
    503 with Retry-After when none is free."""

    def __init__(self, slots: StreamSlots, owner: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.slots.admit(self.owner, "dashboard")
        except LimitReached:
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
            refusal = Response(
                _REFUSAL,
                status_code=503,
                media_type="application/json",
                headers={"Retry-After": retry_after(), "Cache-Control": "no-store"},
            )
            await refusal(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.release(self.owner, "dashboard")


ROUTES = [("/ui/events", events, ["GET"])]
