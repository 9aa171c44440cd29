"""LAUNCHSEQ_OIDC_PROVIDERS: what is accepted, and errors that name the problem but never a
client secret."""

from __future__ import annotations

import json

import pytest

from launchsequence.config import Settings
from launchsequence.services.oidc import ProviderConfig, parse_providers

SECRET = "s3cret-never-shown"
GOOD = {
    "id": "google",
    "name": "Google",
    "issuer": "https://accounts.google.com",
    "client_id": "id.apps.googleusercontent.com",
    "client_secret": SECRET,
}


def test_a_provider_with_the_default_scopes():
    (provider,) = parse_providers(json.dumps([GOOD]))
    assert provider == ProviderConfig("google", "Google", GOOD["issuer"], GOOD["client_id"], SECRET)
    assert provider.scopes == ("openid", "email", "profile")
    assert provider.email_verified_claim == "email_verified"
    assert SECRET not in repr(provider)
    assert SECRET not in repr(Settings(oidc_providers=json.dumps([GOOD])))


def test_openid_is_always_asked():
    (provider,) = parse_providers(json.dumps([{**GOOD, "scopes": ["email"]}]))
    assert provider.scopes == ("openid", "email")


def test_no_providers():
    assert parse_providers("") == ()
    assert parse_providers("  ") == ()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{not json", "JSON list"),
        (json.dumps(GOOD), "JSON list"),
        (json.dumps([{**GOOD, "client_secret": ""}]), "client_secret must be"),
        (json.dumps([{**GOOD, "id": "Not A Key"}]), ".id must look like a key"),
        (json.dumps([{**GOOD, "issuer": "accounts.google.com"}]), ".issuer must be"),
        (json.dumps([{**GOOD, "scope": "openid"}]), "unknown fields: scope"),
        (json.dumps([{**GOOD, "email_verified_claim": "a b"}]), "email_verified_claim"),
        (json.dumps([GOOD, {**GOOD, "name": "Again"}]), "same id"),
    ],
)
def test_mistakes_are_named_without_the_secret(raw, says):
    with pytest.raises(ValueError, match=says) as caught:
        parse_providers(raw)
    assert SECRET not in str(caught.value)
