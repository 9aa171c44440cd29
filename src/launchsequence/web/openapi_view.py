"""An OpenAPI document turned into what the API reference page shows: its operations grouped
by tag (parameters, request body, responses), the responses every operation shares, and its
named schemas. A broken or partial document gives a page with less on it, never an error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from .openapi_schemas import Schemas, SchemaView, as_dict, as_list, as_str, markdown, to_json

__all__ = ["Operation", "Reference", "build"]

METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


@dataclass
class Parameter:
    name: str
    location: str  # path, query, header, cookie
    required: bool
    deprecated: bool
    schema: SchemaView


@dataclass
class Body:
    media_type: str
    schema: SchemaView | None
    example: str = ""


@dataclass
class Response:
    status: str
    description: Markup
    bodies: list[Body]
    headers: list[Parameter]
    anchor: str = ""  # an HTML id, for the responses shared by every operation


@dataclass
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: Markup
    deprecated: bool
    tags: list[str]
    parameters: list[Parameter]
    request: list[Body] | None = None  # None: no request body
    request_required: bool = False
    request_description: Markup = field(default_factory=Markup)
    responses: list[Response] = field(default_factory=list)


@dataclass
class Tag:
    name: str
    anchor: str
    description: Markup
    # (operation, whether it is described here): one with several tags is described under
    # its first and linked to from the others.
    operations: list[tuple[Operation, bool]] = field(default_factory=list)


@dataclass
class Reference:
    """The whole page."""

    title: str
    version: str
    openapi: str
    summary: str
    description: Markup
    tags: list[Tag]
    common: list[Response]  # the same on every operation, with anchors
    schemas: list[tuple[str, str, SchemaView]]  # (name, anchor, view)


class _Anchors:
    """Unique HTML ids of safe characters."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, prefix: str, name: str) -> str:
        base = f"{prefix}-{re.sub(r'[^A-Za-z0-9_-]+', '-', name).strip('-') or 'x'}"
        anchor, n = base, 2
        while anchor in self.taken:
            anchor, n = f"{base}-{n}", n + 1
        self.taken.add(anchor)
        return anchor


_Op = tuple[str, str, dict[str, Any], list[Any]]  # method, path, operation, path parameters


