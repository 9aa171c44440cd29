"""Live updates for open dashboard pages: `GET /ui/events?org=..&project=..` (session cookie)
sends an SSE event whenever an environment of the project serves a new version. It reads the
version each environment's hub holds in memory (the hub the SDK streams use, kept current by
the change feed), so it costs no database reads while the page stays open.

A stream is authorized when it opens and checked again, session and membership both, every
`stream_recheck_seconds`, and at once when this process ends its session or changes its user's
memberships (see services/revocations.py): it ends as soon as either check fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..api.auth import SESSION_COOKIE
from ..secrets import digest
from ..services import ServiceError

__all__ = ["ROUTES"]

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0


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
        actor = await run_in_threadpool(services.accounts.authenticate_session, token)
        env_ids = await run_in_threadpool(services.orgs.environment_ids, actor, org, project)
    except ServiceError:
        return Response("not found", status_code=404, media_type="text/plain")
    assert token is not None  # a session was found for it
    recheck_seconds = float(services.rt.settings.stream_recheck_seconds)

    async def stream() -> AsyncIterator[bytes]:
        with services.revocations.watch(digest(token), actor.user_id) as watch:
            seen: dict[str, int] = {}
            for key, env_id in env_ids.items():
                hub = await hubs.aget(env_id)
                seen[key] = hub.state.version if hub else 0
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
                for key, env_id in env_ids.items():
                    hub = await hubs.aget(env_id)
                    version = hub.state.version if hub else 0
                    if version != seen[key]:
                        seen[key] = version
                        data = orjson.dumps({"environment": key, "version": version})
                        yield b"event: version\nid: %d\ndata: %b\n\n" % (version, data)
                if now - last_beat > HEARTBEAT_SECONDS:
                    last_beat = now
                    yield b": heartbeat\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


ROUTES = [("/ui/events", events, ["GET"])]
