"""A person's name for a browser or program, from its User-Agent header: "Firefox on Linux".

Only what a list of one's sessions needs to tell them apart; unknown agents are shown as
"Unknown device", never guessed.
"""

from __future__ import annotations

import re

__all__ = ["describe_device"]

# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", Android says "Linux".
_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(?:HeadlessChrome|Chrome|Chromium|CriOS)/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
    ("curl", re.compile(r"^curl/")),
    ("Python", re.compile(r"^(?:python-httpx|python-requests|Python-urllib)/")),
    ("launchseq", re.compile(r"^launchsequence")),
)
_SYSTEMS = (
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)


def describe_device(user_agent: str | None) -> str:
    """ "Chrome on macOS", "Firefox", "curl", or "Unknown device"."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for name, rx in _BROWSERS if rx.search(user_agent)), None)
    system = next((name for name, rx in _SYSTEMS if rx.search(user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"
