"""Password hashing with argon2id, and a constant-work check for unknown accounts."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import Invalid

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "NO_PASSWORD", "Passwords"]

MIN_PASSWORD = 8
MAX_PASSWORD = 256
#: The password hash of an account made by SSO: argon2 never accepts it, so no password works.
NO_PASSWORD = "!sso"  # noqa: S105 - a marker, not a password


class Passwords:
    """Hashes and verifies passwords; `verify_absent` spends the time a real check would."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        # argon2id, RFC 9106 low-memory profile; tests may pass a cheaper hasher.
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash("not a password of anyone's")

    @staticmethod
    def check_policy(password: str) -> None:
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise Invalid(f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_absent(self, password: str) -> None:
        self.verify(self._dummy, password)
