"""Queue core fixtures: a fresh queue per test on SQLite and on PostgreSQL, with a clock to move."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.postgres import temporary_database

SHA = "a" * 64
URL = "https://example.com/binary"


class Clock:
    """Time as the queue sees it; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def _sqlite(tmp_path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    from headrace.db.models import metadata

    database = temporary_database("headrace_jobs") if request.param == "postgresql" else _sqlite(tmp_path)
    with database as url:
        options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_size": 10}
        engine = sa.create_engine(url, **options)
        metadata.create_all(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(engine, clock):
    from headrace.jobs import JobQueue, QueueSettings

    return JobQueue(
        engine, QueueSettings(heartbeat_timeout=60, max_attempts=3, allowlist=["https://"]), clock=clock
    )


def spec(**fields) -> dict:
    return {
        "type": "data-processing",
        "binary_url": URL,
        "binary_sha256": SHA,
        "priority": "background",
        **fields,
    }