class _Builder:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.anchors = _Anchors()
        names = as_dict(as_dict(doc.get("components")).get("schemas"))
        self.schemas = Schemas({str(n): self.anchors.claim("schema", str(n)) for n in names})

    def resolve(self, value: Any) -> dict[str, Any]:
        """A parameter, body, response or path item, following local `$ref`s (a few hops)."""
        for _ in range(8):
            obj = as_dict(value)
            ref = obj.get("$ref")
            if not isinstance(ref, str):
                return obj
            if not ref.startswith("#/"):
                return {}  # another document: not fetched
            value = self.doc
            for token in ref[2:].split("/"):
                value = as_dict(value).get(token.replace("~1", "/").replace("~0", "~"))
        return {}

    def parameter(self, value: Any) -> Parameter | None:
        p = self.resolve(value)
        name = as_str(p.get("name"))
        if not name:
            return None
        schema = p.get("schema")
        if schema is None:  # described by `content` instead
            schema = as_dict(next(iter(as_dict(p.get("content")).values()), None)).get("schema")
        view = self.schemas.view(schema)
        if p.get("description"):
            view.description = markdown(p["description"])
        required, deprecated = p.get("required") is True, p.get("deprecated") is True
        return Parameter(name, as_str(p.get("in")), required, deprecated, view)

    def bodies(self, content: Any) -> list[Body]:
        out = []
        for media_type, value in as_dict(content).items():
            media = as_dict(value)
            schema = self.schemas.view(media["schema"]) if "schema" in media else None
            example = media.get("example")
            if example is None:
                first = next(iter(as_dict(media.get("examples")).values()), None)
                example = self.resolve(first).get("value")
            shown = "" if example is None else to_json(example, indent=True)
            out.append(Body(str(media_type), schema, shown))
        return out

    def response(self, status: str, value: Any, anchor: str = "") -> Response:
        r = self.resolve(value)
        headers = []
        for name, header in as_dict(r.get("headers")).items():
            h = self.parameter({**self.resolve(header), "name": str(name), "in": "header"})
            if h is not None:
                headers.append(h)
        content = self.bodies(r.get("content"))
        return Response(status, markdown(r.get("description")), content, headers, anchor)

    def operations(self) -> list[_Op]:
        out = []
        for path, value in as_dict(self.doc.get("paths")).items():
            item = self.resolve(value)
            shared = as_list(item.get("parameters"))
            for method in METHODS:
                if isinstance(item.get(method), dict):
                    out.append((method, str(path), item[method], shared))
        return out

    def common_statuses(self, ops: list[_Op]) -> list[str]:
        """Error statuses that every operation documents the same way: shown once."""
        if len(ops) < 2:
            return []
        shared: dict[str, str] | None = None
        for _, _, op, _ in ops:
            mine = {
                str(status): to_json(self.resolve(r), sort=True)
                for status, r in as_dict(op.get("responses")).items()
                if not str(status).startswith(("1", "2", "3"))
            }
            if shared is None:
                shared = mine
            else:
                shared = {k: v for k, v in shared.items() if mine.get(k) == v}
        return sorted(shared or {})

    def operation(
        self, method: str, path: str, op: dict[str, Any], shared: list[Any], common: list[str]
    ) -> Operation:
        """The operation with the path's parameters and its responses but the `common` ones."""
        params: dict[tuple[str, str], Parameter] = {}
        for value in (*shared, *as_list(op.get("parameters"))):
            p = self.parameter(value)
            if p is not None:
                params[(p.name, p.location)] = p  # the operation's own replace the path's
        out = Operation(
            method=method.upper(),
            path=path,
            anchor=self.anchors.claim("op", as_str(op.get("operationId")) or f"{method}{path}"),
            summary=as_str(op.get("summary")),
            description=markdown(op.get("description")),
            deprecated=op.get("deprecated") is True,
            tags=[t for t in as_list(op.get("tags")) if isinstance(t, str)],
            parameters=list(params.values()),
        )
        if "requestBody" in op:
            body = self.resolve(op["requestBody"])
            out.request = self.bodies(body.get("content"))
            out.request_required = body.get("required") is True
            out.request_description = markdown(body.get("description"))
        out.responses = [
            self.response(str(status), r)
            for status, r in as_dict(op.get("responses")).items()
            if str(status) not in common
        ]
        return out

    def build(self) -> Reference:
        info = as_dict(self.doc.get("info"))
        ops = self.operations()
        common = self.common_statuses(ops)
        first = {str(k): v for k, v in as_dict(ops[0][2].get("responses") if ops else {}).items()}
        tags: dict[str, Tag] = {}
        for t in as_list(self.doc.get("tags")):
            name = as_str(as_dict(t).get("name"))
            if name and name not in tags:
                tags[name] = Tag(
                    name, self.anchors.claim("tag", name), markdown(as_dict(t).get("description"))
                )
        for method, path, op, shared in ops:
            view = self.operation(method, path, op, shared, common)
            for i, name in enumerate(dict.fromkeys(view.tags or ["other"])):
                if name not in tags:
                    tags[name] = Tag(name, self.anchors.claim("tag", name), Markup(""))
                tags[name].operations.append((view, i == 0))
        schemas = []
        for name, schema in as_dict(as_dict(self.doc.get("components")).get("schemas")).items():
            schemas.append((str(name), self.schemas.anchors[str(name)], self.schemas.view(schema)))
        return Reference(
            title=as_str(info.get("title")) or "API",
            version=as_str(info.get("version")),
            openapi=as_str(self.doc.get("openapi")),
            summary=as_str(info.get("summary")),
            description=markdown(info.get("description")),
            tags=[t for t in tags.values() if t.operations],
            common=[self.response(s, first[s], self.anchors.claim("response", s)) for s in common],
            schemas=schemas,
        )


def build(doc: Any) -> Reference:
    """What the page shows for this OpenAPI document (any JSON value: a broken one shows less)."""
    return _Builder(as_dict(doc)).build()
