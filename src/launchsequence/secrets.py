"""Random secrets and their stored form: only SHA-256 digests of tokens and keys are kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["digest", "new_secret", "sign"]


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A random token such as `lst_...`: the prefix says what it is when it turns up in a log."""
    return prefix + secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """The stored form of a high-entropy secret (hex SHA-256); a fast hash suffices for those."""
    return hashlib.sha256(secret.encode()).hexdigest()


def sign(key: str, message: str) -> str:
    """HMAC-SHA256 of `message` under `key`, hex."""
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
