"""A JSON response encoded with orjson: the admin API's default answer class."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

__all__ = ["JSONBytes"]


class JSONBytes(JSONResponse):
    # A JSONResponse subclass, so that FastAPI documents answers as JSON (an object), not as
    # `{"type": "string"}` as it does for any other response class.
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
