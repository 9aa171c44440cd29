"""The `launchseq` command: serve, edge, migrate, user create, token create, backup, export,
import, code-refs, version."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import __version__
from .config import SETTINGS, load_settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    settings_help = "\n".join(f"  {s.env:<44} {s.help}" for s in SETTINGS)
    parser = argparse.ArgumentParser(
        prog="launchseq",
        description="Launch Sequence: self-hostable feature flags.",
        epilog="Settings (environment variables):\n" + settings_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the server (the default)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--database-url", help="database URL (default: SQLite in ./data)")
    serve.add_argument("--data-dir", help="data directory (default ./data)")

    edge = commands.add_parser(
        "edge", help="run an edge node: no database, fed by an upstream's relay stream"
    )
    edge.add_argument("--upstream", required=True, help="URL of the core (or of another edge)")
    edge.add_argument(
        "--key",
        help="the project's relay key (default: the LAUNCHSEQ_RELAY_KEY variable, which keeps "
        "it out of the process list)",
    )
    edge.add_argument("--name", default="", help="a name for the core's list of edges")
    edge.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    edge.add_argument("--port", type=int, help="port to listen on (default 8080)")
    edge.add_argument("--data-dir", help="where the id and the last snapshot are kept")

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--database-url")

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="action")
    create_user = user.add_parser("create", help="create a user with their organization")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--password", required=True)
    create_user.add_argument("--name")
    create_user.add_argument("--database-url")

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action")
    create_token = token.add_parser("create", help="print a new personal API token")
    create_token.add_argument("--email", required=True)
    create_token.add_argument("--name", required=True)
    create_token.add_argument("--database-url")

    backup = commands.add_parser(
        "backup", help="copy the SQLite database to a file while the server runs"
    )
    backup.add_argument("destination", help="the file to write (must not exist)")
    backup.add_argument("--database-url")

    export = commands.add_parser(
        "export", help="print (or write) a project's flags and segments as JSON"
    )
    export.add_argument("--email", required=True, help="act as this user (any role)")
    export.add_argument("--org", required=True)
    export.add_argument("--project", required=True)
    export.add_argument("--output", help="write to this file instead of printing")
    export.add_argument("--database-url")

    import_ = commands.add_parser(
        "import", help="create or update a project's flags and segments from an export"
    )
    import_.add_argument("file", help="the JSON document made by export ('-' reads stdin)")
    import_.add_argument("--email", required=True, help="act as this user (admin or owner)")
    import_.add_argument("--org", required=True)
    import_.add_argument("--project", help="import under this project key instead")
    import_.add_argument("--database-url")

    code_refs = commands.add_parser(
        "code-refs",
        help="find a project's flag keys in a repository's code and upload where they are",
        description="Scan a checkout (what git tracks, or what no .gitignore ignores; "
        "vendored, minified, generated and binary files skipped) for the project's flag keys: "
        "SDK and OpenFeature calls in Python, JavaScript and TypeScript (kind 'call'), whole "
        "string literals anywhere else and in any language ('string'), and mentions in "
        "comments ('comment'). Keys computed at run time (f-strings, template literals) are "
        "listed, not uploaded. The server keeps the latest scan per repository and branch. "
        "The token of an admin comes from an environment variable, never an argument. "
        "Needs no database: only the server's package and a reachable server.",
    )
    from .code_refs.arguments import add_arguments

    add_arguments(code_refs)

    commands.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command = args.command or "serve"
    if command == "version":
        print(__version__)
        return 0
    if command == "code-refs":  # a client of a server: no settings, no database
        from .code_refs.command import run as run_code_refs

        return run_code_refs(args)
    if command in ("user", "token") and not getattr(args, "action", None):
        parser.parse_args([command, "--help"])
    overrides = {
        key: getattr(args, key, None) for key in ("host", "port", "database_url", "data_dir")
    }
    try:
        settings = load_settings(overrides)
    except ValueError as exc:
        print(f"launchseq: {exc}", file=sys.stderr)
        return 2
    # Everything this process creates (database, WAL, backups, exports) is private by default.
    os.umask(0o077)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if command == "edge":  # no database: none of the core's modules are imported
        key = args.key or os.environ.get("LAUNCHSEQ_RELAY_KEY", "")
        if not key:
            print("launchseq: edge needs --key or LAUNCHSEQ_RELAY_KEY", file=sys.stderr)
            return 2
        from .edge.serve import run_edge

        return run_edge(settings, upstream=args.upstream, key=key, name=args.name)
    from .commands import run  # imported late: `version` and `--help` stay fast

    return run(command, args, settings)


if __name__ == "__main__":
    sys.exit(main())
