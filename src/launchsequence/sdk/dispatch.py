"""`Dispatcher`: the ASGI entry point the core and the edge share.

SDK paths (`/sdk/`, `/ofrep/`) go to the SDK streams (raw ASGI) or to the SDK gate; the relay
stream and the relay's usage reports to their handlers; everything else (the admin app at the
core, health and metrics at the edge) to `rest`, which also runs the lifespan.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .relay import RelayStream
from .relay_usage import RelayUsage
from .streams import StreamApp

__all__ = ["Dispatcher"]

_SDK_PREFIXES = ("/sdk/", "/ofrep/")


class Dispatcher:
    def __init__(
        self,
        rest: Any,
        sdk: ASGIApp,
        streams: StreamApp,
        relay: RelayStream,
        relay_usage: RelayUsage,
    ) -> None:
        self.rest = rest
        self.sdk = sdk
        self.streams = streams
        self.relay = relay
        self.relay_usage = relay_usage
        self.state = rest.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith(_SDK_PREFIXES):
                if self.streams.matches(scope):
                    await self.streams(scope, receive, send)
                else:
                    await self.sdk(scope, receive, send)
                return
            if self.relay.matches(scope):
                await self.relay(scope, receive, send)
                return
            if self.relay_usage.matches(scope):
                await self.relay_usage(scope, receive, send)
                return
        await self.rest(scope, receive, send)
