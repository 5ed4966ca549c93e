"""What differs between the metadata databases Headrace writes to: PostgreSQL and SQLite.

Airflow's metadata database is PostgreSQL in production and SQLite on the embedded default; the
event log, the job queue and the trackers write upserts that only those two dialects' ``insert``
constructs express (``ON CONFLICT``), and read back datetimes that SQLite returns without a zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert(connection: Connection, table: Any):
    """``INSERT INTO table`` in the connection's dialect, with ``on_conflict_do_*`` available."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"Headrace's tables need PostgreSQL or SQLite, not {name}")


def aware(moment: datetime) -> datetime:
    """A datetime read from the database, in UTC: SQLite hands back naive values (stored as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
