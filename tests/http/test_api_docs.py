"""The API reference at /api/v1/docs: a public page, rendered from the app's own OpenAPI
document, that shows every operation and schema and passes the app's Content-Security-Policy
in a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, Literal

import httpx
import pytest
from fastapi import Request
from pydantic import BaseModel, Field

from launchsequence.app import create_app
from launchsequence.web.api_docs import ApiReference
from launchsequence.web.openapi_schemas import MAX_DEPTH
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.support.live import LiveServer

METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


class Page(HTMLParser):
    """What a reader of the page sees, by element: text per CSS class, ids, in-page links."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.links: list[str] = []
        self.stack: list[tuple[str, set[str]]] = []
        self.texts: dict[str, list[str]] = {}
        self.open: list[tuple[str, list[str]]] = []  # (class, text so far) being collected
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag in ("br", "meta", "link", "input"):
            return
        classes = set((a.get("class") or "").split())
        self.stack.append((tag, classes))
        for cls in classes:
            self.open.append((cls, []))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            return
        _, classes = self.stack.pop()
        for _ in classes:
            cls, parts = self.open.pop()
            self.texts.setdefault(cls, []).append(" ".join("".join(parts).split()))

    def handle_data(self, data: str) -> None:
        for _, parts in self.open:
            parts.append(data)

    def text(self, cls: str) -> list[str]:
        return self.texts.get(cls, [])


def operations_of(doc: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_reference_is_a_public_html_page_with_the_security_headers(live):
    answer = httpx.get(f"{live.url}/api/v1/docs")  # no session, no token
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    html = answer.text
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert "cdn." not in html and "https://" not in html  # nothing from elsewhere: works offline
    assert 'href="/api/v1/openapi.json"' in html
    assert httpx.get(f"{live.url}/api/v1/openapi.json").status_code == 200


def test_the_reference_lists_every_operation_and_schema_of_the_document(live):
    doc = httpx.get(f"{live.url}/api/v1/openapi.json").json()
    page = Page(httpx.get(f"{live.url}/api/v1/docs").text)

    shown = page.text("op-title")
    assert sorted(shown) == sorted(operations_of(doc))  # each once, nothing else
    assert "POST /api/v1/auth/signup" in shown
    tags = {t for item in doc["paths"].values() for op in item.values() for t in op["tags"]}
    assert set(page.text("tag-title")) == tags
    summaries = {op["summary"] for item in doc["paths"].values() for op in item.values()}
    assert summaries <= set(page.text("op-summary"))
    assert sorted(page.text("schema-name")) == sorted(doc["components"]["schemas"])

    # Every in-page link leads somewhere, and no id is used twice.
    assert len(page.ids) == len(set(page.ids))
    broken = [link for link in page.links if link.startswith("#") and link[1:] not in page.ids]
    assert not broken, broken
    assert "#schema-SignupIn" in page.links  # the sign-up body links to its schema


class Leaf(BaseModel):
    note: str = Field(description="A <b>bold</b> & `quoted` note")


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(default=9, ge=0, le=9)


class Dog(BaseModel):
    kind: Literal["dog"]


class Tree(BaseModel):
    """A <tree> of leaves."""

    children: list[Tree] = []
    by_name: dict[str, Leaf] = {}
    either: Leaf | int | None = None
    pet: Cat | Dog = Field(discriminator="kind")


def _deep(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {"bottom_field": {"type": "string"}}}
    for level in range(depth):
        schema = {"type": "object", "properties": {f"level_{level}": schema}}
    return schema


INLINE_BODY = {
    "required": True,
    "description": "An inline body </p><script>alert(2)</script>",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"item_field": {"type": "integer", "maximum": 5}},
                        },
                    },
                    "labels": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"label_field": {"type": "boolean"}},
                        },
                    },
                    "choice": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Leaf"},
                            {"type": "object", "properties": {"choice_field": {}}},
                        ]
                    },
                    "odd": {"type": ["string", "null"], "format": "date-time"},
                    "nowhere": {"$ref": "#/components/schemas/NoSuchSchema"},
                    "deep": _deep(MAX_DEPTH + 2),
                },
            },
            "example": {"items": [{"item_field": 1}]},
        }
    },
}


@pytest.fixture
def odd_live(make_settings) -> Iterator[LiveServer]:
    """The real app with one more operation whose texts and schemas are awkward."""
    app = create_app(make_settings())

    def odd(request: Request) -> Tree:
        raise NotImplementedError

    app.admin.add_api_route(
        "/api/v1/odd/{thing}",
        odd,
        methods=["POST"],
        tags=["odd <tag> & co"],
        summary="Odd <script>alert(1)</script> summary",
        description="First `<code>` paragraph.\n\n- one <i>\n- two",
        openapi_extra={"requestBody": INLINE_BODY},
    )
    server = LiveServer(app).start()
    yield server
    server.stop()


