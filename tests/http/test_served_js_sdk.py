"""The server serves its own JavaScript SDK to browsers (launchsequence.jsassets): the ES module
and the classic script at /sdk/js/{version}/, cacheable for a year, with the integrity hash the
dashboard's snippets show, and a 404 in the usual error shape for anything else."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

import launchsequence
from launchsequence.jsassets import GLOBAL_NAME, asset, assets, find

VERSION = launchsequence.__version__


def test_the_contract_names_both_builds_at_this_servers_version() -> None:
    esm, classic = asset("esm"), asset("classic")
    assert esm.url_path == f"/sdk/js/{VERSION}/launchsequence.mjs"
    assert classic.url_path == f"/sdk/js/{VERSION}/launchsequence.js"
    assert assets() == (esm, classic)
    for served in assets():
        digest = base64.b64encode(hashlib.sha384(served.body).digest()).decode()
        assert served.integrity == f"sha384-{digest}"
        assert served.version == VERSION
    assert b"export{" in esm.body.replace(b" ", b"")  # an ES module
    assert classic.body.startswith(f"var {GLOBAL_NAME}=".encode())  # a classic script's global
    assert find("0.0.1", "launchsequence.mjs") is None
    with pytest.raises(KeyError):
        asset("umd")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["esm", "classic"])
def test_each_build_is_served_immutable_with_its_etag(live, kind: str) -> None:
    served = asset(kind)  # type: ignore[arg-type]
    url = live.url + served.url_path
    got = httpx.get(url, headers={"Origin": "https://shop.example.com"})
    assert got.status_code == 200
    assert got.content == served.body
    assert got.headers["content-type"] == "text/javascript; charset=utf-8"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert got.headers["etag"] == served.etag
    # another origin may load it with `crossorigin` and check its integrity
    assert got.headers["access-control-allow-origin"] == "*"
    digest = base64.b64encode(hashlib.sha384(got.content).digest()).decode()
    assert served.integrity == f"sha384-{digest}"

    again = httpx.get(url, headers={"If-None-Match": served.etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == served.etag
    assert httpx.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/sdk/js/0.0.1/launchsequence.mjs",  # another version
        f"/sdk/js/{VERSION}/launchsequence.min.js",  # another name
        f"/sdk/js/{VERSION}/..%2F..%2Fapp.py",
        "/sdk/js/launchsequence.mjs",
    ],
)
def test_anything_else_is_a_404_in_the_error_shape(live, path: str) -> None:
    got = httpx.get(live.url + path)
    assert got.status_code == 404
    assert got.json()["error"]["code"] == "not_found"
    assert "max-age" not in got.headers.get("cache-control", "")
