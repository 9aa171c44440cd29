"""`launchseq serve --workers N`: a master process and N forked workers serving one port.

The master does, once, what must happen once: it generates (or reads) the secret, checks the
database and applies migrations, raises the open-file limit, makes a private run directory
under the data directory, and binds N listening sockets on HOST:PORT with SO_REUSEPORT, one
per worker slot. It then forks a worker per slot; each builds the application (no migration)
and serves its slot's socket. The kernel spreads new connections over the N sockets, and the
master keeps every socket open while its worker restarts, so connections that arrive then wait
in its queue instead of being refused.

Workers die with the master (PR_SET_PDEATHSIG: they get SIGTERM and drain, even when the
master is killed outright). SIGTERM or SIGINT to the master is passed to every worker as
SIGTERM, waited for (`STOP_SECONDS`), then SIGKILL. A worker that ends while the master is not
stopping is logged and started again after a delay that doubles from 0.5 s up to 30 s while it
keeps failing within a minute of its start.

Workers are kept in step by the change feed: LISTEN/NOTIFY on PostgreSQL, Unix datagram
sockets in the run directory on SQLite (`realtime/siblings.py`). Metrics are shared through
prometheus_client's multiprocess mode (`metrics.py`), in the run directory too.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import Settings
from .metrics import MULTIPROC_ENV
from .realtime.siblings import WorkerSlot

__all__ = ["STOP_SECONDS", "run_root", "serve_workers"]

log = logging.getLogger("launchsequence.workers")

#: How long the master waits for its workers to drain after SIGTERM (uvicorn's graceful
#: shutdown takes up to 5 s) before it kills them.
STOP_SECONDS = 10.0
_FIRST_DELAY = 0.5
_MAX_DELAY = 30.0
#: A worker that ran this long before it ended is restarted after the first delay again.
_STEADY_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
#: sun_path holds 108 bytes on Linux, its terminating NUL included.
_MAX_SOCKET_PATH = 104


def run_root(data_dir: str | Path) -> Path:
    """Where masters keep their run directories (one per master, named by its pid)."""
    return Path(data_dir) / "run"


class _Slot:
    def __init__(self, index: int, sock: socket.socket) -> None:
        self.index = index
        self.sock = sock
        self.pid = 0
        self.started = 0.0
        self.delay = _FIRST_DELAY
        self.restart_at: float | None = 0.0  # start at once


def serve_workers(settings: Settings, count: int, why: str = "") -> int:
    """Run the master until SIGTERM or SIGINT; the exit status of `launchseq serve`. `why`
    (`Settings.worker_plan`) is printed with the count on the startup line."""
    from . import __version__
    from .descriptors import raise_open_file_limit
    from .store import migrate
    from .store.db import create_db_engine
    from .store.files import secure_data_dir
    from .store.integrity import ensure_intact

    settings = settings.with_secret()  # once, so that every worker has the same one
    secure_data_dir(Path(settings.data_dir))
    engine = create_db_engine(settings.resolved_database_url)
    try:
        ensure_intact(engine)
        migrate.upgrade(engine)  # once, before any worker starts
    finally:
        engine.dispose()  # no connection crosses a fork
    open_files = raise_open_file_limit()
    from . import (
        app,  # noqa: F401 - imported once here, shared by every fork
        serving,  # noqa: F401
    )

    run_dir = _make_run_dir(settings.data_dir)
    sockets_dir = _sockets_dir(run_dir)
    try:
        try:
            _probe(settings.host, settings.port)
            sockets = [_listen(settings.host, settings.port) for _ in range(count)]
        except OSError as exc:
            print(f"launchseq: cannot listen on {settings.host}:{settings.port}: {exc}",
                  file=sys.stderr)  # fmt: skip
            return 3
        _share_metrics(run_dir)
        url = f"http://{settings.host}:{settings.port}"
        plan = f"{count} workers; {why}" if why else f"{count} workers"
        print(f"Launch Sequence {__version__} listening on {url} ({plan})", flush=True)
        slots = [_Slot(i, s) for i, s in enumerate(sockets)]
        return _supervise(settings, slots, run_dir, sockets_dir, open_files)
    finally:
        shutil.rmtree(sockets_dir, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def _make_run_dir(data_dir: str) -> Path:
    """A fresh private directory for this master, after removing those of masters that are
    gone (killed: nothing removed theirs)."""
    root = run_root(data_dir)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for entry in root.iterdir():
        if entry.name.isdigit() and not _alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
    run_dir = root / str(os.getpid())
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(mode=0o700)
    (run_dir / "metrics").mkdir(mode=0o700)
    return run_dir


def _sockets_dir(run_dir: Path) -> Path:
    """The workers' wake-up sockets' directory: in the run directory, unless a socket's path
    there would pass the system's limit (108 bytes on Linux); then a private temporary one."""
    sockets = run_dir / "sockets"
    if len(os.fsencode(sockets / "999.sock")) < _MAX_SOCKET_PATH:
        sockets.mkdir(mode=0o700)
        return sockets
    return Path(tempfile.mkdtemp(prefix="launchseq-"))  # 0700


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _probe(host: str, port: int) -> None:
    """Fail (OSError) if anything listens on the port already, another server's SO_REUSEPORT
    sockets included: without this check a second server would silently share its port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _share_metrics(run_dir: Path) -> None:
    """Multiprocess metrics from here on: set before any worker makes a metric. The variable
    is read when prometheus_client is imported, so the value class is chosen again."""
    os.environ[MULTIPROC_ENV] = str(run_dir / "metrics")
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def _supervise(
    settings: Settings, slots: list[_Slot], run_dir: Path, sockets_dir: Path, open_files: Any
) -> int:
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _: stopping.append(signum))
    master = os.getpid()
    while not stopping:
        now = time.monotonic()
        for slot in slots:
            if slot.pid == 0 and slot.restart_at is not None and now >= slot.restart_at:
                slot.pid = _fork(settings, slot, slots, sockets_dir, open_files, master)
                slot.started = time.monotonic()
                slot.restart_at = None
        _reap(slots, run_dir, restart=True)
        time.sleep(0.1)
    for slot in slots:
        if slot.pid:
            _signal(slot.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while any(slot.pid for slot in slots) and time.monotonic() < deadline:
        _reap(slots, run_dir, restart=False)
        time.sleep(0.05)
    for slot in slots:
        if slot.pid:
            log.warning("worker %d (pid %d) did not stop in time; killing it", slot.index,
                        slot.pid)  # fmt: skip
            _signal(slot.pid, signal.SIGKILL)
            os.waitpid(slot.pid, 0)
            slot.pid = 0
    return 0


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap(slots: list[_Slot], run_dir: Path, *, restart: bool) -> None:
    """Collect ended workers; when `restart`, schedule each ended one to start again."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        slot = next((s for s in slots if s.pid == pid), None)
        if slot is None:
            continue
        slot.pid = 0
        _forget_metrics(run_dir, pid)
        if not restart:
            continue
        ran = time.monotonic() - slot.started
        if ran >= _STEADY_SECONDS:
            slot.delay = _FIRST_DELAY
        how = (
            f"was killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exited with status {os.WEXITSTATUS(status)}"
        )
        log.error("worker %d (pid %d) %s after %.1f s; restarting it in %.1f s", slot.index,
                  pid, how, ran, slot.delay)  # fmt: skip
        slot.restart_at = time.monotonic() + slot.delay
        slot.delay = min(slot.delay * 2, _MAX_DELAY)


