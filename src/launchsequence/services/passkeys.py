"""Passkeys (WebAuthn): registering them on the account page, listing and removing them, and
checking one at log-in, as a second factor after the password or alone ("Sign in with a
passkey", where the device verified its user).

The relying party is the server's public URL (`LAUNCHSEQ_BASE_URL`): its host is the RP ID
and its origin the only origin accepted. Browsers allow WebAuthn only in a secure context, and
an IP address is never an RP ID, so the URL must be `https://NAME` or `http://localhost[:PORT]`;
otherwise passkeys are unavailable and the pages say why.

Challenges: 32 random bytes, handed out for one purpose (`register`, `second_factor`,
`sign_in`) and bound to what asked for them (the session, or the browser's pre-session
cookie, given here as `binding`); kept as SHA-256 digests for five minutes and used up by the
first answer that names them, right or wrong. A binding holds one challenge per purpose: a new
one replaces the last, so that asking again and again keeps no more rows. The library
(py_webauthn) checks the signature, the challenge, the origin, the RP ID hash, user presence
and, where asked, user verification; an assertion must raise the stored sign counter (unless
the authenticator keeps none: 0). Sign-in with a passkey alone is throttled as a password
log-in (`Accounts.login_with_passkey`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import orjson
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..secrets import digest, sign
from ..store import accounts as account_store
from ..store import passkeys as store
from .errors import Invalid, NotFound, Unauthorized
from .passwords import NO_PASSWORD
from .runtime import Actor, Runtime
from .sessions import record_account_event

__all__ = ["CHALLENGE_MS", "MAX_PASSKEYS", "PURPOSES", "Passkeys", "relying_party"]

log = logging.getLogger("launchsequence.passkeys")

CHALLENGE_MS = 5 * 60_000
#: How recent a sign-in must be to add a passkey to an account that has no password.
FRESH_SIGN_IN_MS = 10 * 60_000
MAX_PASSKEYS = 20
MAX_CREDENTIAL_CHARS = 64_000
PURPOSES = ("register", "second_factor", "sign_in")
RP_NAME = "Launch Sequence"
_TRANSPORTS = {t.value: t for t in AuthenticatorTransport}
_LOCALHOST = re.compile(r"^http://localhost(:\d{1,5})?$")

#: What a refused passkey is told: never which check failed (the log says, for operators).
REFUSED = "This passkey was not accepted. Try again, or use another way to log in."


def relying_party(base_url: str) -> tuple[str, str] | None:
    """(RP ID, origin) from the server's public URL, or None when it cannot be one."""
    parts = urlsplit(base_url.strip().rstrip("/"))
    host = parts.hostname or ""
    if not host or parts.path or parts.query or parts.fragment or parts.username:
        return None
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme == "https" and not re.fullmatch(r"[\d.]+|\[.*\]|.*:.*", host):
        return host, origin
    if _LOCALHOST.fullmatch(origin):
        return "localhost", origin
    return None


def _transports(stored: str) -> list[AuthenticatorTransport]:
    return [_TRANSPORTS[t] for t in stored.split(",") if t in _TRANSPORTS]


def _label(name: Any) -> str:
    label = name.strip() if isinstance(name, str) else ""
    if not label or len(label) > 100:
        raise Invalid("name it: 1 to 100 characters", field="name")
    return label


def _b64(data: bytes) -> str:
    return bytes_to_base64url(data)


def _credential(value: Any) -> dict[str, Any]:
    """The browser's credential (PublicKeyCredential as JSON), parsed; Unauthorized when it is
    not one."""
    if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL_CHARS:
        raise Unauthorized(REFUSED, code="invalid_passkey")
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise Unauthorized(REFUSED, code="invalid_passkey") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("response"), dict):
        raise Unauthorized(REFUSED, code="invalid_passkey")
    return parsed


