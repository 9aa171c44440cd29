"""The account pages: changing one's password ends the other sessions; the sessions page lists
each session (device, address, times) and ends one or all others; every new form needs its
CSRF token; one user's sessions and tokens are not another's to end."""

from __future__ import annotations

import re

import httpx

from tests.support.api import ApiUser, signup

PASSWORD = "correct horse"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(url: str, email: str, user_agent: str) -> httpx.Client:
    """A browser that logged in through the log-in form."""
    client = httpx.Client(base_url=url, timeout=30, headers={"User-Agent": user_agent})
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return client


def post_form(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_of(client.get(path).text)
    return client.post(path, data={**data, "csrf_token": token})


def logged_in(client: httpx.Client | ApiUser) -> bool:
    return client.get("/api/v1/me").status_code == 200


def session_ids(html: str) -> list[str]:
    return re.findall(
        r'name="action" value="end"><input type="hidden" name="id" value="(\d+)"', html
    )


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(live_any_db):
    live = live_any_db
    alice = signup(live.url, "alice@example.com", PASSWORD)
    laptop = log_in(live.url, "alice@example.com", FIREFOX)
    phone = log_in(live.url, "alice@example.com", SAFARI)
    bob = signup(live.url, "bob@example.com", PASSWORD)

    wrong = post_form(
        laptop,
        "/account",
        {
            "action": "change-password",
            "current_password": "not it at all",
            "password": "a new passphrase",
            "password_again": "a new passphrase",
        },
    )
    assert wrong.status_code == 422 and "not your current password" in wrong.text
    differ = post_form(
        laptop,
        "/account",
        {
            "action": "change-password",
            "current_password": PASSWORD,
            "password": "a new passphrase",
            "password_again": "another one",
        },
    )
    assert differ.status_code == 422 and "differ" in differ.text
    assert logged_in(phone) and logged_in(alice), "a refused change ends nothing"

    changed = post_form(
        laptop,
        "/account",
        {
            "action": "change-password",
            "current_password": PASSWORD,
            "password": "a new passphrase",
            "password_again": "a new passphrase",
        },
    )
    assert changed.status_code == 303
    page = laptop.get(changed.headers["location"])
    assert "Your password is changed. 2 other sessions ended." in re.sub(r"\s+", " ", page.text)
    assert logged_in(laptop), "the session that changed it stays"
    assert not logged_in(phone) and not logged_in(alice)
    assert logged_in(bob), "nobody else is concerned"
    with httpx.Client(base_url=live.url) as c:
        old = c.post(
            "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )
        assert old.status_code == 401
    audit = laptop.get(f"/api/v1/orgs/{alice.org}/audit").json()["entries"]
    assert audit[0]["action"] == "user.password_changed"
    assert audit[0]["actor"] == "alice@example.com"
    assert "passphrase" not in str(audit)


def test_the_sessions_page_lists_devices_and_logs_them_out(live_any_db):
    live = live_any_db
    signup(live.url, "carol@example.com", PASSWORD).close()
    laptop = log_in(live.url, "carol@example.com", FIREFOX)
    phone = log_in(live.url, "carol@example.com", SAFARI)
    third = log_in(live.url, "carol@example.com", "curl/8.5.0")

    page = laptop.get("/account/sessions")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "Firefox on Linux this session" in text
    assert "Safari on iOS" in text and "curl" in text
    assert text.count("127.0.0.1") >= 3
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text)
    assert 'href="/account/sessions"' in laptop.get("/account").text

    # Log out the phone from the laptop: the phone's cookie stops working at once.
    ids = session_ids(page.text)
    phone_row = re.search(r"Safari on iOS.*?name=\"id\" value=\"(\d+)\"", page.text, re.S)
    assert phone_row and phone_row.group(1) in ids
    ended = post_form(laptop, "/account/sessions", {"action": "end", "id": phone_row.group(1)})
    assert ended.status_code == 303
    assert not logged_in(phone) and logged_in(laptop) and logged_in(third)
    assert "Safari on iOS" not in laptop.get("/account/sessions").text

    everywhere = post_form(laptop, "/account/sessions", {"action": "end-others"})
    assert everywhere.status_code == 303
    # The other two: the curl one, and the one sign-up opened.
    assert "Logged out 2 sessions" in laptop.get(everywhere.headers["location"]).text
    assert not logged_in(third) and logged_in(laptop)
    assert len(session_ids(laptop.get("/account/sessions").text)) == 1


def test_every_account_form_needs_its_csrf_token(live):
    dave = signup(live.url, "dave@example.com", PASSWORD)
    browser = log_in(live.url, "dave@example.com", FIREFOX)
    forms = 0
    for path in ("/account", "/account/sessions"):
        page = browser.get(path)
        assert page.status_code == 200
        for form in re.findall(r"<form\b[^>]*>.*?</form>", page.text, re.S):
            if 'method="post"' in form:
                assert 'name="csrf_token"' in form, f"{path}: {form[:200]}"
                forms += 1
    assert forms >= 4  # password, token, a session's log-out, log out everywhere else (+ header)
    session_id = session_ids(browser.get("/account/sessions").text)[0]
    posts = [
        ("/account", {"action": "change-password", "current_password": PASSWORD,
                      "password": "another passphrase", "password_again": "another passphrase"}),
        ("/account", {"action": "create-token", "token_name": "t"}),
        ("/account", {"action": "revoke-token", "id": "1"}),
        ("/account/sessions", {"action": "end", "id": session_id}),
        ("/account/sessions", {"action": "end-others"}),
    ]  # fmt: skip
    for path, data in posts:
        for token in (None, "wrong", "0" * 64):
            body = dict(data) if token is None else {**data, "csrf_token": token}
            answer = browser.post(path, data=body)
            assert answer.status_code == 403, f"{path} {data['action']}: {answer.status_code}"
    # A right token from another site is refused too.
    token = csrf_of(browser.get("/account").text)
    cross = browser.post(
        "/account/sessions",
        data={"action": "end-others", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert logged_in(dave) and logged_in(browser), "nothing ended"
    assert browser.get("/api/v1/tokens").json()["tokens"] == []
    # The anonymous forms (forgot, reset) are bound to the pre-session cookie.
    with httpx.Client(base_url=live.url) as anonymous:
        anonymous.get("/login")
        anonymous_posts = (
            ("/forgot", {"email": "dave@example.com"}),
            ("/reset", {"password": "x" * 10, "password_again": "x" * 10}),
        )
        for path, data in anonymous_posts:
            for token in (None, "wrong"):
                body = dict(data) if token is None else {**data, "csrf_token": token}
                assert anonymous.post(path, data=body).status_code == 403, path


def test_another_users_sessions_and_tokens_answer_404_as_missing_ones(live):
    signup(live.url, "erin@example.com", PASSWORD).close()
    erin = log_in(live.url, "erin@example.com", FIREFOX)
    signup(live.url, "frank@example.com", PASSWORD).close()
    frank = log_in(live.url, "frank@example.com", SAFARI)
    erin_session = session_ids(erin.get("/account/sessions").text)[0]
    erin_token = erin.post(
        "/api/v1/tokens",
        json={"name": "erin"},
        headers={"X-CSRF-Token": csrf_of(erin.get("/account").text)},
    ).json()
    for path, field, theirs in (
        ("/account/sessions", "end", erin_session),
        ("/account", "revoke-token", str(erin_token["id"])),
    ):
        foreign = post_form(frank, path, {"action": field, "id": theirs})
        missing = post_form(frank, path, {"action": field, "id": "987654321"})
        assert foreign.status_code == missing.status_code == 404
        assert foreign.text == missing.text
    assert logged_in(erin)
    assert [t["id"] for t in erin.get("/api/v1/tokens").json()["tokens"]] == [erin_token["id"]]
    assert "erin@example.com" not in frank.get("/account/sessions").text
