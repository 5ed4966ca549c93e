"""PostgreSQL's bulk statements and SQLite's generic ones store the same log and fold the same jobs.

The event log takes a different path per database (one JSON document per statement on PostgreSQL,
SQLAlchemy Core's upserts on SQLite); a user sees the same jobs table on either. Random events for
a few jobs and subjobs (every kind and status, late and out-of-order events, metrics, metadata, a
subjob whose job never reports, keys repeated within and across batches) are appended in the same
random batches to both (non-ASCII text too), and every stored event and every folded row is compared.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from sqlalchemy import select

from headrace.db.dialect import aware
from headrace.db.models import MonitoringEvent as EventRow
from headrace.db.models import TrackedEntity, metadata
from headrace.events.log import EventLog
from headrace.events.model import MonitoringEvent
from tests.postgres import temporary_database

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KINDS = {
    "started": [None, "running"],
    "progress": [None, "running"],
    "metric": [None],
    "finished": [None, "succeeded", "failed", "canceled"],
    "error": [None, "failed"],
    "canceled": [None, "canceled"],
}


def random_events(rng: random.Random, count: int) -> list[MonitoringEvent]:
    jobs = [f"job-{n}" for n in range(6)]
    events = []
    for _ in range(count):
        kind = rng.choice(list(KINDS))
        subjob = rng.random() < 0.4
        parent = rng.choice([*jobs, "never-reports"])
        metrics = {
            name: rng.choice([0, 1.5, rng.randint(0, 500)])
            for name in ("duration_s", "cpu_user_s", "cpu_system_s", "mem_max_mb", "rows")
            if rng.random() < 0.5
        }
        item = {
            # a few keys repeat: their first event is stored, the others are duplicates
            "idempotency_key": f"k{rng.randint(0, count * 4 // 5)}",
            "site_id": rng.choice(["s1", "s2"]),
            "app": {
                "name": rng.choice(["etl", "ml", "Zürich ☃ 😀"]),
                "app_id": rng.choice([None, "a1"]),
                "version": "1",
            },
            "entity": {
                "type": "subjob" if subjob else "job",
                "id": f"sub-{rng.randint(0, 5)}" if subjob else rng.choice(jobs),
                "parent_id": parent if subjob else None,
                "business_key": rng.choice([None, "bk1", "bk2"]),
                "sub_key": rng.choice([None, "part-1"]) if subjob else None,
            },
            "event": {
                "kind": kind,
                # seconds apart, some equal: ties are broken by status name
                "at": (T0 + timedelta(seconds=rng.randint(0, 40))).isoformat(),
                "status": rng.choice(KINDS[kind]),
                "metrics": metrics,
                # null, nested and boolean values too: a key set to null is kept on both
                "metadata": {
                    rng.choice("abé"): rng.choice([0, 7, "naïve 😀", None, True, {"n": [1, None]}])
                    for _ in range(rng.randint(0, 2))
                },
            },
        }
        events.append(MonitoringEvent.model_validate(item))
    return events


def batches(rng: random.Random, events: list[MonitoringEvent]) -> list[list[MonitoringEvent]]:
    out, start = [], 0
    while start < len(events):
        size = rng.choice([1, 3, 20, 120])
        out.append(events[start : start + size])
        start += size
    return out


def stored(engine: sqlalchemy.Engine) -> tuple[list[dict], list[dict]]:
    events, entities = EventRow.__table__, TrackedEntity.__table__
    with engine.connect() as connection:
        log = [
            {k: v for k, v in row._mapping.items() if k not in ("id", "inserted_at")}
            for row in connection.execute(select(events).order_by(events.c.id))
        ]
        jobs = [
            {k: v for k, v in row._mapping.items() if k not in ("inserted_at", "updated_at")}
            for row in connection.execute(
                select(entities).order_by(entities.c.site_id, entities.c.entity_type, entities.c.entity_id)
            )
        ]
    for row in log + jobs:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = aware(value)
    return log, jobs


@pytest.mark.parametrize("seed", range(1, 9))
def test_postgresql_and_sqlite_fold_the_same_jobs(seed, tmp_path):
    rng = random.Random(seed)
    plan = batches(rng, random_events(rng, 400))
    lite = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    metadata.create_all(lite)
    with temporary_database("headrace_fold") as url:
        pg = sqlalchemy.create_engine(url)
        metadata.create_all(pg)
        try:
            answers = []
            for engine in (lite, pg):
                log = EventLog(engine)
                answers.append([(len(r.stored), r.duplicates) for r in map(log.append, plan)])
            assert answers[0] == answers[1]
            lite_log, lite_jobs = stored(lite)
            pg_log, pg_jobs = stored(pg)
            assert pg_log == lite_log
            assert pg_jobs == lite_jobs
            assert any(row["placeholder"] for row in pg_jobs)  # "never-reports" stayed one
            assert {row["status"] for row in pg_jobs} >= {"succeeded", "failed", "canceled"}
        finally:
            pg.dispose()
            lite.dispose()
