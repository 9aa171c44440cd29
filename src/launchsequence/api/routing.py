"""The admin API's route class: request bodies are parsed as strict JSON, by orjson.

The standard library's parser accepts `NaN`, `Infinity`, lone surrogates and integers of any
size. Such values passed validation, were stored, and then broke every answer that showed
them (orjson cannot write them; PostgreSQL refuses `NaN` in JSON). orjson refuses the first
three as invalid JSON (400) and reads integers beyond 64 bits as floats, as JavaScript does.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["StrictJSONRoute"]


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            # orjson.JSONDecodeError is a json.JSONDecodeError: FastAPI answers 400 for it.
            self._json = orjson.loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict_handler
