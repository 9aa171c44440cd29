"""OpenID Connect, the relying party's side: provider settings, issuer discovery, the
authorization code flow with PKCE (S256), and ID token verification.

Authlib's protocol functions build the OAuth 2.0 messages (authorization URL with the PKCE
challenge, token request, client authentication), httpx carries them, and joserfc verifies the
ID token (signature against the provider's JWKS, then the claims): nothing here builds a PKCE
challenge or parses or checks a JOSE object by hand. Every refusal is an `OidcError` with a
stable `code`; no token, code or secret appears in its message or in a log line.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

if TYPE_CHECKING:  # joserfc (and cryptography under it, 10 MB) loads on the first sign-in
    from joserfc.jwk import KeySet

__all__ = [
    "ID_TOKEN_ALGORITHMS",
    "OidcClient",
    "OidcError",
    "ProviderConfig",
    "parse_providers",
]

log = logging.getLogger("launchsequence.sso")

#: Asymmetric signatures only: never `none`, never an HMAC keyed by the client secret.
ID_TOKEN_ALGORITHMS = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
]  # fmt: skip
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_CLAIM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_METADATA_TTL_S = 3600.0
_HTTP_TIMEOUT_S = 10.0


class OidcError(Exception):
    """A sign-in refused: `code` is stable (`wrong_issuer`, `wrong_audience`, `wrong_nonce`,
    `expired`, `invalid_token`, `provider_error`, `provider_unreachable`, `discovery_failed`)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ProviderConfig:
    """One provider from LAUNCHSEQ_OIDC_PROVIDERS. The secret never shows in a repr."""

    id: str
    name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    #: The boolean claim that says the provider verified the email (Entra ID: `xms_edov`).
    email_verified_claim: str = "email_verified"


