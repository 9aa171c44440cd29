"""GET /sdk/js/{version}/{filename}: the JavaScript SDK's browser builds, served by the server
itself so that a page can load it with no bundler and no npm (see launchsequence.jsassets).

A URL names one version's bytes for ever: answers are public, cacheable for a year and
`immutable`, with a strong ETag (304 on `If-None-Match`). Another version (an older or newer
SDK than this server's) or another file name answers 404 with the usual error shape. No key is
needed: the SDK is public code, and CORS (the SDK app's, `*`) lets any origin load it with
`crossorigin` and check its `integrity`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..jsassets import find
from .common import SdkError

__all__ = ["routes"]

CACHE_CONTROL = "public, max-age=31536000, immutable"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def js_file(request: Request) -> Response:
    version = request.path_params["version"]
    filename = request.path_params["filename"]
    served = find(version, filename)
    if served is None:
        raise SdkError(404, "not_found", f"no JS SDK file {filename!r} for version {version!r}")
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": served.etag}
    if _matches(request.headers.get("if-none-match"), served.etag):
        return Response(status_code=304, headers=headers)
    return Response(served.body, media_type=served.content_type, headers=headers)


def routes() -> list[Route]:
    return [Route("/sdk/js/{version}/{filename}", js_file, methods=["GET", "HEAD"])]
