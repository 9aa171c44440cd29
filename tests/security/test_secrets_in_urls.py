"""Secrets stay out of URLs and out of the access log.

Only public client keys may travel in a URL (EventSource cannot send headers). A server key in
a query string is refused with 401 `secret_key_in_url` wherever it comes, even next to a proper
Authorization header, and a personal API token in one with 401 `token_in_url`. The access log
of `launchseq serve` shows every key-like query value as `***`. Streams that were opened with a
key end when it is rotated away, whatever the kind of stream.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from launchsequence.accesslog import redact_target
from tests.faults.support import ServerProcess
from tests.http.test_delivery import BOOL, make_flag, sdk, server_key, setup_env, stream

CONTEXT = base64.urlsafe_b64encode(orjson.dumps({"key": "u"})).decode().rstrip("=")


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_a_server_key_in_a_url_is_refused_with_a_code_that_says_why(live) -> None:
    e = setup_env(live.url, "url@example.com")
    client_stream = f"/sdk/v1/client/stream?context={CONTEXT}"

    with stream(live.url, f"{client_stream}&key={e.server_key}") as refused:
        assert refused.status == 401
        assert refused.json()["error"]["code"] == "secret_key_in_url"
        assert "Authorization" in refused.json()["error"]["message"]
    with stream(live.url, f"{client_stream}&key={e.client_key}") as allowed:
        assert allowed.status == 200, "a client key may travel in the URL"
        assert allowed.next_data_event().event == "put"
    auth = {"Authorization": f"Bearer {e.server_key}"}
    with stream(live.url, client_stream, auth) as in_header:
        assert in_header.status == 200, "the same key in the header is fine"

    # Anywhere, under any name, even next to a proper header: the key has leaked already.
    body = {"context": {"key": "u"}}
    for path, payload in (
        (f"/sdk/v1/snapshot?key={e.server_key}", None),
        (f"/sdk/v1/evaluate?api_key={e.server_key}", body),
        (f"/sdk/v1/client/evaluate?key={e.server_key}", body),
        (f"/ofrep/v1/evaluate/flags?key={e.server_key}", body),
    ):
        answer = sdk(live.url, path, e.server_key, payload)
        assert answer.status_code == 401, path
        assert _code(answer) == "secret_key_in_url", path
    for path in (f"/sdk/v1/stream?key={e.server_key}", f"/ofrep/v1/events?key={e.server_key}"):
        with stream(live.url, path, auth) as refused:
            assert refused.status == 401, path
            assert refused.json()["error"]["code"] == "secret_key_in_url", path


def test_a_personal_api_token_in_a_url_is_refused(live) -> None:
    e = setup_env(live.url, "token-url@example.com")
    token = e.user.post("/api/v1/tokens", json={"name": "ci"}).json()["token"]
    answer = httpx.get(f"{live.url}/api/v1/me?token={token}")
    assert answer.status_code == 401 and _code(answer) == "token_in_url", answer.text
    with_header = httpx.get(f"{live.url}/api/v1/me?token={token}",
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert with_header.status_code == 401 and _code(with_header) == "token_in_url"
    assert httpx.get(
        f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    ).is_success


def test_client_and_ofrep_streams_end_when_their_key_is_rotated_away(live) -> None:
    """The server stream's case is in test_delivery; the same holds for the other two."""
    e = setup_env(live.url, "rotate-streams@example.com")
    make_flag(e, "shown", BOOL, client_side=True)
    ofrep = sdk(
        live.url, "/ofrep/v1/evaluate/flags", e.server_key, {"context": {"targetingKey": "u"}}
    )
    events_uri = ofrep.json()["eventStreams"][0]["endpoint"]["requestUri"]
    client_stream = f"/sdk/v1/client/stream?context={CONTEXT}&key={e.client_key}"
    with stream(live.url, client_stream) as browser, stream(live.url, events_uri) as provider:
        assert browser.status == 200 and provider.status == 200
        assert browser.next_data_event().event == "put"
        e.user.post(f"{e.base}/environments/production/sdk-keys",
                    json={"kind": "client", "grace_seconds": 0})  # fmt: skip
        with pytest.raises(EOFError):
            browser.next_data_event(timeout=3)
        server_key(e.user, e.base)  # grace 0
        with pytest.raises(EOFError):
            while True:
                provider.next_data_event(timeout=3)


def test_redaction_of_request_targets() -> None:
    assert redact_target("/sdk/v1/client/stream?key=ls_cli_abc-_1&context=eyJ9") == (
        "/sdk/v1/client/stream?key=ls_cli_***&context=eyJ9"
    )
    assert redact_target("/ofrep/v1/events?token=0123abcd.ffee") == "/ofrep/v1/events?token=***"
    assert redact_target("/x?q=1&Access_Token=abc&y=2") == "/x?q=1&Access_Token=***&y=2"
    assert redact_target("/x?anything=ls_srv_secret%2Fpart") == "/x?anything=ls_srv_***"
    assert redact_target("/signup?invitation=lsi_abc") == "/signup?invitation=lsi_***"
    assert redact_target("/reset?token=lsr_abc-_9") == "/reset?token=lsr_***"
    assert redact_target("/reset?t=lsr_abc-_9") == "/reset?t=lsr_***"
    assert redact_target("/o/acme/p/default/flags?page=2") == "/o/acme/p/default/flags?page=2"


@pytest.fixture
def logging_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, LAUNCHSEQ_ACCESS_LOG="true", LAUNCHSEQ_LOG_LEVEL="info")
    yield process.start()
    process.kill()


def test_the_access_log_shows_no_key_or_token(logging_server: ServerProcess) -> None:
    server = logging_server
    e = setup_env(server.url, "log@example.com")
    token = e.user.post("/api/v1/tokens", json={"name": "ci"}).json()["token"]
    ofrep = sdk(server.url, "/ofrep/v1/evaluate/flags", e.server_key,
                {"context": {"targetingKey": "u"}})  # fmt: skip
    events_uri = ofrep.json()["eventStreams"][0]["endpoint"]["requestUri"]
    stream_token = events_uri.partition("token=")[2]
    with stream(server.url, f"/sdk/v1/client/stream?context={CONTEXT}&key={e.client_key}") as s:
        assert s.status == 200
    with stream(server.url, events_uri) as s:
        assert s.status == 200
    refused = sdk(server.url, f"/sdk/v1/snapshot?key={e.server_key}", None)
    assert refused.status_code == 401
    assert httpx.get(f"{server.url}/api/v1/me?token={token}").status_code == 401
    assert httpx.get(f"{server.url}/signup?invitation=lsi_made-up-token").status_code in (200, 422)
    assert httpx.get(f"{server.url}/healthz?marker=end").status_code == 200

    log = ""
    deadline = time.monotonic() + 10  # the access log line is written as the answer starts
    while time.monotonic() < deadline:
        log = server.log_path.read_text(errors="replace")
        if "marker=end" in log:
            break
        time.sleep(0.05)
    assert "marker=end" in log, "the access log is on"
    assert "/sdk/v1/client/stream?context=" in log, "requests are logged, targets included"
    for secret in (e.server_key, e.client_key, token, stream_token, "lsi_made-up-token"):
        assert secret not in log, f"{secret[:8]}... is in the access log"
    assert re.search(r"key=ls_cli_\*\*\*", log) and "token=***" in log