def _forget_metrics(run_dir: Path, pid: int) -> None:
    """A dead worker's live gauges (open streams, its stream limit) stop counting."""
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid, str(run_dir / "metrics"))  # type: ignore[no-untyped-call]


def _fork(
    settings: Settings,
    slot: _Slot,
    slots: list[_Slot],
    sockets_dir: Path,
    open_files: Any,
    master: int,
) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        status = _worker(settings, slot, slots, sockets_dir, open_files, master)
    except BaseException:  # the worker's last word, then its exit status
        log.exception("worker %d failed", slot.index)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _worker(
    settings: Settings,
    slot: _Slot,
    slots: list[_Slot],
    sockets_dir: Path,
    open_files: Any,
    master: int,
) -> int:
    """In the forked child: serve the slot's socket until told to stop."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent()
    if os.getppid() != master:  # the master died before the line above
        return 0
    for other in slots:
        if other is not slot:
            other.sock.close()
    from .app import create_app
    from .serving import make_server

    app = create_app(settings, apply_migrations=False, worker=WorkerSlot(slot.index, sockets_dir))
    server = make_server(settings, app, open_files)
    server.run(sockets=[slot.sock])
    return 0 if server.started else 3


def _die_with_parent() -> None:
    """Have the kernel send SIGTERM to this process when the master ends (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)  # the C library this process already has
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("could not tie worker %d to its master", os.getpid())