def parse_providers(raw: str) -> tuple[ProviderConfig, ...]:
    """The providers of the OIDC_PROVIDERS setting (a JSON list). Raises ValueError naming
    what is wrong (never echoing a secret)."""
    if not raw.strip():
        return ()
    try:
        items = json.loads(raw)
    except ValueError:
        raise ValueError("LAUNCHSEQ_OIDC_PROVIDERS must be a JSON list of objects") from None
    if not isinstance(items, list):
        raise ValueError("LAUNCHSEQ_OIDC_PROVIDERS must be a JSON list of objects")
    out: list[ProviderConfig] = []
    for n, item in enumerate(items):
        where = f"LAUNCHSEQ_OIDC_PROVIDERS[{n}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object")
        unknown = set(item) - {
            "id", "name", "issuer", "client_id", "client_secret", "scopes", "email_verified_claim"
        }  # fmt: skip
        if unknown:
            raise ValueError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
        for key in ("id", "name", "issuer", "client_id", "client_secret"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise ValueError(f"{where}.{key} must be a non-empty string")
        if not _PROVIDER_ID.fullmatch(item["id"]):
            raise ValueError(f"{where}.id must look like a key: lowercase letters, digits, -._")
        if not item["issuer"].startswith(("https://", "http://")):
            raise ValueError(f"{where}.issuer must be an https:// URL")
        scopes = item.get("scopes", ["openid", "email", "profile"])
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError(f"{where}.scopes must be a list of strings")
        verified_claim = item.get("email_verified_claim", "email_verified")
        if not isinstance(verified_claim, str) or not _CLAIM.fullmatch(verified_claim):
            raise ValueError(f"{where}.email_verified_claim must be a claim name")
        if "openid" not in scopes:
            scopes = ["openid", *scopes]
        out.append(
            ProviderConfig(
                id=item["id"],
                name=item["name"],
                issuer=item["issuer"],
                client_id=item["client_id"],
                client_secret=item["client_secret"],
                scopes=tuple(scopes),
                email_verified_claim=verified_claim,
            )
        )
    ids = [p.id for p in out]
    if len(set(ids)) != len(ids):
        raise ValueError("LAUNCHSEQ_OIDC_PROVIDERS has two providers with the same id")
    return tuple(out)


@dataclass(frozen=True)
class Authorization:
    """What one sign-in keeps between the redirect to the provider and its answer."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class OidcClient:
    """One provider. `clock` is the server's clock (Unix ms): ID token times are checked
    against it, with `leeway_seconds` either way."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        clock: Callable[[], int],
        leeway_seconds: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.leeway = leeway_seconds
        self.transport = transport
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    # --- discovery ---------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=_HTTP_TIMEOUT_S, transport=self.transport)

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached an hour). Its `issuer` must be exactly the
        configured one (OpenID Connect Discovery 1.0, section 4.3)."""
        if self._metadata is not None and time.monotonic() - self._metadata_at < _METADATA_TTL_S:
            return self._metadata
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with self._http() as http:
                answer = http.get(url)
                answer.raise_for_status()
                metadata = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("sso: discovery failed for %s: %s", self.config.id, type(exc).__name__)
            raise OidcError("provider_unreachable", "the provider's discovery failed") from None
        if not isinstance(metadata, dict):
            raise OidcError("discovery_failed", "the discovery document is not an object")
        if metadata.get("issuer") != self.config.issuer:
            log.warning("sso: %s discovery names another issuer", self.config.id)
            raise OidcError("wrong_issuer", "the discovery document names another issuer")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(key), str):
                raise OidcError("discovery_failed", f"the discovery document lacks {key}")
        self._metadata, self._metadata_at = metadata, time.monotonic()
        return metadata

    def _key_set(self, *, refresh: bool = False) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        if self._keys is not None and not refresh:
            return self._keys
        try:
            with self._http() as http:
                answer = http.get(self.metadata()["jwks_uri"])
                answer.raise_for_status()
                self._keys = KeySet.import_key_set(answer.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            log.warning("sso: JWKS of %s unusable: %s", self.config.id, type(exc).__name__)
            raise OidcError("provider_unreachable", "the provider's keys cannot be read") from None
        return self._keys

    def _client_auth(self) -> ClientAuth:
        methods = self.metadata().get("token_endpoint_auth_methods_supported")
        basic = methods is None or "client_secret_basic" in methods  # the spec's default
        return ClientAuth(
            self.config.client_id,
            self.config.client_secret,
            "client_secret_basic" if basic else "client_secret_post",
        )

    # --- the flow ----------------------------------------------------------------------------

    def authorize(self, redirect_uri: str) -> Authorization:
        """Where to send the browser, with a fresh state, nonce and PKCE verifier."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # 64 characters: RFC 7636 asks 43 to 128
        url = prepare_grant_uri(
            self.metadata()["authorization_endpoint"],
            self.config.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(self.config.scopes),
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return Authorization(url, state, nonce, verifier)

    def complete(
        self, *, redirect_uri: str, code: str, nonce: str, code_verifier: str
    ) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and verify the ID token: signature by a
        key of the provider's JWKS, `iss`, `aud` (and `azp`), `exp` and `iat` with the
        leeway, `nonce`. The verified claims, with `email`, the email-verified claim and `name`
        taken from userinfo when the ID token lacks them (its `sub` must be the same)."""
        metadata = self.metadata()
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        uri, headers, body = self._client_auth().prepare(
            "POST", metadata["token_endpoint"], headers, body
        )
        try:
            with self._http() as http:
                answer = http.post(uri, headers=headers, content=body)
            token = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("sso: %s token endpoint: %s", self.config.id, type(exc).__name__)
            raise OidcError("provider_unreachable", "the provider cannot be reached") from None
        if answer.status_code != 200 or not isinstance(token, dict):
            error = token.get("error") if isinstance(token, dict) else None
            log.info("sso: %s refused the code: %s", self.config.id, str(error)[:64])
            raise OidcError("provider_error", "the provider refused the code")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("invalid_token", "the provider sent no ID token")
        claims = self.verify_id_token(id_token, nonce=nonce)
        access_token = token.get("access_token")
        userinfo = metadata.get("userinfo_endpoint")
        lacking = "email" not in claims or self.config.email_verified_claim not in claims
        if lacking and isinstance(userinfo, str) and isinstance(access_token, str):
            claims = {**self._userinfo(userinfo, access_token, claims["sub"]), **claims}
        return claims

    def _userinfo(self, endpoint: str, access_token: str, sub: str) -> dict[str, Any]:
        try:
            with self._http() as http:
                answer = http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
                answer.raise_for_status()
                info = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("sso: %s userinfo: %s", self.config.id, type(exc).__name__)
            raise OidcError("provider_unreachable", "the provider's userinfo failed") from None
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise OidcError("invalid_token", "userinfo is about someone else")
        wanted = ("email", self.config.email_verified_claim, "name")
        return {k: info[k] for k in wanted if k in info}

    def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        try:
            decoded = self._decode(id_token, refresh=False)
        except OidcError:
            decoded = self._decode(id_token, refresh=True)  # the provider may have rotated keys
        from joserfc import jwt
        from joserfc.errors import (
            ExpiredTokenError,
            InvalidClaimError,
            JoseError,
            MissingClaimError,
        )

        claims = dict(decoded.claims)
        now = self.clock() // 1000
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise OidcError("expired", "the ID token has expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            name = exc.claim
            code = {"iss": "wrong_issuer", "aud": "wrong_audience", "nonce": "wrong_nonce"}
            raise OidcError(code.get(name, "invalid_token"), f"bad claim {name}") from None
        except JoseError:
            raise OidcError("invalid_token", "the ID token's claims are wrong") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise OidcError("wrong_audience", "the ID token was issued to another party")
        if not isinstance(claims["iat"], int) or claims["iat"] > now + self.leeway:
            raise OidcError("invalid_token", "the ID token was issued in the future")
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
            raise OidcError("invalid_token", "the ID token's subject is unusable")
        return claims

    def _decode(self, id_token: str, *, refresh: bool) -> Any:
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            return jwt.decode(id_token, self._key_set(refresh=refresh), ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            log.info("sso: %s ID token unverifiable: %s", self.config.id, type(exc).__name__)
            raise OidcError("invalid_token", "the ID token's signature is not valid") from None
