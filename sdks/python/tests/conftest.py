"""The SDK's tests run against the real server: reuse the repository's fixtures (`live`), and
`server`, a real server process that a test may kill and start again."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # running `pytest sdks/python/tests` alone
    sys.path.insert(0, str(ROOT))

from sdk_env import ServerProcess  # noqa: E402

from tests.conftest import clock, live, make_settings  # noqa: E402
from tests.support.live import free_port  # noqa: E402

__all__ = ["clock", "live", "make_settings", "server"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", free_port())
    process.start()
    yield process
    process.kill()