def test_text_from_the_document_is_escaped_and_every_schema_shape_renders(odd_live):
    html = httpx.get(f"{odd_live.url}/api/v1/docs").text
    page = Page(html)
    assert "<script>alert" not in html and "<i>" not in html and "<b>bold" not in html
    assert "POST /api/v1/odd/{thing}" in page.text("op-title")
    assert "Odd <script>alert(1)</script> summary" in page.text("op-summary")
    assert "odd <tag> & co" in page.text("tag-title")
    assert "A &lt;tree&gt; of leaves." in html

    types = set(page.text("type-expr"))
    assert {"array of Tree", "map of string to Leaf", "Leaf | integer | null", "Cat | Dog"} <= types
    assert {"string (date-time) | null", "NoSuchSchema", "array of object"} <= types
    assert "Leaf | object" in types  # oneOf of a named schema and one written in place
    # Objects written in place (in array items, map values, variants) get their own fields.
    fields = " ".join(page.text("fields"))
    for name in ("item_field", "label_field", "choice_field", "level_6", "note", "lives"):
        assert name in fields, name
    assert "maximum 5" in page.text("notes")
    # Nesting deeper than the page shows as tables is shown as JSON, not lost.
    assert '"bottom_field"' in html.replace("&#34;", '"')
    assert "#schema-Tree" in page.links and "#schema-Leaf" in page.links
    assert "#schema-NoSuchSchema" not in page.links  # no link to nothing
    assert len(page.ids) == len(set(page.ids))


def test_a_broken_or_partial_document_still_renders():
    doc = {
        "info": {"title": "Half <done>"},
        "paths": {
            "/a": {"get": {}, "post": "not an operation", "parameters": [{"in": "query"}]},
            "/b/{id}": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "put": {
                    "tags": ["x", "y"],
                    "responses": {
                        "200": {"$ref": "#/components/responses/Missing"},
                        "default": {"description": "Anything", "content": {"text/plain": {}}},
                    },
                    "requestBody": {"content": {"application/json": {"schema": True}}},
                },
            },
            "/c": None,
        },
        "components": {
            "parameters": {"Id": {"name": "id", "in": "path", "required": True}},
            "schemas": {
                "Empty": {},
                "Never": False,
                "Loop": {
                    "type": "object",
                    "properties": {"next": {"$ref": "#/components/schemas/Loop"}},
                },
                "Weird name/with~stuff": {"enum": ["a", 1, None]},
                "Old": {"type": "string", "nullable": True, "exclusiveMinimum": True},
            },
        },
    }
    page = Page(ApiReference(lambda: doc, "/docs", "/openapi.json").render().decode())
    assert sorted(page.text("op-title")) == ["GET /a", "PUT /b/{id}"]
    assert "Half <done> API reference" in page.text("ref-title")[0]
    assert page.text("schema-name") == ["Empty", "Never", "Loop", "Weird name/with~stuff", "Old"]
    types = page.text("type-expr")
    assert {"any", "nothing", "Loop", '"a" | 1 | null', "string | null"} <= set(types)
    assert "id" in " ".join(page.text("params"))
    # Listed under both of its tags, described once.
    assert len(page.ids) == len(set(page.ids))
    assert [link for link in page.links if link.startswith("#") and link[1:] not in page.ids] == []

    empty = ApiReference(dict, "/docs", "/openapi.json").render().decode()
    assert "The document describes no operations." in empty


# --- in a real browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "API REFERENCE BROWSER TEST NOT RUN: no chromium on PATH"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_the_reference_renders_in_a_browser_without_any_policy_violation(browser, live):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    def console(msg: Any) -> None:
        # Chromium reports each Content-Security-Policy violation as a console error.
        if msg.type in ("error", "warning") and not msg.location.get("url", "").endswith(
            "/favicon.ico"
        ):
            problems.append(f"{msg.type}: {msg.text}")

    page.on("console", console)
    try:
        page.goto("/api/v1/docs")
        expect(page.get_by_role("heading", level=1)).to_contain_text("API reference")
        signup = page.get_by_role("heading", name="POST /api/v1/auth/signup", exact=True)
        expect(signup).to_be_visible()
        # The dashboard's stylesheet applies (blocked, the page would be unstyled).
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == (
            "rgb(246, 247, 249)"
        )
        # A schema link in an operation leads to that schema, further down the page.
        operation = page.locator("article.op", has=signup)
        operation.get_by_role("link", name="SignupIn", exact=True).first.click()
        expect(page).to_have_url(f"{live.url}/api/v1/docs#schema-SignupIn")
        expect(page.locator("#schema-SignupIn")).to_be_in_viewport()
        expect(page.get_by_role("link", name="OpenAPI document")).to_have_attribute(
            "href", "/api/v1/openapi.json"
        )
        assert problems == []
    finally:
        context.close()
