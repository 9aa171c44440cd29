"""The JavaScript SDK as this server serves it to browsers: no bundler, no npm, no Node.

Two builds of `@launchsequence/js` ship inside this package (`jsbundle/`, generated from
`sdks/js` by `make js-assets`; a test checks they match a fresh build):

- `esm`: an ES module, `<script type="module">` / `import { createClient } from "<url>"`;
- `classic`: a classic script defining the global `LaunchSequence` (`LaunchSequence.createClient`).

Each is served at `url_path` (`/sdk/js/<version>/<filename>`) forever unchanged: the version is
the server's, which is the JS SDK's (tests/packaging/test_metadata.py), so answers are cacheable
for a year and `integrity` (Subresource Integrity, sha384) stays true for that URL.

This module is the contract the dashboard's snippets use (`asset("classic").integrity`); it sits
outside the layers so that both `sdk/` (serving) and `web/` (snippets) may import it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from . import __version__

__all__ = ["GLOBAL_NAME", "KINDS", "JsAsset", "JsKind", "asset", "assets", "find"]

JsKind = Literal["esm", "classic"]
KINDS: tuple[JsKind, ...] = ("esm", "classic")
#: The global a classic script defines.
GLOBAL_NAME = "LaunchSequence"

_FILENAMES: dict[JsKind, str] = {"esm": "launchsequence.mjs", "classic": "launchsequence.js"}
_CONTENT_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True)
class JsAsset:
    """One served build of the JS SDK."""

    kind: JsKind
    filename: str
    #: The path on this server, e.g. `/sdk/js/0.1.0/launchsequence.mjs` (prefix the base URL).
    url_path: str
    #: `sha384-<base64>`, for a `<script integrity="..." crossorigin="anonymous">` attribute.
    integrity: str
    #: The SDK's version, which is the server's.
    version: str
    content_type: str
    #: A strong ETag (quoted) derived from the content.
    etag: str
    body: bytes = field(repr=False)


def _load(kind: JsKind) -> JsAsset:
    filename = _FILENAMES[kind]
    body = resources.files(__package__).joinpath("jsbundle", filename).read_bytes()
    digest = hashlib.sha384(body).digest()
    return JsAsset(
        kind=kind,
        filename=filename,
        url_path=f"/sdk/js/{__version__}/{filename}",
        integrity="sha384-" + base64.b64encode(digest).decode("ascii"),
        version=__version__,
        content_type=_CONTENT_TYPE,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        body=body,
    )


@functools.cache
def asset(kind: JsKind) -> JsAsset:
    """The build of that kind; read once per process. Raises KeyError for an unknown kind, and
    FileNotFoundError when the package was built without its bundle (never in a release: the
    packaging tests check the wheel)."""
    if kind not in _FILENAMES:
        raise KeyError(kind)
    return _load(kind)


def assets() -> tuple[JsAsset, ...]:
    """Every served build, ESM first."""
    return tuple(asset(kind) for kind in KINDS)


def find(version: str, filename: str) -> JsAsset | None:
    """The asset served at `/sdk/js/{version}/{filename}`, or None (another version, another
    name: a 404 for the caller)."""
    if version != __version__:
        return None
    for kind, name in _FILENAMES.items():
        if name == filename:
            return asset(kind)
    return None
