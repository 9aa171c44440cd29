"""`launchseq serve` on a data directory it cannot use: a clear one-line error, never a traceback.

Tests run as root in CI, where `chmod` stops nothing; there a small tmpfs is mounted as the data
directory instead: remounted read-only for a read-only directory, left tiny (or filled) for a
full disk. Where mounting is not permitted those cases are skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.support import LAUNCHSEQ, clean_env
from tests.support.live import free_port


def serve(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`launchseq serve` expected to give up at start (a server that starts fails the test)."""
    try:
        return subprocess.run(
            [*LAUNCHSEQ, "serve", "--port", str(free_port())],
            env=clean_env(data_dir, **env),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the server started on a data directory it cannot use")


def assert_clear_failure(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("launchseq: "), line
    for text in expected:
        assert text in line, line
    return line


Mount = Callable[[str], Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """mount(size): a fresh tmpfs of that size (like "64k"); unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def make_read_only(directory: Path, how: str) -> None:
    if how == "chmod":
        directory.chmod(0o500)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)


@pytest.fixture(params=["chmod", "tmpfs"])
def read_only_dir(request: pytest.FixtureRequest, tmp_path: Path, tmpfs: Mount) -> Iterator[Path]:
    """An empty directory this process cannot write, with the technique that works here."""
    if request.param == "chmod":
        if os.geteuid() == 0:
            pytest.skip("root writes through chmod 0o500")
        directory = tmp_path / "ro"
        directory.mkdir()
    else:
        directory = tmpfs("1m")
    request.node.technique = request.param
    yield directory
    if request.param == "chmod":
        directory.chmod(0o700)


def test_data_dir_under_a_file(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert_clear_failure(serve(blocked / "data"), str(blocked))


def test_read_only_data_dir_without_a_secret(
    read_only_dir: Path, request: pytest.FixtureRequest
) -> None:
    make_read_only(read_only_dir, request.node.technique)
    line = assert_clear_failure(serve(read_only_dir), str(read_only_dir / "secret_key"))
    assert "ead-only" in line or "ermission" in line


def test_read_only_data_dir_with_a_configured_secret(
    read_only_dir: Path, request: pytest.FixtureRequest
) -> None:
    make_read_only(read_only_dir, request.node.technique)
    assert_clear_failure(
        serve(read_only_dir, LAUNCHSEQ_SECRET_KEY="s"), str(read_only_dir / "launchsequence.db")
    )


def test_read_only_data_dir_with_an_existing_database(
    read_only_dir: Path, request: pytest.FixtureRequest
) -> None:
    created = subprocess.run(
        [*LAUNCHSEQ, "user", "create", "--email", "ro@example.com", "--password-stdin"],
        env=clean_env(read_only_dir),
        input="passw0rd!\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert (read_only_dir / "secret_key").exists()
    make_read_only(read_only_dir, request.node.technique)
    assert_clear_failure(serve(read_only_dir), str(read_only_dir / "launchsequence.db"))


def test_disk_too_small_for_the_database(tmpfs: Mount) -> None:
    data = tmpfs("64k")
    line = assert_clear_failure(
        serve(data, LAUNCHSEQ_SECRET_KEY="s"), str(data / "launchsequence.db")
    )
    assert "full" in line


def test_full_disk_leaves_no_empty_secret_behind(tmpfs: Mount) -> None:
    data = tmpfs("64k")
    fd = os.open(data / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    line = assert_clear_failure(serve(data), str(data / "secret_key"))
    assert "No space left" in line
    # Before the fix an empty secret_key stayed behind, and the next start used "" as the key.
    assert sorted(p.name for p in data.iterdir()) == ["filler"]


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("\n")
    assert_clear_failure(serve(data), str(data / "secret_key"), "empty")
