"""Passkeys and WebAuthn challenges in the database, on SQLite and PostgreSQL: a challenge is
taken once, only for its purpose and binding, and not after it expires; a use moves the sign
counter only from the value it was read at; removal is per user; a passkey counts as the
member's second factor where an organization requires one."""

from __future__ import annotations

import hashlib

from sqlalchemy import event

from launchsequence.services.access import org_for
from launchsequence.store import orgs as org_store
from launchsequence.store import passkeys as store
from launchsequence.store import second_factor as second_factor_store
from launchsequence.store.accounts import set_org_second_factor
from tests.store.test_store import db, world  # noqa: F401 (the fixtures)

NOW = 1_700_000_000_000


def _challenge(
    conn, text: str, *, at: int = NOW, binding: str = "b1", purpose: str = "sign_in"
) -> None:
    store.add_challenge(
        conn,
        challenge_hash=hashlib.sha256(text.encode()).hexdigest(),
        purpose=purpose,
        binding=binding,
        user_id=None,
        at=at,
        expires_at=at + 60_000,
    )


def _take(conn, text: str, *, purpose: str = "sign_in", binding: str = "b1", now: int = NOW):
    return store.take_challenge(
        conn,
        challenge_hash=hashlib.sha256(text.encode()).hexdigest(),
        purpose=purpose,
        binding=binding,
        now=now,
    )


def test_a_challenge_is_taken_once_for_its_purpose_and_binding_before_it_expires(world):  # noqa: F811
    with world.db.begin() as conn:
        for text in ("a", "b", "c"):
            _challenge(conn, text, binding=text)
    with world.db.begin() as conn:
        assert _take(conn, "a", purpose="register", binding="a") is None
        assert _take(conn, "a", binding="another session") is None
        assert _take(conn, "a", binding="a") is not None
        assert _take(conn, "a", binding="a") is None, "used up"
        assert _take(conn, "b", binding="b", now=NOW + 60_000) is None, "expired"
        assert _take(conn, "unknown") is None
    with world.db.begin() as conn:
        _challenge(conn, "d", at=NOW + 60_000)  # adding sweeps the expired ones
    with world.db.begin() as conn:
        assert _take(conn, "c", binding="c", now=NOW + 1) is None, "swept: it had expired"
        assert _take(conn, "d", now=NOW + 60_001) is not None


def test_a_binding_holds_one_challenge_per_purpose(world):  # noqa: F811
    with world.db.begin() as conn:
        _challenge(conn, "first")
        _challenge(conn, "other purpose", purpose="register")
        _challenge(conn, "other binding", binding="b2")
        _challenge(conn, "second")  # replaces "first"
    with world.db.begin() as conn:
        assert _take(conn, "first") is None, "replaced by the next one"
        assert _take(conn, "second") is not None
        assert _take(conn, "other purpose", purpose="register") is not None
        assert _take(conn, "other binding", binding="b2") is not None


def _passkey(conn, user_id: int, credential_id: str) -> int:
    return store.create(
        conn,
        user_id=user_id,
        credential_id=credential_id,
        user_handle="aGFuZGxl",
        public_key="cHVibGlj",
        sign_count=5,
        name="Laptop",
        transports="internal",
        aaguid="00000000-0000-0000-0000-000000000000",
        backed_up=False,
        created_at=NOW,
    )


def test_the_counter_moves_only_from_what_was_read_and_removal_is_per_user(world):  # noqa: F811
    other = world.services.accounts.create_user(email="o@example.com", password="correct horse")
    with world.db.begin() as conn:
        mine = _passkey(conn, world.actor.user_id, "cred-1")
        _passkey(conn, other.user_id, "cred-2")
    with world.db.begin() as conn:
        assert store.used(conn, mine, old_count=5, new_count=6, at=NOW)
        assert not store.used(conn, mine, old_count=5, new_count=7, at=NOW), "raced: refused"
        found = store.by_credential_id(conn, "cred-1")
        assert found is not None and found["sign_count"] == 6 and found["last_used_at"] == NOW
        assert store.delete_one(conn, passkey_id=mine, user_id=other.user_id) is None
        assert store.count_for_user(conn, world.actor.user_id) == 1
        assert store.delete_one(conn, passkey_id=mine, user_id=world.actor.user_id) is not None
        assert store.list_for_user(conn, world.actor.user_id) == []
        assert store.delete_for_user(conn, other.user_id) == 1


def test_a_passkey_is_a_members_second_factor(world):  # noqa: F811
    with world.db.connect() as conn:
        assert not second_factor_store.has_own(conn, world.actor.user_id)
    with world.db.begin() as conn:
        _passkey(conn, world.actor.user_id, "cred-3")
    with world.db.connect() as conn:
        assert second_factor_store.has_own(conn, world.actor.user_id)


def test_the_second_factor_is_looked_up_only_where_one_is_required(world):  # noqa: F811
    """`org_for` (every request to an organization) asks whether the member has a second
    factor, and whether the organization uses single sign-on, only when it requires one."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    def asked() -> list[str]:
        seen.clear()
        with world.db.connect() as conn:
            org_for(conn, world.actor, world.org)
        return [s for s in seen if "passkeys" in s or "totp_enabled_at" in s or "org_sso" in s]

    event.listen(world.db, "before_cursor_execute", note)
    try:
        assert asked() == [], "computed though the organization requires nothing"
        with world.db.begin() as conn:
            _passkey(conn, world.actor.user_id, "cred-4")
            org_id = org_store.get_org_for_user(
                conn, org_key=world.org, user_id=world.actor.user_id
            )["id"]
            set_org_second_factor(conn, org_id, True)
        assert len(asked()) == 1, "one question, when it is required"
    finally:
        event.remove(world.db, "before_cursor_execute", note)
