"""Secrets kept out of the access log.

A URL is written to access logs, proxy logs and browser histories, so no secret should travel
in one; only public client keys do (EventSource cannot send headers), and a few one-time tokens
by design (the OFREP stream token, invitation links). The access log line still must not carry
them: every query value named like a credential (`key=`, `token=`, ...) and every value that
looks like one of our secrets (`ls_srv_...`, `ls_cli_...`, `lst_...`, ...) anywhere in the
request target is replaced by `***` (a known prefix is kept, to say which kind it was).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .secrets import SECRET_PREFIXES

__all__ = ["REDACTED", "RedactSecrets", "install", "redact_target"]

REDACTED = "***"
ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access")

#: Query parameters whose value is a credential whatever it looks like.
SECRET_PARAMS = frozenset(
    {
        "key",
        "token",
        "api_key",
        "apikey",
        "access_token",
        "auth",
        "authorization",
        "password",
        "secret",
        "session",
        "invitation",
        "sdk_key",
        "client_key",
        "server_key",
    }
)

_PREFIXED = re.compile(
    r"(?<![A-Za-z0-9])(" + "|".join(re.escape(p) for p in SECRET_PREFIXES) + r")[A-Za-z0-9_\-%.~]+"
)
_PAIR = re.compile(r"([^&;=]*)=([^&;]*)")


def _param(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if name.lower() not in SECRET_PARAMS or not value:
        return match.group(0)
    for prefix in SECRET_PREFIXES:
        if value.startswith(prefix):
            return f"{name}={prefix}{REDACTED}"
    return f"{name}={REDACTED}"


def redact_target(target: str) -> str:
    """A request target (path and query) fit for a log."""
    path, mark, query = target.partition("?")
    if mark:
        target = path + mark + _PAIR.sub(_param, query)
    return _PREFIXED.sub(lambda m: m.group(1) + REDACTED, target)


class RedactSecrets(logging.Filter):
    """Rewrites an access log record's arguments (uvicorn: a tuple with the request target;
    gunicorn: a dict of atoms) and message through `redact_target`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact_target(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, dict):
            record.args = {
                k: redact_target(v) if isinstance(v, str) else v for k, v in args.items()
            }
        if isinstance(record.msg, str):
            record.msg = redact_target(record.msg)
        return True


def install() -> None:
    """Add the filter to the access loggers of the servers we run under (once per process;
    logging configuration by the server keeps a logger's filters)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
