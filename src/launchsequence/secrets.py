"""Random secrets and their stored form: only SHA-256 digests of tokens and keys are kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "CLIENT_KEY_PREFIX",
    "DEVICE_PREFIX",
    "INVITE_PREFIX",
    "RESET_PREFIX",
    "SECRET_PREFIXES",
    "SERVER_KEY_PREFIX",
    "SESSION_PREFIX",
    "TOKEN_PREFIX",
    "digest",
    "new_secret",
    "sign",
]

# What each kind of secret starts with, so that one found in a URL or a log says what it is.
SERVER_KEY_PREFIX = "ls_srv_"
CLIENT_KEY_PREFIX = "ls_cli_"  # public: the only key that may travel in a URL
SESSION_PREFIX = "lss_"
TOKEN_PREFIX = "lst_"  # noqa: S105 - a prefix, not a secret
INVITE_PREFIX = "lsi_"
RESET_PREFIX = "lsr_"  # one-time password-reset links
DEVICE_PREFIX = "lsd_"  # a device remembered after its second factor
SECRET_PREFIXES = (
    SERVER_KEY_PREFIX,
    CLIENT_KEY_PREFIX,
    SESSION_PREFIX,
    TOKEN_PREFIX,
    INVITE_PREFIX,
    RESET_PREFIX,
    DEVICE_PREFIX,
)


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A random token such as `lst_...`: the prefix says what it is when it turns up in a log."""
    return prefix + secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """The stored form of a high-entropy secret (hex SHA-256); a fast hash suffices for those."""
    return hashlib.sha256(secret.encode()).hexdigest()


def sign(key: str, message: str) -> str:
    """HMAC-SHA256 of `message` under `key`, hex."""
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
