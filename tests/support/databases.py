"""Databases for tests: a fresh SQLite file, or a fresh PostgreSQL database per use."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["postgres_admin_url", "postgres_database", "require_postgres"]

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("LAUNCHSEQ_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def _driver_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def require_postgres() -> None:
    """Skip when PostgreSQL is unreachable, except in CI, where that is a failure."""
    try:
        engine = create_engine(_driver_url(postgres_admin_url()))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        message = f"PostgreSQL unreachable at {postgres_admin_url()}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a database of our own, yield its URL (postgresql://...), drop it afterwards."""
    require_postgres()
    name = f"launchseq_test_{secrets.token_hex(6)}"
    admin = create_engine(_driver_url(postgres_admin_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'launchsequence.db'}"