def _challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge the browser signed, read from its client data (checked again, with the
    rest, by the library against the one we handed out)."""
    try:
        client_data = orjson.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        return base64url_to_bytes(client_data["challenge"])
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        raise Unauthorized(REFUSED, code="invalid_passkey") from None


class Passkeys:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # --- the relying party ---------------------------------------------------------------------

    def relying_party(self) -> tuple[str, str] | None:
        return relying_party(self.rt.settings.base_url)

    def unavailable_reason(self) -> str | None:
        """Why passkeys cannot be used on this server, or None when they can."""
        if self.relying_party() is not None:
            return None
        return (
            "Passkeys need LAUNCHSEQ_BASE_URL set to this server's public address, "
            "https://NAME (or http://localhost for a trial): browsers bind a passkey to it."
        )

    def _rp(self) -> tuple[str, str]:
        rp = self.relying_party()
        if rp is None:
            raise Invalid(self.unavailable_reason() or "", field="passkey", code="passkeys_off")
        return rp

    # --- challenges ----------------------------------------------------------------------------

    def _hand_out(self, challenge: bytes, purpose: str, binding: str, user_id: int | None) -> None:
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            store.add_challenge(
                conn,
                challenge_hash=hashlib.sha256(challenge).hexdigest(),
                purpose=purpose,
                binding=digest(binding),
                user_id=user_id,
                at=now,
                expires_at=now + CHALLENGE_MS,
            )

    def _take(self, challenge: bytes, purpose: str, binding: str) -> dict[str, Any]:
        with self.rt.write_db.begin() as conn:
            row = store.take_challenge(
                conn,
                challenge_hash=hashlib.sha256(challenge).hexdigest(),
                purpose=purpose,
                binding=digest(binding),
                now=self.rt.now(),
            )
        if row is None:
            raise Unauthorized(
                "This passkey request expired or was used already: try again.",
                code="passkey_challenge_expired",
            )
        return row

    # --- registering ---------------------------------------------------------------------------

    def _user_handle(self, user_id: int) -> bytes:
        # Opaque and stable per user (no email in it), so that an authenticator keeps one
        # passkey per account here; stored with each passkey, so a new server secret is fine.
        return bytes.fromhex(sign(self.rt.settings.secret_key, f"passkey-user:{user_id}"))

    def registration_options(self, actor: Actor, *, binding: str, name: Any) -> dict[str, Any]:
        """The options for `navigator.credentials.create()`, as JSON-ready data, for a passkey
        to be called `name` (checked now, before the device makes it). The caller has made the
        person prove who they are again (password, or a fresh sign-in)."""
        _label(name)
        rp_id, _ = self._rp()
        with self.rt.db.connect() as conn:
            existing = store.list_for_user(conn, actor.user_id)
        if len(existing) >= MAX_PASSKEYS:
            raise Invalid(f"at most {MAX_PASSKEYS} passkeys: remove one first", field="passkey")
        options = generate_registration_options(
            rp_id=rp_id,
            rp_name=RP_NAME,
            user_name=actor.email,
            user_id=self._user_handle(actor.user_id),
            user_display_name=actor.name,
            timeout=CHALLENGE_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(p["credential_id"]))
                for p in existing
            ],
        )
        self._hand_out(options.challenge, "register", binding, actor.user_id)
        return dict(orjson.loads(options_to_json(options)))

    def register(self, actor: Actor, *, binding: str, credential: Any, name: Any) -> dict[str, Any]:
        """Verify the browser's new credential against a challenge this session was handed
        and keep its public key under `name`. Invalid (field `passkey` or `name`)."""
        label = _label(name)
        rp_id, origin = self._rp()
        try:
            parsed = _credential(credential)
            row = self._take(_challenge_of(parsed), "register", binding)
        except Unauthorized as exc:
            raise Invalid(exc.message, field="passkey") from None
        if row["user_id"] != actor.user_id:
            raise Invalid(REFUSED, field="passkey")
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=_challenge_of(parsed),
                expected_rp_id=rp_id,
                expected_origin=origin,
            )
        except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
            log.info("passkeys: a registration refused: %s", exc)
            raise Invalid(REFUSED, field="passkey") from None
        transports = parsed["response"].get("transports")
        listed = transports if isinstance(transports, list) else []
        kept = [t for t in listed if isinstance(t, str) and t in _TRANSPORTS]
        credential_id = _b64(verified.credential_id)
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            if store.by_credential_id(conn, credential_id) is not None:
                raise Invalid("this passkey is registered already", field="passkey")
            if store.count_for_user(conn, actor.user_id) >= MAX_PASSKEYS:
                raise Invalid(f"at most {MAX_PASSKEYS} passkeys", field="passkey")
            passkey_id = store.create(
                conn,
                user_id=actor.user_id,
                credential_id=credential_id,
                user_handle=_b64(self._user_handle(actor.user_id)),
                public_key=_b64(verified.credential_public_key),
                sign_count=verified.sign_count,
                name=label,
                transports=",".join(kept)[:200],
                aaguid=verified.aaguid,
                backed_up=verified.credential_backed_up,
                created_at=now,
            )
            record_account_event(
                conn,
                self.rt,
                actor.user_id,
                actor.email,
                "user.passkey_added",
                actor,
                after={"passkey": label},
            )
        return {"id": passkey_id, "name": label, "created_at": now, "last_used_at": None}

    # --- the list ------------------------------------------------------------------------------

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        """The actor's passkeys, oldest first: id, name, created_at, last_used_at, synced
        (backed up: the provider copies it to the person's other devices)."""
        with self.rt.db.connect() as conn:
            rows = store.list_for_user(conn, actor.user_id)
        return [
            {
                "id": r["id"],
                "name": r["name"],
                "created_at": r["created_at"],
                "last_used_at": r["last_used_at"],
                "synced": bool(r["backed_up"]),
            }
            for r in rows
        ]

    def remove(self, actor: Actor, passkey_id: int) -> None:
        """Remove one of the actor's passkeys: it stops working at once. NotFound for another
        user's passkey exactly as for a missing one."""
        with self.rt.write_db.begin() as conn:
            row = store.delete_one(conn, passkey_id=passkey_id, user_id=actor.user_id)
            if row is None:
                raise NotFound("no such passkey", code="no_such_passkey")
            record_account_event(
                conn,
                self.rt,
                actor.user_id,
                actor.email,
                "user.passkey_removed",
                actor,
                after={"passkey": row["name"]},
            )

    def count(self, user_id: int) -> int:
        with self.rt.db.connect() as conn:
            return store.count_for_user(conn, user_id)

    def has_password(self, actor: Actor) -> bool:
        """Whether the account has a password (accounts made by single sign-on have none)."""
        with self.rt.db.connect() as conn:
            user = account_store.get_user(conn, actor.user_id)
        return user is not None and user["password_hash"] != NO_PASSWORD

    def recently_signed_in(self, session_token: str) -> bool:
        """Whether this session signed in within the last ten minutes."""
        with self.rt.db.connect() as conn:
            session = account_store.session_by_hash(conn, digest(session_token))
        if session is None:
            return False
        return bool(self.rt.session_now() - session["created_at"] <= FRESH_SIGN_IN_MS)

    # --- using one -----------------------------------------------------------------------------

    def authentication_options(self, *, binding: str, user_id: int | None) -> dict[str, Any]:
        """The options for `navigator.credentials.get()`: for a second factor, the user's
        passkeys (`user_id`); for a sign-in with a passkey alone (None), any discoverable one,
        and the device must verify its user (PIN, fingerprint, face)."""
        rp_id, _ = self._rp()
        allow: list[PublicKeyCredentialDescriptor] = []
        if user_id is not None:
            with self.rt.db.connect() as conn:
                rows = store.list_for_user(conn, user_id)
            allow = [
                PublicKeyCredentialDescriptor(
                    id=base64url_to_bytes(r["credential_id"]),
                    transports=_transports(r["transports"]) or None,
                )
                for r in rows
            ]
        options = generate_authentication_options(
            rp_id=rp_id,
            timeout=CHALLENGE_MS,
            allow_credentials=allow,
            user_verification=(
                UserVerificationRequirement.PREFERRED
                if user_id is not None
                else UserVerificationRequirement.REQUIRED
            ),
        )
        purpose = "second_factor" if user_id is not None else "sign_in"
        self._hand_out(options.challenge, purpose, binding, user_id)
        return dict(orjson.loads(options_to_json(options)))

    def verify(self, *, binding: str, credential: Any, user_id: int | None) -> int:
        """Check an assertion: for a second factor, by a passkey of `user_id`; for a sign-in
        alone (None), by any registered passkey, its device having verified the user. The
        user's id. Unauthorized (`invalid_passkey`, or `passkey_challenge_expired`)."""
        rp_id, origin = self._rp()
        parsed = _credential(credential)
        challenge = _challenge_of(parsed)
        purpose = "second_factor" if user_id is not None else "sign_in"
        row = self._take(challenge, purpose, binding)
        credential_id = parsed.get("id") if isinstance(parsed.get("id"), str) else ""
        with self.rt.db.connect() as conn:
            passkey = store.by_credential_id(conn, credential_id) if credential_id else None
        if passkey is None or row["user_id"] != user_id:
            raise Unauthorized(REFUSED, code="invalid_passkey")
        if user_id is not None and passkey["user_id"] != user_id:
            # Not among the passkeys this log-in asked for: another account's.
            raise Unauthorized(REFUSED, code="invalid_passkey")
        handle = parsed["response"].get("userHandle")
        if user_id is None and handle != passkey["user_handle"]:
            raise Unauthorized(REFUSED, code="invalid_passkey")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=base64url_to_bytes(passkey["public_key"]),
                credential_current_sign_count=passkey["sign_count"],
                require_user_verification=user_id is None,
            )
        except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
            log.info("passkeys: an assertion refused: %s", exc)
            raise Unauthorized(REFUSED, code="invalid_passkey") from None
        with self.rt.write_db.begin() as conn:
            if not store.used(
                conn,
                passkey["id"],
                old_count=passkey["sign_count"],
                new_count=verified.new_sign_count,
                at=self.rt.now(),
            ):
                raise Unauthorized(REFUSED, code="invalid_passkey")
        return int(passkey["user_id"])
