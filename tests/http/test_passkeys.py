"""Passkeys over HTTP, without a browser: the relying party from the public URL, the options
the browser is handed (a fresh single-use challenge, stored as a digest), the password asked
again before adding one, CSRF on every new form, and refusals of what no browser sent.
A real browser with a real (virtual) authenticator is in tests/e2e/test_passkeys.py."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, select
from webauthn.helpers import base64url_to_bytes

from launchsequence.app import create_app
from launchsequence.services.passkeys import relying_party
from launchsequence.store.tables import webauthn_challenges
from tests.http.test_second_factor import PASSWORD, csrf_of, log_in
from tests.support.api import signup
from tests.support.live import LiveServer, free_port


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://flags.example.com", ("flags.example.com", "https://flags.example.com")),
        (
            "https://flags.example.com:8443/",
            ("flags.example.com", "https://flags.example.com:8443"),
        ),
        ("http://localhost:8080", ("localhost", "http://localhost:8080")),
        ("http://localhost", ("localhost", "http://localhost")),
        ("", None),  # not set
        ("http://flags.example.com", None),  # not a secure context
        ("https://127.0.0.1:8443", None),  # an IP address is never an RP ID
        ("http://127.0.0.1:8080", None),
        ("https://[::1]:8443", None),
        ("https://flags.example.com/launch", None),  # under a path: origins have none
    ],
)
def test_the_relying_party_is_the_public_url_when_it_can_be_one(base_url, expected):
    assert relying_party(base_url) == expected


@pytest.fixture
def live_rp(make_settings, clock) -> Iterator[LiveServer]:
    """The server with a public URL passkeys accept: http://localhost:PORT."""
    port = free_port()
    settings = make_settings(base_url=f"http://localhost:{port}")
    server = LiveServer(create_app(settings, clock=clock), port=port).start()
    yield server
    server.stop()


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, follow_redirects=False)


def test_adding_a_passkey_asks_for_the_password_and_hands_out_single_use_options(live_rp, tmp_path):
    signup(live_rp.url, "ada@example.com", PASSWORD).close()
    with client(live_rp.url) as ada:
        log_in(ada, "ada@example.com")
        page = ada.get("/account").text
        assert 'id="passkey-add"' in page and "/static/passkeys.js" in page
        csrf = csrf_of(page)
        for token in (None, "wrong"):
            body = {"password_passkey": PASSWORD}
            if token:
                body["csrf_token"] = token
            assert ada.post("/account/passkeys/options", data=body).status_code == 403
        wrong = ada.post(
            "/account/passkeys/options", data={"csrf_token": csrf, "password_passkey": "nope"}
        )
        assert wrong.status_code == 422
        assert wrong.json()["error"]["message"] == "this is not your password"
        answers = [
            ada.post(
                "/account/passkeys/options",
                data={"csrf_token": csrf, "password_passkey": PASSWORD, "passkey_name": name},
            )
            for name in ("Laptop", "Phone")
        ]
        # The name is checked before the device makes the passkey, not after.
        unnamed = ada.post(
            "/account/passkeys/options", data={"csrf_token": csrf, "password_passkey": PASSWORD}
        )
        assert unnamed.status_code == 422
        assert unnamed.json()["error"]["message"] == "name it: 1 to 100 characters"
    options = [a.json()["publicKey"] for a in answers]
    assert all(a.status_code == 200 for a in answers)
    assert answers[0].headers["cache-control"] == "no-store"
    first = options[0]
    assert first["rp"] == {"id": "localhost", "name": "Launch Sequence"}
    assert first["user"]["name"] == "ada@example.com"
    assert b"ada" not in base64url_to_bytes(first["user"]["id"]), "the handle is opaque"
    assert first["user"]["id"] == options[1]["user"]["id"], "one handle per account"
    assert first["authenticatorSelection"]["residentKey"] == "preferred"
    assert first["excludeCredentials"] == []
    assert len(base64url_to_bytes(first["challenge"])) >= 32
    assert first["challenge"] != options[1]["challenge"], "a fresh challenge each time"
    # Kept as a digest only, bound to this session, for five minutes; asking again replaces
    # the session's last challenge, so asking and asking keeps one row.
    rows = challenge_rows(tmp_path)
    assert [r["challenge_hash"] for r in rows] == [
        hashlib.sha256(base64url_to_bytes(options[1]["challenge"])).hexdigest()
    ]
    assert all(r["purpose"] == "register" for r in rows)
    assert not any(o["challenge"] in str(dict(r)) for r in rows for o in options)


def challenge_rows(tmp_path) -> list:
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'launchsequence.db'}")
    with engine.connect() as conn:
        rows = conn.execute(select(webauthn_challenges)).mappings().all()
    engine.dispose()
    return list(rows)


def test_asking_for_options_again_and_again_keeps_one_challenge_per_browser(live_rp, tmp_path):
    with client(live_rp.url) as one, client(live_rp.url) as two:
        csrf_one, csrf_two = (csrf_of(b.get("/login").text) for b in (one, two))
        for _ in range(5):
            asked = one.post("/login/passkey/options", data={"csrf_token": csrf_one})
            assert asked.status_code == 200
        assert two.post("/login/passkey/options", data={"csrf_token": csrf_two}).status_code == 200
        last = asked.json()["publicKey"]["challenge"]
        rows = challenge_rows(tmp_path)
        assert len(rows) == 2, "one per browser, however often it asks"
        assert hashlib.sha256(base64url_to_bytes(last)).hexdigest() in {
            r["challenge_hash"] for r in rows
        }


