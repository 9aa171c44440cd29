"""One-time flashes: a secret shown on the page after a redirect, once, then gone.

A form that makes a secret (an SDK key) redirects (post/redirect/get), so that reloading the
page shows it again without making another one. The secret travels to the next GET in a
short-lived cookie, encrypted and authenticated under keys derived from the server's secret
and bound to the session: another session, a tampered value or an old one reads as nothing.
Nothing is kept in the server's memory, so the GET may land on any instance. The cookie is
HttpOnly, SameSite=Strict, scoped to the one page that shows it, and deleted when read.

The cookie is a Fernet token (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key
derived from the server's secret and the session, with its own expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import orjson

from ..secrets import digest
from .pages import Page

if TYPE_CHECKING:  # cryptography loads on first use (7 MB), not at start
    from cryptography.fernet import Fernet

__all__ = ["COOKIE", "MAX_AGE_SECONDS", "put", "seal", "take", "unseal"]

COOKIE = "launchseq_flash"
MAX_AGE_SECONDS = 120
_MAX_COOKIE = 4000


def _fernet(secret_key: str, session_token: str) -> Fernet:
    """A key for this session alone: another session's cookie does not open with it."""
    from cryptography.fernet import Fernet

    bound = b"flash:" + digest(session_token).encode()
    key = hmac.new(secret_key.encode(), bound, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, session_token: str, payload: dict[str, Any], *, now_ms: int) -> str:
    """`payload` encrypted for this session, readable until MAX_AGE_SECONDS from `now_ms`."""
    token = _fernet(secret_key, session_token).encrypt_at_time(
        orjson.dumps(payload), now_ms // 1000
    )
    return token.decode()


def unseal(secret_key: str, session_token: str, value: str, *, now_ms: int) -> Any:
    """The payload sealed for this session, or None if forged, another session's or expired."""
    if not value or len(value) > _MAX_COOKIE:
        return None
    from cryptography import fernet

    try:
        plain = _fernet(secret_key, session_token).decrypt_at_time(
            value.encode(), MAX_AGE_SECONDS, now_ms // 1000
        )
        return orjson.loads(plain)
    except (fernet.InvalidToken, orjson.JSONDecodeError, ValueError):
        return None


def put(p: Page, path: str, payload: dict[str, Any]) -> None:
    """Hand `payload` to the next GET of `path` in this session (set on the answer)."""
    value = seal(
        p.services.rt.settings.secret_key, p.session_token, payload, now_ms=p.services.rt.now()
    )
    p.cookies.append((COOKIE, value, MAX_AGE_SECONDS, path))


def take(p: Page, path: str) -> Any:
    """The flash for this page, once: the answer deletes the cookie whatever it held."""
    value = p.request.cookies.get(COOKIE)
    if value is None:
        return None
    p.cookies.append((COOKIE, "", 0, path))
    return unseal(
        p.services.rt.settings.secret_key, p.session_token, value, now_ms=p.services.rt.now()
    )
