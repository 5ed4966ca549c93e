"""Throwaway databases on the local PostgreSQL server (127.0.0.1:5432, trust auth), for the tests and
benchmarks that must run on the real thing rather than SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@contextmanager
def temporary_database(prefix: str, *, skip_if_absent: bool = True) -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards with any connections still open to it.

    Where no server answers, the calling test is skipped (``skip_if_absent``) or the error raised.
    """
    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"  # generated here, never from input
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if not skip_if_absent:
            raise
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {exc}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
