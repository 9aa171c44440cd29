"""The services' exceptions: one hierarchy, mapped to HTTP answers in one place (api/errors.py).

Each carries a stable machine-readable `code` and a message fit to show a user.
"""

from __future__ import annotations

from typing import Any

from ..store.db import StoreUnavailable

__all__ = [
    "Conflict",
    "StoreUnavailable",
    "Forbidden",
    "InUse",
    "Invalid",
    "NotFound",
    "PreconditionFailed",
    "SecondFactorRequired",
    "ServiceError",
    "Throttled",
    "Unauthorized",
    "Unavailable",
]


class ServiceError(Exception):
    """Base class: something the caller asked for cannot be done."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Invalid(ServiceError):
    """The input breaks a rule; `field` names where (a dotted path into the request body)."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.field = field


class Unauthorized(ServiceError):
    """No valid credentials: not logged in, or a wrong, expired or revoked secret."""

    code = "unauthorized"


class SecondFactorRequired(Unauthorized):
    """The password was right; a code from the second factor is needed too. `ticket` lets
    the second step finish the log-in without the password (5 minutes)."""

    code = "second_factor_required"

    def __init__(self, message: str, *, ticket: str, methods: tuple[str, ...] = ("totp",)):
        super().__init__(message)
        self.ticket = ticket
        #: The second factors the user can answer with: "totp", "passkey".
        self.methods = methods


class Forbidden(ServiceError):
    """Known caller, but their role does not allow this."""

    code = "forbidden"


class NotFound(ServiceError):
    """Missing, or belonging to an organization the caller is not in: the two are one answer."""

    code = "not_found"


class Conflict(ServiceError):
    """The change clashes with what exists (a key already taken, an object still in use)."""

    code = "conflict"


class InUse(Conflict):
    """The change would take something from running applications at once (a flag on in
    `environments`, the live ones being `flags`; or flags that require it, `dependents` by
    environment); nothing was changed. Asked again with `force`, it goes ahead."""

    code = "in_use"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        environments: list[str],
        flags: list[str],
        dependents: dict[str, list[str]] | None = None,
        applications: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.environments = environments
        self.flags = flags
        self.dependents = dependents or {}
        #: The applications that evaluated the flag lately: {"environment", "application",
        #: "count", "last_seen"}.
        self.applications = applications or []


class PreconditionFailed(ServiceError):
    """`If-Match` named a version that is no longer current; `current` is the current one."""

    code = "version_conflict"

    def __init__(self, message: str, *, current: int | None = None) -> None:
        super().__init__(message)
        self.current = current


class Throttled(ServiceError):
    """Too many attempts; try again after `retry_after` seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """The database cannot be reached; nothing was changed."""

    code = "unavailable"
