"""The `launchseq` command: serve, edge, migrate, user (create, list, disable, enable,
reset-password, reset-second-factor), token (create, list, revoke), backup, export,
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
    serve.add_argument(
        "--workers",
        help="processes serving the port: a number, or 'auto' for one per CPU this process may "
        "use, its affinity and cgroup quota considered (default auto)",
    )

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
    create_user = user.add_parser(
        "create",
        help="create a user with their organization",
        description="Create a user with their own organization (project `default`, "
        "environments `production` and `staging`). The password is asked for at a prompt, "
        "or read from standard input with --password-stdin; never from an argument, where "
        "the process list and shell history would keep it.",
    )
    create_user.add_argument("--email", required=True, help="their email (the log-in name)")
    create_user.add_argument("--name", help="their name (default: the email's local part)")
    create_user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (its first line) instead of a prompt",
    )
    create_user.add_argument("--database-url")
    list_users = user.add_parser("list", help="list users, their organizations and state")
    list_users.add_argument("--database-url")
    disable = user.add_parser(
        "disable",
        help="stop a user from logging in; end their sessions; refuse their API tokens",
    )
    disable.add_argument("--email", required=True)
    disable.add_argument("--database-url")
    enable = user.add_parser("enable", help="let a disabled user log in again")
    enable.add_argument("--email", required=True)
    enable.add_argument("--database-url")
    reset = user.add_parser(
        "reset-password",
        help="print a one-time link to choose a new password (for servers without email)",
        description="Print a link that lets the user choose a new password: it works once, "
        "for 30 minutes. Hand it to them over a channel you trust. The link starts with "
        "--base-url, or LAUNCHSEQ_BASE_URL.",
    )
    reset.add_argument("--email", required=True)
    reset.add_argument("--base-url", help="public URL of the server (default LAUNCHSEQ_BASE_URL)")
    reset.add_argument("--database-url")

    clear = user.add_parser(
        "reset-second-factor",
        help="turn off a user's second factor (a lost phone and lost recovery codes)",
    )
    clear.add_argument("--email", required=True)
    clear.add_argument("--database-url")

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action")
    create_token = token.add_parser("create", help="print a new personal API token")
    create_token.add_argument("--email", required=True, help="the user the token acts as")
    create_token.add_argument("--name", required=True, help="what it is for, like 'ci'")
    create_token.add_argument("--database-url")
    list_tokens = token.add_parser(
        "list", help="list personal API tokens (id, owner, name, prefix, last used)"
    )
    list_tokens.add_argument("--email", help="only this user's tokens")
    list_tokens.add_argument("--database-url")
    revoke_token = token.add_parser("revoke", help="revoke a personal API token by its id")
    revoke_token.add_argument("id", type=int, help="the token's id, as `token list` shows it")
    revoke_token.add_argument("--database-url")

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
    import_.add_argument(
        "--email", required=True, help="act as this user (admin or owner of the project)"
    )
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
        key: getattr(args, key, None)
        for key in ("host", "port", "database_url", "data_dir", "base_url", "workers")
    }
    try:
        settings = load_settings(overrides)
        if command == "serve":
            settings.worker_count()  # a wrong value is refused before anything starts
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
        from .edge.wire import UpstreamConfigError

        try:
            return run_edge(settings, upstream=args.upstream, key=key, name=args.name)
        except UpstreamConfigError as exc:
            print(f"launchseq: {exc}", file=sys.stderr)
            return 2
    from .commands import run  # imported late: `version` and `--help` stay fast

    return run(command, args, settings)


if __name__ == "__main__":
    sys.exit(main())
