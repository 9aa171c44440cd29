"""A private, real PostgreSQL cluster for fault tests: started, stopped and started again.

The machine's shared PostgreSQL must never be stopped (other tests use it in parallel), so a
test that takes the database away runs its own: `initdb` in a temporary directory, listening on
a free loopback port with its unix socket in that directory, trust authentication. PostgreSQL
refuses to run as root, so as root every command runs as the `postgres` user. Every wait is
bounded (`pg_ctl -w -t`) and the cluster is always stopped and removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import free_port

__all__ = ["PostgresCluster", "postgres_cluster"]

BIN_DIRS = tuple(f"/usr/lib/postgresql/{major}/bin" for major in (15, 16, 17))
WAIT_SECONDS = 60  # pg_ctl's own bound on a start or a stop
RUN_AS = "postgres"  # when we are root


def _bin_dir() -> Path | None:
    configured = os.environ.get("LAUNCHSEQ_TEST_PG_BIN")
    for candidate in ([configured] if configured else []) + list(BIN_DIRS):
        if candidate and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PostgresCluster:
    """One cluster in `root` (a directory this object creates and removes)."""

    def __init__(self, bin_dir: Path, root: Path, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.run_as = run_as
        self.port = free_port()
        self.running = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = WAIT_SECONDS + 30) -> str:
        command = [str(self.bin_dir / tool), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{self.log_tail()}"
            )
        return done.stdout

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                # A crash of the server process (stop -m immediate) loses WAL still in its
                # buffers when commits do not wait for it: keep synchronous_commit on, so an
                # acknowledged commit survives as it would in production. fsync may stay off:
                # the machine itself does not crash, and the OS keeps what was written.
                "fsync = off\nfull_page_writes = off\n"
                "max_connections = 100\nshared_buffers = 16MB\n"
            )

    def start(self) -> None:
        """Start on the same data directory and port (waits until it accepts connections)."""
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log),
                  "-w", "-t", str(WAIT_SECONDS))  # fmt: skip
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        """`pg_ctl stop -m mode`: immediate is a crash (no goodbye to clients), fast is an
        orderly shutdown that disconnects them."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode,
                  "-w", "-t", str(WAIT_SECONDS))  # fmt: skip
        self.running = False

    def create_database(self, name: str) -> str:
        sql = f'CREATE DATABASE "{name}"'
        self._run("psql", "-X", "-q", "-h", str(self.root), "-p", str(self.port),
                  "-U", "postgres", "-d", "postgres", "-c", sql)  # fmt: skip
        return self.url(name)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        """Stop it if it runs (SIGKILL to the postmaster we started if pg_ctl fails), remove
        its directory."""
        try:
            if self.running or self._postmaster_pid() is not None:
                self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            pid = self._postmaster_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started private cluster; skipped with the reason when PostgreSQL's binaries are not
    installed (or, as root, there is no `postgres` user to run them)."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").is_file():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as: str | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(RUN_AS)
        except KeyError:
            pytest.skip(f"running as root and there is no {RUN_AS!r} user to run PostgreSQL")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and `runuser` is missing")
        run_as = RUN_AS
    # Not pytest's tmp_path: it is private to root, and the postgres user must reach it. The
    # unix socket lives here too, so the path stays short.
    root = Path(tempfile.mkdtemp(prefix="lspg-"))
    if run_as:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bin_dir, root, run_as)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
