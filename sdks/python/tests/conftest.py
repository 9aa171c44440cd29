"""The SDK's tests run against the real server: reuse the repository's fixtures (`live`)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # running `pytest sdks/python/tests` alone
    sys.path.insert(0, str(ROOT))

from tests.conftest import clock, live, make_settings  # noqa: E402

__all__ = ["clock", "live", "make_settings"]
