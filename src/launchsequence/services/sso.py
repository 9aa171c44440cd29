"""Single sign-on: starting and finishing an OpenID Connect sign-in, linking it to an account,
and the organization settings that govern it.

Who a sign-in is: an existing link (provider + subject) names the account; else an account with
the same verified email is linked and signed in; else a new account is made, a member of every
organization that allows the email's domain (with that organization's default role), and with
no such organization the sign-in is refused. Every refusal is an `SsoRefused` whose message
is the same whether or not an account exists for the email.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..secrets import sign
from ..store import accounts as account_store
from ..store import orgs as org_store
from ..store import sso as store
from .accounts import Accounts, Session
from .errors import Invalid, NotFound, Unauthorized
from .oidc import OidcClient, OidcError, parse_providers
from .orgs import org_for
from .passwords import NO_PASSWORD
from .runtime import Actor, Runtime, record_audit

__all__ = ["FLOW_SECONDS", "NO_PASSWORD", "Flow", "Sso", "SsoRefused"]

log = logging.getLogger("launchsequence.sso")

#: A sign-in must come back from the provider within this time of starting.
FLOW_SECONDS = 600
MAX_DOMAINS = 50
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
SSO_ROLES = ("admin", "viewer")

#: What a person is told, per refusal code. No message depends on whether an account exists.
_MESSAGES = {
    "bad_state": "This sign-in was not started from this browser, or took longer than ten "
    "minutes. Start again from the log-in page.",
    "wrong_issuer": "The answer did not come from the configured provider (issuer mismatch), "
    "so it was refused.",
    "wrong_audience": "The provider's ID token was issued to another application (audience "
    "mismatch), so it was refused.",
    "wrong_nonce": "The provider's ID token belongs to another sign-in (nonce mismatch), so it "
    "was refused.",
    "expired": "The provider's ID token has expired. Try again; if this repeats, the server's "
    "clock may be wrong.",
    "invalid_token": "The provider's ID token could not be verified, so it was refused.",
    "provider_error": "The provider did not sign you in. Try again.",
    # Said only to whoever the provider has just signed in: it reveals nothing to anyone else.
    "account_disabled": "This account is disabled; ask your administrator.",
    "provider_unreachable": "The provider cannot be reached right now. Try again later.",
    "discovery_failed": "The provider's configuration cannot be read. Tell your administrator.",
    "email_not_verified": "Your provider has not verified your email address. Verify it "
    "there, then sign in again.",
    "not_allowed": "Single sign-on cannot open an account here for this email address. Ask "
    "an administrator of your organization to invite you, or to allow your email domain.",
}


class SsoRefused(Unauthorized):
    """A single sign-on refused; `code` is a key of the refusal messages."""

    def __init__(self, code: str) -> None:
        super().__init__(_MESSAGES[code], code=code)


@dataclass(frozen=True)
class Flow:
    """A sign-in under way, kept in the browser (signed by the server) until the provider
    answers: never a token, only what the answer is checked against."""

    provider: str
    state: str
    nonce: str
    code_verifier: str
    next: str
    started_at: int


class Sso:
    def __init__(
        self,
        rt: Runtime,
        accounts: Accounts,
        *,
        clients: Mapping[str, OidcClient] | None = None,
    ) -> None:
        self.rt = rt
        self.accounts = accounts
        if clients is None:
            configs = parse_providers(rt.settings.oidc_providers)
            leeway = rt.settings.oidc_clock_leeway_seconds
            clients = {c.id: OidcClient(c, clock=rt.now, leeway_seconds=leeway) for c in configs}
        self.clients = dict(clients)

    def providers(self) -> list[dict[str, str]]:
        """The configured providers, in settings order: id and display name."""
        return [{"id": c.config.id, "name": c.config.name} for c in self.clients.values()]

    def _provider(self, provider_id: str) -> OidcClient:
        client = self.clients.get(provider_id)
        if client is None:
            raise NotFound("no such sign-in provider")
        return client

    # --- the flow ----------------------------------------------------------------------------

    def begin(self, provider_id: str, *, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """The provider's authorization URL and the sealed flow to keep in the browser."""
        client = self._provider(provider_id)
        try:
            auth = client.authorize(redirect_uri)
        except OidcError as exc:
            raise SsoRefused(exc.code) from None
        flow = Flow(
            provider_id, auth.state, auth.nonce, auth.code_verifier, next_path, self.rt.now()
        )
        return auth.url, self.seal(flow)

    def seal(self, flow: Flow) -> str:
        body = base64.urlsafe_b64encode(json.dumps(flow.__dict__).encode()).decode()
        return body + "." + sign(self.rt.settings.secret_key, "sso-flow:" + body)

    def unseal(self, sealed: str | None) -> Flow | None:
        """The flow, if the server sealed it and it is younger than FLOW_SECONDS."""
        if not sealed or len(sealed) > 4096 or "." not in sealed:
            return None
        body, mac = sealed.rsplit(".", 1)
        if not hmac.compare_digest(mac, sign(self.rt.settings.secret_key, "sso-flow:" + body)):
            return None
        try:
            flow = Flow(**json.loads(base64.urlsafe_b64decode(body)))
        except (ValueError, TypeError):
            return None
        if not 0 <= self.rt.now() - flow.started_at <= FLOW_SECONDS * 1000:
            return None
        return flow

    def finish(
        self,
        provider_id: str,
        *,
        sealed_flow: str | None,
        answer: Mapping[str, str],
        redirect_uri: str,
        old_token: str | None = None,
        address: str | None = None,
        user_agent: str | None = None,
    ) -> tuple[Session, Flow]:
        """Check the provider's answer against the flow the browser kept, verify the ID token,
        and open a session for whoever it names (see the module's docstring). Raises
        SsoRefused; NotFound for an unknown provider."""
        client = self._provider(provider_id)
        flow = self.unseal(sealed_flow)
        state = answer.get("state")
        if flow is None or flow.provider != provider_id or not state:
            raise SsoRefused("bad_state")
        if not hmac.compare_digest(state.encode(), flow.state.encode()):
            raise SsoRefused("bad_state")
        # RFC 9207: a provider that names itself in the answer must be the one asked.
        if "iss" in answer and answer["iss"] != client.config.issuer:
            raise SsoRefused("wrong_issuer")
        if "error" in answer or not answer.get("code"):
            raise SsoRefused("provider_error")
        try:
            claims = client.complete(
                redirect_uri=redirect_uri,
                code=answer["code"],
                nonce=flow.nonce,
                code_verifier=flow.code_verifier,
            )
        except OidcError as exc:
            log.info("sso: sign-in with %s refused: %s", provider_id, exc.code)
            raise SsoRefused(exc.code) from None
        verified = claims.get(client.config.email_verified_claim)
        email = claims.get("email")
        if not (verified is True or verified == "true") or not isinstance(email, str):
            raise SsoRefused("email_not_verified")
        email = email.strip().lower()
        if len(email) > 320 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise SsoRefused("email_not_verified")
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        actor = self._account(provider_id, claims["sub"], email, name)
        with self.rt.db.connect() as conn:
            user = account_store.get_user(conn, actor.user_id)
        if user is None or user.get("disabled_at") is not None:
            raise SsoRefused("account_disabled")
        if old_token:
            self.accounts.logout(old_token)
        # The provider vouches for the person, its own second factor included: an "sso"
        # session satisfies "members must use a second factor" in the organizations that use
        # single sign-on (services/access.py, has_second_factor).
        session = self.accounts.open_session(
            actor, address=address, user_agent=user_agent, sign_in="sso"
        )
        return session, flow

    def _account(self, provider: str, subject: str, email: str, name: str | None) -> Actor:
        for attempt in range(2):  # a first sign-in racing another of the same person: retry
            try:
                return self._account_once(provider, subject, email, name)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _account_once(self, provider: str, subject: str, email: str, name: str | None) -> Actor:
        now = self.rt.now()
        with self.rt.write_db.begin() as conn:
            link = store.get_link(conn, provider=provider, subject=subject)
            if link is not None:
                user = account_store.get_user(conn, link["user_id"])
                assert user is not None  # links go with their user (ON DELETE CASCADE)
                store.touch_link(conn, link["id"], email=email, at=now)
                return Actor(user["id"], user["email"], user["name"], "session")
            user = account_store.get_user_by_email(conn, email)
            if user is None:
                user = self._new_member(conn, email, name, provider, now)
            store.create_link(
                conn, user_id=user["id"], provider=provider, subject=subject, email=email, at=now
            )
            return Actor(user["id"], user["email"], user["name"], "session")

    def _new_member(
        self, conn: Any, email: str, name: str | None, provider: str, now: int
    ) -> dict[str, Any]:
        orgs = store.orgs_allowing_domain(conn, email.rsplit("@", 1)[1])
        if not orgs:
            raise SsoRefused("not_allowed")
        name = (name or "").strip()[:200] or email.split("@")[0][:200]
        user_id = account_store.create_user(
            conn, email=email, name=name, password_hash=NO_PASSWORD, at=now
        )
        actor = Actor(user_id, email, name, "session")
        for org in orgs:
            org_store.add_member(
                conn, org_id=org["id"], user_id=user_id, role=org["default_role"], at=now
            )
            record_audit(
                conn,
                self.rt,
                org_id=org["id"],
                actor=actor,
                action="member.joined_by_sso",
                resource=email,
                after={"role": org["default_role"], "provider": provider},
            )
        return {"id": user_id, "email": email, "name": name}

    # --- organization settings ---------------------------------------------------------------

    def get_settings(self, actor: Actor, org_key: str) -> dict[str, Any]:
        """The organization's SSO settings; any member may read them."""
        with self.rt.db.connect() as conn:
            org = org_for(conn, actor, org_key)
            return store.get_settings(conn, org["id"])

    def update_settings(
        self,
        actor: Actor,
        org_key: str,
        *,
        allowed_domains: Any,
        default_role: Any,
        required: Any,
    ) -> dict[str, Any]:
        """Replace the SSO settings (owners and admins). Raises Invalid for a bad domain or
        role, Forbidden for a viewer, NotFound for an organization the caller is not in."""
        domains = _domains(allowed_domains)
        if default_role not in SSO_ROLES:
            raise Invalid("must be admin or viewer", field="default_role")
        if not isinstance(required, bool):
            raise Invalid("must be true or false", field="required")
        with self.rt.write_db.begin() as conn:
            org = org_for(conn, actor, org_key, write=True, lock=True)
            before = store.get_settings(conn, org["id"])
            after = {"allowed_domains": domains, "default_role": default_role, "required": required}
            store.put_settings(
                conn,
                org["id"],
                allowed_domains=domains,
                default_role=default_role,
                required=required,
                at=self.rt.now(),
            )
            if before != after:
                record_audit(
                    conn,
                    self.rt,
                    org_id=org["id"],
                    actor=actor,
                    action="org.sso_changed",
                    resource=org_key,
                    before=before,
                    after=after,
                )
        return after

    def password_refused(self, user_id: int) -> bool:
        with self.rt.db.connect() as conn:
            return store.password_refused(conn, user_id)


def _domains(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Invalid("must be a list of email domains", field="allowed_domains")
    if len(value) > MAX_DOMAINS:
        raise Invalid(f"at most {MAX_DOMAINS} domains", field="allowed_domains")
    out: list[str] = []
    for item in value:
        domain = item.strip().lower().lstrip("@") if isinstance(item, str) else ""
        if not _DOMAIN.fullmatch(domain):
            shown = item if isinstance(item, str) else "?"
            raise Invalid(f"{shown[:60]!r} is not an email domain", field="allowed_domains")
        if domain not in out:
            out.append(domain)
    return sorted(out)
