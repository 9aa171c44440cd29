"""A small web application using Launch Sequence on both sides of the page.

The server evaluates the `banner` flag with the Python SDK to choose what to render, and embeds
`client.bootstrap(context)` in the page as JSON. In the browser, the JavaScript SDK starts from
those values (no flash of the other version, no request before the first paint) and keeps them
live over Server-Sent Events: toggle the flag and the open page changes without a reload.

The page runs no inline script: the values travel in `<script type="application/json">` blocks
and the code comes from `/static/`, so a strict Content-Security-Policy holds.

    LAUNCHSEQ_URL=http://127.0.0.1:8080 LAUNCHSEQ_SERVER_KEY=ls_srv_... \
    LAUNCHSEQ_CLIENT_KEY=ls_cli_... .venv/bin/python examples/python-app/app.py

See README.md next to this file.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from launchsequence_sdk import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
#: The JavaScript SDK's modules, served from the repository at /static/sdk/ (`index.js` imports
#: its sibling modules by relative path, so the directory is served whole).
JS_SDK = HERE.parents[1] / "sdks" / "js" / "src"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Launch Sequence: Python example</title>
<link rel="stylesheet" href="/static/style.css">
<script type="application/json" id="flags">{bootstrap}</script>
<script type="application/json" id="launchsequence">{config}</script>
<script type="module" src="/static/page.js"></script>
</head>
<body>
<p id="banner" class="banner"{banner_hidden}>The new banner is live.</p>
<main>
<h1>Hello, {user}</h1>
<p>The flag <code>{flag}</code> is <strong id="flag-state">{state}</strong>.</p>
<p class="note">The server rendered this value with the Python SDK; the JavaScript SDK keeps
it current. Toggle the flag in Launch Sequence and watch this page.</p>
<p class="note">Another user: <a href="/?user=alice">alice</a>, <a href="/?user=bob">bob</a>.</p>
</main>
</body>
</html>
"""


def script_json(value: Any) -> str:
    """JSON that is safe inside a `<script>` element (no `</script>`, no `<!--`)."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def create_app(
    *,
    base_url: str,
    server_key: str,
    client_key: str,
    flag: str = "banner",
    browser_url: str | None = None,
    ready_timeout: float = 5.0,
) -> Starlette:
    """The example application. `base_url` is where this process reaches Launch Sequence;
    `browser_url` where browsers do (the same unless a proxy or container network differs)."""
    browser_url = (browser_url or base_url).rstrip("/")
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"connect-src 'self' {browser_url}; img-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One SDK client for the process: it streams in its own thread, evaluation is local.
        client = Client(server_key, base_url=base_url)
        if not await asyncio.to_thread(client.wait_until_ready, ready_timeout):
            print("launchsequence: flags not loaded yet; serving defaults meanwhile")
        app.state.flags = client
        try:
            yield
        finally:
            client.close()

    async def home(request: Request) -> HTMLResponse:
        client: Client = request.app.state.flags
        # A real application takes the context from its logged-in user.
        context = {"key": request.query_params.get("user") or "anonymous"}
        on = client.bool_value(flag, context, False)
        bootstrap = client.bootstrap(context)
        config = {"baseUrl": browser_url, "clientKey": client_key, "context": context, "flag": flag}
        page = PAGE.format(
            bootstrap=script_json(bootstrap),
            config=script_json(config),
            banner_hidden="" if on else " hidden",
            user=html.escape(context["key"]),
            flag=html.escape(flag),
            state="on" if on else "off",
        )
        headers = {"Content-Security-Policy": csp, "Cache-Control": "no-store"}
        return HTMLResponse(page, headers=headers)

    return Starlette(
        routes=[
            Route("/", home),
            Mount("/static/sdk", StaticFiles(directory=JS_SDK), name="sdk"),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    missing = [v for v in ("LAUNCHSEQ_SERVER_KEY", "LAUNCHSEQ_CLIENT_KEY") if not os.environ.get(v)]
    if missing:
        raise SystemExit(f"set {' and '.join(missing)} (see examples/python-app/README.md)")
    return create_app(
        base_url=os.environ.get("LAUNCHSEQ_URL", "http://127.0.0.1:8080"),
        server_key=os.environ["LAUNCHSEQ_SERVER_KEY"],
        client_key=os.environ["LAUNCHSEQ_CLIENT_KEY"],
        flag=os.environ.get("LAUNCHSEQ_FLAG", "banner"),
        browser_url=os.environ.get("LAUNCHSEQ_BROWSER_URL") or None,
    )


def main() -> None:
    import uvicorn

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    uvicorn.run(app_from_environment(), host=host, port=port)


if __name__ == "__main__":
    main()
