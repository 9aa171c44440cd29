"""What each `launchseq` command does, once its settings are known."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .config import Settings
from .services.errors import ServiceError

__all__ = ["run"]


def _fail(message: str) -> int:
    print(f"launchseq: {message}", file=sys.stderr)
    return 1


def run(command: str, args: argparse.Namespace, settings: Settings) -> int:
    from .app import create_app
    from .store import migrate
    from .store.db import StoreUnavailable, create_db_engine

    try:
        if command == "migrate":
            from .store.integrity import ensure_intact

            engine = create_db_engine(settings.resolved_database_url)
            ensure_intact(engine)
            migrate.upgrade(engine)
            print("database is up to date")
            return 0
        if command == "serve":
            return _serve(settings)
        if command == "backup":
            from .store.backup import backup_sqlite

            pages = backup_sqlite(settings.resolved_database_url, args.destination)
            print(f"backed up {pages} pages to {args.destination}")
            return 0
        from .account_commands import run_token, run_user  # not loaded by `serve`

        app = create_app(settings)
        services = app.state.services
        if command == "user":
            return run_user(services, args)
        if command == "token":
            return run_token(services, args)
        if command == "export":
            return _export(services, args)
        if command == "import":
            return _import(services, args)
    except ServiceError as exc:
        field = getattr(exc, "field", None)
        return _fail(f"{field}: {exc.message}" if field else exc.message)
    except (StoreUnavailable, OSError) as exc:
        return _fail(str(exc))
    return _fail(f"unknown command {command!r}")


def _export(services: Any, args: argparse.Namespace) -> int:
    import orjson

    actor = services.accounts.actor_for_email(args.email)
    document = services.transfer.export_project(actor, args.org, args.project)
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    target = Path(args.output)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)  # whole or not at all: never a half-written export
    print(f"exported {len(document['flags'])} flags of {args.project} to {target}")
    return 0


def _import(services: Any, args: argparse.Namespace) -> int:
    import orjson

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror}")
    try:
        # orjson, as the API: no NaN or Infinity, no lone surrogates.
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return _fail(f"{args.file} is not valid JSON: {exc}")
    actor = services.accounts.actor_for_email(args.email)
    result = services.transfer.import_project(actor, args.org, document, args.project)
    flags, segments = result["flags"], result["segments"]
    print(
        f"imported project {result['project']}"
        + (" (created)" if result["project_created"] else "")
        + f": flags {flags['created']} created, {flags['updated']} updated, "
        f"{flags['unchanged']} unchanged; segments {segments['created']} created, "
        f"{segments['updated']} updated, {segments['unchanged']} unchanged"
    )
    return 0


def _serve(settings: Settings) -> int:
    import contextlib

    from .app import create_app
    from .descriptors import raise_open_file_limit
    from .serving import make_server

    count, why = settings.worker_plan()
    if count > 1:
        from .workers import serve_workers

        return serve_workers(settings, count, why)
    open_files = raise_open_file_limit()  # before create_app: it sizes the stream limit
    app = create_app(settings)
    server = make_server(settings, app, open_files)
    # One process because 'auto' found one CPU: say so, or an operator who expected workers
    # would have to guess. One asked for explicitly is the plain line it always was.
    automatic = str(settings.workers).strip().lower() == "auto"
    plan = f" (one process; {why})" if automatic else ""
    print(f"Launch Sequence {app.version} listening on {_url(settings)}{plan}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 3  # uvicorn's exit code for a failed start


def _url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"
