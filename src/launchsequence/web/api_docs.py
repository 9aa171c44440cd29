"""The API reference at /api/v1/docs: one server-rendered page made from the app's own OpenAPI
document. No script and no inline style, so the app's Content-Security-Policy lets all of it
through, and nothing loaded from elsewhere, so it works offline. Public, as the document is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from . import openapi_view

__all__ = ["ApiReference", "install"]

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class ApiReference:
    """Renders the page on first request and serves those bytes from then on: the document
    does not change while the process runs."""

    def __init__(self, openapi: Callable[[], dict[str, Any]], docs_url: str, openapi_url: str):
        self.openapi = openapi
        self.docs_url = docs_url
        self.openapi_url = openapi_url
        self.html: bytes | None = None

    def render(self) -> bytes:
        return (
            _templates.get_template("api_docs.html")
            .render(
                ref=openapi_view.build(self.openapi()),
                docs_url=self.docs_url,
                openapi_url=self.openapi_url,
            )
            .encode()
        )

    async def endpoint(self, request: Request) -> HTMLResponse:
        if self.html is None:
            # A worker thread: a big document takes a while, and the event loop serves SDKs.
            self.html = await run_in_threadpool(self.render)
        return HTMLResponse(self.html)


def install(app: FastAPI, path: str) -> None:
    """Serve the reference of `app`'s OpenAPI document at `path` (not in the document)."""
    reference = ApiReference(app.openapi, path, app.openapi_url or "")
    app.add_route(path, reference.endpoint, methods=["GET"], include_in_schema=False)
