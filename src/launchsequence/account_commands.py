"""`launchseq user ...` and `launchseq token ...`: what an operator does to accounts."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

__all__ = ["run_token", "run_user"]


def _when(ms: int | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if ms else "-"


def read_password(from_stdin: bool) -> str | None:
    """The new user's password: the first line of standard input, or typed twice at a prompt
    (not echoed). None, with the reason printed, when neither can be had."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        print(
            "launchseq: no terminal to ask for the password: pipe it in with --password-stdin",
            file=sys.stderr,
        )
        return None
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password, again: ") != first:
        print("launchseq: the two passwords differ", file=sys.stderr)
        return None
    return first


def run_user(services: Any, args: argparse.Namespace) -> int:
    if args.action == "create":
        password = read_password(args.password_stdin)
        if password is None:
            return 1
        actor = services.accounts.create_user(email=args.email, password=password, name=args.name)
        orgs = services.orgs.list_orgs(actor)
        print(f"created {actor.email} with organization {orgs[0]['key']}")
        return 0
    if args.action == "list":
        users = services.users.list_users()
        print(f"{'id':>5}  {'email':<32} {'state':<9} {'created':<16}  organizations")
        for u in users:
            state = "disabled" if u["disabled_at"] else "active"
            orgs = ", ".join(u["organizations"]) or "-"
            print(f"{u['id']:>5}  {u['email']:<32} {state:<9} {_when(u['created_at'])}  {orgs}")
        return 0
    if args.action in ("disable", "enable"):
        changed = services.users.set_disabled(args.email, args.action == "disable")
        state = "disabled" if args.action == "disable" else "enabled"
        print(f"{args.email.strip().lower()} is {state}" + ("" if changed else " (it already was)"))
        return 0
    if args.action == "reset-second-factor":
        done = services.users.clear_second_factor(args.email)
        email = args.email.strip().lower()
        print(f"turned off the second factor of {email}" if done else f"{email} had none")
        return 0
    if args.action == "reset-password":
        print(services.recovery.reset_link(args.email, args.base_url))
        return 0
    return 2


def run_token(services: Any, args: argparse.Namespace) -> int:
    if args.action == "create":
        print(services.accounts.create_token_for_email(args.email, args.name))
        return 0
    if args.action == "list":
        tokens = services.users.list_tokens(args.email)
        print(f"{'id':>5}  {'user':<32} {'name':<20} {'prefix':<13} {'created':<16}  last used")
        for t in tokens:
            print(
                f"{t['id']:>5}  {t['email']:<32} {t['name']:<20} {t['prefix'] + '…':<13} "
                f"{_when(t['created_at'])}  {_when(t['last_used_at'])}"
            )
        return 0
    if args.action == "revoke":
        token = services.users.revoke_token(args.id)
        print(f"revoked token {token['id']} ({token['name']}) of {token['email']}")
        return 0
    return 2
