"""A FastAPI application whose flag client lives in its lifespan.

Run it with `uvicorn app:app` (or `fastapi run app.py`). The client is built when the
application starts, in the server's event loop, and closed when it stops."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from launchsequence_sdk import AsyncClient


def client_from_environment() -> AsyncClient:
    return AsyncClient(
        os.environ["LAUNCHSEQ_SERVER_KEY"],
        base_url=os.environ.get("LAUNCHSEQ_URL", "http://127.0.0.1:8080"),
    )


def create_app(make_client: Callable[[], AsyncClient] = client_from_environment) -> FastAPI:
    """The application; tests pass `lambda: AsyncClient.for_test_data(td)`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with make_client() as client:  # streams in this loop; closed on the way out
            await client.wait_until_ready(5)  # serves defaults if the server is not reachable
            app.state.flags = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    def checkout(
        flags: Annotated[AsyncClient, Depends(get_flags)],
        user: str = "anonymous",
        country: str = "",
    ) -> dict[str, object]:
        details = flags.bool_details("new-checkout", {"key": user, "country": country}, False)
        return {"checkout": "new" if details.value else "classic", "reason": details.reason,
                "pid": os.getpid()}  # fmt: skip

    return app


def get_flags(request: Request) -> AsyncClient:
    """The application's client, for `Depends`."""
    return request.app.state.flags  # type: ignore[no-any-return]


app = create_app()
