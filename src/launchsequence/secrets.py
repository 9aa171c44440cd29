"""Random secrets and their stored form: only SHA-256 digests of tokens and keys are kept.

The one exception is a webhook's signing secret, which the server must read to sign: it is
kept sealed (`seal`/`unseal`: Fernet, AES-128-CBC with HMAC-SHA256, under a key derived from
the server's secret key), so a copy of the database alone does not reveal it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded on first use: an edge, which seals nothing, never loads it (7 MB)
    from cryptography.fernet import Fernet, InvalidToken

__all__ = [
    "CLIENT_KEY_PREFIX",
    "DEVICE_PREFIX",
    "INVITE_PREFIX",
    "RELAY_KEY_PREFIX",
    "RESET_PREFIX",
    "SECRET_PREFIXES",
    "SERVER_KEY_PREFIX",
    "SESSION_PREFIX",
    "TOKEN_PREFIX",
    "WEBHOOK_SECRET_PREFIX",
    "InvalidToken",
    "digest",
    "new_secret",
    "seal",
    "sign",
    "unseal",
    "webhook_signature",
]

# What each kind of secret starts with, so that one found in a URL or a log says what it is.
SERVER_KEY_PREFIX = "ls_srv_"
CLIENT_KEY_PREFIX = "ls_cli_"  # public: the only key that may travel in a URL
SESSION_PREFIX = "lss_"
TOKEN_PREFIX = "lst_"  # noqa: S105 - a prefix, not a secret
INVITE_PREFIX = "lsi_"
RELAY_KEY_PREFIX = "ls_rly_"  # an edge node's key to its upstream
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
RESET_PREFIX = "lsr_"  # one-time password-reset links
DEVICE_PREFIX = "lsd_"  # a device remembered after its second factor
SECRET_PREFIXES = (
    RELAY_KEY_PREFIX,
    SERVER_KEY_PREFIX,
    CLIENT_KEY_PREFIX,
    SESSION_PREFIX,
    TOKEN_PREFIX,
    INVITE_PREFIX,
    WEBHOOK_SECRET_PREFIX,
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


def __getattr__(name: str) -> Any:
    """`InvalidToken`, cryptography's, imported when first named."""
    if name == "InvalidToken":
        from cryptography.fernet import InvalidToken

        return InvalidToken
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fernet(server_secret: str) -> Fernet:
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"launchsequence webhook secrets\0" + server_secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(server_secret: str, text: str) -> str:
    """`text` encrypted and authenticated under a key derived from `server_secret`."""
    return _fernet(server_secret).encrypt(text.encode()).decode()


def unseal(server_secret: str, sealed: str) -> str:
    """What `seal` sealed; InvalidToken if it was sealed under another server secret."""
    return _fernet(server_secret).decrypt(sealed.encode()).decode()


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-LaunchSequence-Signature` header value: `t=<unix seconds>,v1=<hex HMAC-SHA256
    of "<t>." followed by the body, under the webhook's secret>`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
