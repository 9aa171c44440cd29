"""A second factor: TOTP (RFC 6238, authenticator apps) with ten single-use recovery codes,
devices remembered for 30 days, and the organization setting that requires it of members.

Secrets at rest: the TOTP seed is encrypted (Fernet) under a key derived from the server's
secret; recovery codes are stored as HMAC-SHA256 under that secret (they are short); a
remembered device's token as SHA-256. A code is accepted one 30-second step either side of
the server's clock and never twice (the last accepted step is kept), so a code seen over a
shoulder cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

import orjson
import pyotp
import segno

from ..secrets import DEVICE_PREFIX, digest, new_secret, sign
from ..store import accounts as account_store
from ..store import second_factor as store
from .access import has_second_factor, org_for
from .errors import Forbidden, Invalid
from .runtime import Actor, Runtime, record_audit
from .sessions import record_account_event

if TYPE_CHECKING:  # cryptography loads on first use (7 MB), not at start
    from cryptography.fernet import Fernet

__all__ = ["RECOVERY_CODES", "REMEMBER_MS", "STEP_SECONDS", "SecondFactor"]

STEP_SECONDS = 30
RECOVERY_CODES = 10
REMEMBER_MS = 30 * 24 * 3_600_000
SETUP_TTL_SECONDS = 15 * 60
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def _normalized(code: Any) -> str:
    if not isinstance(code, str) or len(code) > 64:
        return ""
    return code.replace(" ", "").replace("-", "").strip().lower()


class SecondFactor:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _fernet(self) -> Fernet:
        from cryptography.fernet import Fernet

        key = hmac.new(self.rt.settings.secret_key.encode(), b"totp-seed", hashlib.sha256)
        return Fernet(base64.urlsafe_b64encode(key.digest()))

    def _code_hash(self, code: str) -> str:
        return sign(self.rt.settings.secret_key, "recovery-code:" + code)

    # --- setting it up -----------------------------------------------------------------------

    def begin(self, actor: Actor) -> dict[str, str]:
        """A new seed to scan: `secret` (to type in), `qr_svg` (an inline SVG of the
        otpauth URI) and `setup`, the seed sealed for this user for 15 minutes, which
        `enable` takes back with a code from the app."""
        secret = pyotp.random_base32()
        sealed = self._fernet().encrypt_at_time(
            orjson.dumps({"u": actor.user_id, "s": secret}), self.rt.now() // 1000
        )
        return self._present(actor, secret, sealed.decode())

    def resume(self, actor: Actor, setup: Any) -> dict[str, str] | None:
        """The same setup shown again (after a mistyped code), or None when it expired."""
        secret = self._unseal(actor, setup)
        return None if secret is None else self._present(actor, secret, str(setup))

    @staticmethod
    def _present(actor: Actor, secret: str, setup: str) -> dict[str, str]:
        uri = pyotp.TOTP(secret).provisioning_uri(name=actor.email, issuer_name="Launch Sequence")
        svg = segno.make(uri, error="m").svg_inline(scale=4, title="QR code for your app")
        return {"secret": secret, "qr_svg": svg, "setup": setup}

    def _unseal(self, actor: Actor, setup: Any) -> str | None:
        from cryptography import fernet

        try:
            plain = self._fernet().decrypt_at_time(
                str(setup).encode(), SETUP_TTL_SECONDS, self.rt.now() // 1000
            )
            sealed = orjson.loads(plain)
        except (fernet.InvalidToken, orjson.JSONDecodeError, ValueError):
            return None
        if not isinstance(sealed, dict) or sealed.get("u") != actor.user_id:
            return None
        secret = sealed.get("s")
        return secret if isinstance(secret, str) else None

    def enable(self, actor: Actor, setup: Any, code: Any) -> list[str]:
        """Turn the second factor on with the seed `begin` sealed and a current code from the
        app; the ten recovery codes, returned here only. Raises Invalid (field `code`)."""
        secret = self._unseal(actor, setup)
        if secret is None:
            raise Invalid("this setup expired: start again", field="code")
        step = self._matching_step(secret, _normalized(code))
        if step is None:
            raise Invalid("this code is not the one the app shows now", field="code")
        codes = [
            "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
            for _ in range(RECOVERY_CODES)
        ]
        encrypted = self._fernet().encrypt(secret.encode()).decode()
        with self.rt.write_db.begin() as conn:
            store.enable(conn, actor.user_id, secret=encrypted, at=self.rt.now(), step=step)
            store.replace_codes(conn, actor.user_id, [self._code_hash(c) for c in codes])
            record_account_event(
                conn, self.rt, actor.user_id, actor.email, "user.second_factor_enabled", actor
            )
        return [f"{c[:5]}-{c[5:]}" for c in codes]

    def disable(self, actor: Actor, code: Any) -> None:
        """Turn it off, proved with a current code or a recovery code (the password was
        checked by the caller). Raises Invalid (field `code`)."""
        with self.rt.db.connect() as conn:
            user = account_store.get_user(conn, actor.user_id)
        if user is None or not user["totp_secret"] or not self.verify(user, code):
            raise Invalid("this code is not valid", field="code")
        with self.rt.write_db.begin() as conn:
            store.clear(conn, actor.user_id)
            record_account_event(
                conn, self.rt, actor.user_id, actor.email, "user.second_factor_disabled", actor
            )

    def status(self, actor: Actor) -> dict[str, Any]:
        with self.rt.db.connect() as conn:
            user = account_store.get_user(conn, actor.user_id)
            left = store.count_unused_codes(conn, actor.user_id)
        enabled = bool(user and user["totp_secret"])
        return {
            "enabled": enabled,
            "since": user["totp_enabled_at"] if user else None,
            "codes_left": left if enabled else 0,
        }

    # --- checking it -------------------------------------------------------------------------

    def _matching_step(self, secret: str, code: str) -> int | None:
        """The time step (one either side of now) whose code is `code`, or None."""
        if len(code) != 6 or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret)
        now_step = self.rt.now() // 1000 // STEP_SECONDS
        found = None
        for step in (now_step - 1, now_step, now_step + 1):
            if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
                found = step
        return found

    def verify(self, user: dict[str, Any], code: Any) -> bool:
        """Whether `code` is a current TOTP code not used before, or an unused recovery code
        (which is then used up)."""
        normalized = _normalized(code)
        if not user["totp_secret"] or not normalized:
            return False
        secret = self._fernet().decrypt(user["totp_secret"].encode()).decode()
        step = self._matching_step(secret, normalized)
        with self.rt.write_db.begin() as conn:
            if step is not None:
                return store.advance_step(conn, user["id"], step)
            return store.use_code(conn, user["id"], self._code_hash(normalized), self.rt.now())

    def remember(self, user_id: int) -> str:
        """A token for a cookie that spares this device the code for 30 days."""
        token = new_secret(DEVICE_PREFIX)
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            store.remember_device(
                conn,
                token_hash=digest(token),
                user_id=user_id,
                at=now,
                expires_at=now + REMEMBER_MS,
            )
        return token

    def remembered(self, user_id: int, token: str | None) -> bool:
        if not token or not token.startswith(DEVICE_PREFIX) or len(token) > 100:
            return False
        with self.rt.db.connect() as conn:
            owner = store.device_user(conn, digest(token), now=self.rt.now())
        return owner == user_id

    # --- the organization setting ------------------------------------------------------------

    def org_requirement(self, actor: Actor, org_key: str) -> bool:
        """Whether the organization requires a second factor of its members."""
        with self.rt.db.connect() as conn:
            return bool(org_for(conn, actor, org_key)["require_second_factor"])

    def set_org_requirement(self, actor: Actor, org_key: str, required: bool) -> None:
        """Require (or stop requiring) a second factor of the organization's members. Owners
        only; an owner must have one first (as `access.has_second_factor` counts it), or they
        would lock themselves out."""
        with self.rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key, write=True, lock=True)
            if org["role"] != "owner":
                raise Forbidden("only owners can change this", code="owner_only")
            if required and not has_second_factor(conn, actor, org):
                raise Invalid(
                    "set up your own second factor first (on your account page)",
                    field="require_second_factor",
                )
            account_store.set_org_second_factor(conn, org["id"], required)
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="org.second_factor_required" if required else "org.second_factor_optional",
                resource=org_key,
            )
