"""Every error answer has one shape, `{"error": {"code", "message"[, "field"]}}`, made here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..services import errors as e
from ..services.errors import StoreUnavailable
from .responses import JSONBytes

__all__ = ["ERROR_RESPONSES", "error_response", "install_error_handlers"]

log = logging.getLogger("launchsequence.api")

_STATUS: dict[type[e.ServiceError], int] = {
    e.Invalid: 422,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.Conflict: 409,
    e.PreconditionFailed: 412,
    e.Throttled: 429,
    e.Unavailable: 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "environments": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "With the `*_in_use` codes: the environments where flags are on",
                },
                "flags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "With the `*_in_use` codes: the flags that are on there",
                },
                "applications": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "With `flag_in_use`: the applications that evaluated the "
                    "flag lately (`environment`, `application`, `count`, `last_seen`)",
                },
            },
        }
    },
}


def _doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}


#: The error answers every admin endpoint may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("Malformed JSON or header"),
    401: _doc("Not logged in, or a wrong or revoked token"),
    403: _doc(
        "Read-only role (`read_only`; under a project, the role in that project counts), "
        "or a missing or wrong CSRF token"
    ),
    404: _doc("Missing, or belonging to another organization"),
    409: _doc(
        "A key already taken, or an object still in use; `flag_in_use`, `environment_in_use` "
        "and `project_in_use` list the live `environments` and `flags`, and "
        "`flag_has_dependents` the flags requiring it as a prerequisite in `dependents`; "
        "`flag_evaluated`: a flag off everywhere that applications evaluated lately "
        "(`environments` where, `applications` which; `flag_in_use` lists them too) "
        "(repeat with `force=true` to go ahead)"
    ),
    412: _doc("If-Match names a version that is no longer current"),
    413: _doc("Request body over the limit"),
    422: _doc("A field breaks a rule; `field` names it"),
    429: _doc("Too many attempts; see Retry-After"),
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONBytes:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    body.update(extra or {})
    return JSONBytes({"error": body}, status_code=status, headers=dict(headers or {}))


def _database_unavailable() -> JSONBytes:
    return error_response(
        503,
        "unavailable",
        "the database cannot be reached right now; nothing was changed. Try again shortly",
        headers={"Retry-After": "5"},
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.ServiceError)
    async def service_error(request: Request, exc: e.ServiceError) -> JSONBytes:
        status = next((s for t, s in _STATUS.items() if isinstance(exc, t)), 400)
        headers = {}
        if isinstance(exc, e.Throttled):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, e.PreconditionFailed) and exc.current is not None:
            headers["ETag"] = f'"{exc.current}"'
        field = exc.field if isinstance(exc, e.Invalid) else None
        extra: dict[str, Any] | None = None
        if isinstance(exc, e.InUse):
            extra = {"environments": exc.environments, "flags": exc.flags}
            if exc.dependents:
                extra["dependents"] = exc.dependents
            if exc.applications:
                extra["applications"] = exc.applications
        return error_response(
            status, exc.code, exc.message, field=field, headers=headers, extra=extra
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONBytes:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
        if first.get("type") == "json_invalid":
            return error_response(400, "invalid_json", "the body is not valid JSON")
        if first.get("type") == "model_attributes_type" or first.get("loc") == ("body",):
            return error_response(422, "invalid", "the body must be a JSON object", field=None)
        field = _field(tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid value"))
        if first.get("type") == "extra_forbidden":
            message = "is not a known field"
        return error_response(422, "invalid", message, field=field or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONBytes:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            message = "not found"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> JSONBytes:
        # An unreachable database (no connection, or one dropped mid-query) is logged once
        # per outage by the store; anything else (SQLite busy, a serialization failure) here.
        if not (exc.connection_invalidated or exc.statement is None):
            log.warning("database error on %s %s: %s", request.method, request.url.path,
                        type(exc.orig).__name__)  # fmt: skip
        return _database_unavailable()

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONBytes:
        # The database refused a value the request carried (PostgreSQL: a NUL character in
        # text, a number out of a column's range); the transaction was rolled back.
        log.info("database refused a value: %s", type(exc.orig).__name__)
        return error_response(
            422, "invalid", "a value cannot be stored: no NUL characters, numbers in range"
        )

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> JSONBytes:
        return error_response(503, "unavailable", str(exc), headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONBytes:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "something went wrong on our side")

    @app.exception_handler(DBAPIError)
    async def database_lost(request: Request, exc: DBAPIError) -> JSONBytes:
        if exc.connection_invalidated:  # the connection broke mid-request
            return _database_unavailable()
        return await unexpected(request, exc)