def test_signing_in_with_a_passkey_is_throttled_as_a_password_is(make_settings, clock):
    port = free_port()
    settings = make_settings(
        base_url=f"http://localhost:{port}",
        login_failures_per_client=3,
        login_failures_per_address=5,
        login_window_seconds=60,
    )
    live = LiveServer(create_app(settings, clock=clock), port=port).start()
    try:
        with client(live.url) as guesser:
            csrf = csrf_of(guesser.get("/login").text)
            answers = [
                guesser.post("/login/passkey", data={"csrf_token": csrf, "credential": "{}"})
                for _ in range(4)
            ]
            assert [a.status_code for a in answers] == [401, 401, 401, 429]
            assert "too many failed log-ins; try again in" in answers[3].text
            assert int(answers[3].headers["retry-after"]) > 0
            # The address's failures count with password log-ins (spraying across both).
            signup(live.url, "ed@example.com", PASSWORD).close()
            for _ in range(2):
                wrong = guesser.post(
                    "/login",
                    data={"csrf_token": csrf, "email": "ed@example.com", "password": "nope"},
                )
                assert wrong.status_code == 401
            refused = guesser.post(
                "/login",
                data={"csrf_token": csrf, "email": "ed@example.com", "password": PASSWORD},
            )
            assert refused.status_code == 429
            clock.advance(61)
            again = guesser.post("/login/passkey", data={"csrf_token": csrf, "credential": "{}"})
            assert again.status_code == 401, "the window passed"
    finally:
        live.stop()


def test_what_no_browser_made_is_refused_with_a_reason(live_rp):
    owner = signup(live_rp.url, "bo@example.com", PASSWORD)
    other = signup(live_rp.url, "cy@example.com", PASSWORD)
    with client(live_rp.url) as bo:
        log_in(bo, "bo@example.com")
        csrf = csrf_of(bo.get("/account").text)
        # Without JavaScript the form sends no credential: the page says what is needed.
        empty = bo.post(
            "/account",
            data={"csrf_token": csrf, "action": "passkey-add", "passkey_name": "Laptop"},
        )
        assert empty.status_code == 422 and "needs JavaScript" in empty.text
        forged = bo.post(
            "/account",
            data={"csrf_token": csrf, "action": "passkey-add", "passkey_name": "Laptop",
                  "credential": '{"id": "x", "response": {"clientDataJSON": "e30"}}'},
        )  # fmt: skip
        assert forged.status_code == 422 and "was not accepted" in forged.text
        # Removing one asks the password again, before anything else is said.
        for password in ("", "wrong"):
            asked = bo.post(
                "/account",
                data={"csrf_token": csrf, "action": "passkey-remove", "id": "1",
                      "password_passkey_remove": password},
            )  # fmt: skip
            assert asked.status_code == 422, asked.text
            assert 'id="password_passkey_remove-error"' in asked.text
            assert "this is not your password" in asked.text
        # An id that is none of your passkeys: 404, as for any missing one.
        for passkey_id in ("1", "999999"):
            gone = bo.post(
                "/account",
                data={"csrf_token": csrf, "action": "passkey-remove", "id": passkey_id,
                      "password_passkey_remove": PASSWORD},
            )  # fmt: skip
            assert gone.status_code == 404 and "no such passkey" in gone.text
    owner.close()
    other.close()

    with client(live_rp.url) as anonymous:
        page = anonymous.get("/login").text
        assert 'id="passkey-sign-in"' in page
        csrf = csrf_of(page)
        assert anonymous.post("/login/passkey/options", data={}).status_code == 403
        sign_in = anonymous.post("/login/passkey/options", data={"csrf_token": csrf})
        assert sign_in.status_code == 200
        public_key = sign_in.json()["publicKey"]
        assert public_key["userVerification"] == "required", "alone, the device verifies"
        assert public_key["allowCredentials"] == [], "any discoverable passkey"
        forged_ticket = anonymous.post(
            "/login/passkey/options", data={"csrf_token": csrf, "ticket": "1.9999999999999.00"}
        )
        assert forged_ticket.status_code == 401
        assert forged_ticket.json()["error"]["code"] == "session_expired"
        refused = anonymous.post(
            "/login/passkey", data={"csrf_token": csrf, "credential": "not json"}
        )
        assert refused.status_code == 401 and "This passkey was not accepted" in refused.text
        assert anonymous.get("/api/v1/me").status_code == 401


def test_without_a_usable_public_url_the_pages_say_why(live):
    """The default server (no LAUNCHSEQ_BASE_URL, on 127.0.0.1): no passkeys, and why."""
    signup(live.url, "di@example.com", PASSWORD).close()
    with client(live.url) as di:
        login_page = di.get("/login").text
        assert "passkey-sign-in" not in login_page and "passkeys.js" not in login_page
        log_in(di, "di@example.com")
        page = di.get("/account").text
        assert re.search(r'id="passkeys-off">Passkeys need LAUNCHSEQ_BASE_URL', page)
        assert 'id="passkey-add"' not in page
        answer = di.post(
            "/account/passkeys/options",
            data={"csrf_token": csrf_of(page), "password_passkey": PASSWORD, "passkey_name": "K"},
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "passkeys_off"
