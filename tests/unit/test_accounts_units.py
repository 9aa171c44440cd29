"""Account helpers without a server: mail settings are checked at start, devices are named
from their User-Agent."""

from __future__ import annotations

import pytest

from launchsequence.config import load_settings
from launchsequence.services.devices import describe_device


def test_mail_settings_are_checked_when_loaded():
    smtp = {"LAUNCHSEQ_SMTP_HOST": "smtp.example.net"}
    with pytest.raises(ValueError, match="LAUNCHSEQ_MAIL_FROM"):
        load_settings(environ={**smtp, "LAUNCHSEQ_BASE_URL": "https://flags.example.com"})
    with pytest.raises(ValueError, match="LAUNCHSEQ_BASE_URL"):
        load_settings(environ={**smtp, "LAUNCHSEQ_MAIL_FROM": "flags@example.com"})
    with pytest.raises(ValueError, match="none, starttls, tls"):
        load_settings(environ={"LAUNCHSEQ_SMTP_TLS": "ssl"})
    settings = load_settings(
        environ={
            **smtp,
            "LAUNCHSEQ_MAIL_FROM": "flags@example.com",
            "LAUNCHSEQ_BASE_URL": "https://flags.example.com",
            "LAUNCHSEQ_SMTP_PASSWORD": "hunter2-secret",
            "LAUNCHSEQ_SMTP_PORT": "465",
            "LAUNCHSEQ_SMTP_TLS": "tls",
        }
    )
    assert (settings.smtp_port, settings.smtp_tls) == (465, "tls")
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(settings)
    assert load_settings(environ={}).smtp_host == "", "no email unless configured"


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
         "Firefox on Linux"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.5 Safari/605.1.15", "Safari on macOS"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.28.1", "Python"),
        ("", "Unknown device"),
        (None, "Unknown device"),
        ("something else entirely", "Unknown device"),
    ],
)  # fmt: skip
def test_devices_are_named_from_their_user_agent(agent, device):
    assert describe_device(agent) == device
