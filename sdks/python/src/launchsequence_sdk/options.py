"""Checking a client's options once, in the constructor (the only place the SDK raises)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from .backoff import Backoff
from .errors import ConfigurationError

__all__ = ["DEFAULT_BASE_URL", "check_application", "check_options", "make_backoff", "make_timeout"]

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


def check_options(
    sdk_key: str,
    base_url: str,
    offline: bool,
    snapshot: Mapping[str, Any] | None,
    persist_path: str | Path | None,
) -> tuple[str, Path | None]:
    """The base URL without a trailing slash and the persist path; raises ConfigurationError."""
    if not offline:
        if not isinstance(sdk_key, str) or not sdk_key:
            raise ConfigurationError("an SDK key is required (or offline=True)")
        if sdk_key.startswith("ls_cli_"):
            raise ConfigurationError(
                "this SDK needs the environment's server key, not its client key"
            )
        if snapshot is not None:
            raise ConfigurationError("snapshot= is for offline=True only")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url must be an http(s) URL, not {base_url!r}")
    path = Path(persist_path) if persist_path is not None else None
    return base_url.rstrip("/"), path


def make_timeout(connect_timeout: float, read_timeout: float) -> httpx.Timeout:
    if connect_timeout <= 0 or read_timeout <= 0:
        raise ConfigurationError("timeouts must be positive")
    return httpx.Timeout(connect_timeout, read=read_timeout)


def make_backoff(initial: float, maximum: float) -> Backoff:
    if initial <= 0 or maximum < initial:
        raise ConfigurationError(
            "reconnect delays must be positive, the maximum at least the first"
        )
    return Backoff(initial, maximum)


def check_application(application: str) -> str:
    """The host application's name as given (printable ASCII, at most 100 characters), shown
    on the server's applications page and in flag usage."""
    if (
        not isinstance(application, str)
        or len(application) > 100
        or not all(" " <= c <= "~" for c in application)
    ):
        raise ConfigurationError("application must be printable ASCII of at most 100 characters")
    return application.strip()
