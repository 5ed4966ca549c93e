"""EventLog against SQLite and a temporary PostgreSQL database: idempotency, fold, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from sqlalchemy import select

from headrace.db.models import TrackedEntity, metadata
from headrace.events.log import EventLog
from headrace.events.model import MonitoringEvent
from tests.postgres import temporary_database

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'log.db'}")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    with temporary_database("headrace_events") as url:
        engine = sqlalchemy.create_engine(url, pool_size=10)
        metadata.create_all(engine)
        yield engine
        engine.dispose()


def ev(key, kind, at, *, entity="j1", type_="job", status=None, parent=None, metrics=None, meta=None):
    return MonitoringEvent.model_validate(
        {
            "idempotency_key": key,
            "site_id": "s1",
            "app": {"name": "etl", "app_id": "a1", "version": "1.0"},
            "entity": {"type": type_, "id": entity, "parent_id": parent, "business_key": "bk"},
            "event": {
                "kind": kind,
                "at": (T0 + timedelta(seconds=at)).isoformat(),
                "status": status,
                "metrics": metrics or {},
                "metadata": meta or {},
            },
        }
    )


def entity(engine, entity_id, type_="job"):
    with engine.connect() as c:
        t = TrackedEntity.__table__
        return c.execute(select(t).where(t.c.entity_id == entity_id, t.c.entity_type == type_)).one()._mapping


def test_duplicates_are_accepted_and_change_nothing(engine):
    log = EventLog(engine)
    first = log.append([ev("k1", "started", 0), ev("k2", "progress", 5)])
    assert [e.idempotency_key for e in first.stored] == ["k1", "k2"] and first.duplicates == 0
    again = log.append([ev("k1", "started", 0), ev("k2", "progress", 5), ev("k3", "finished", 9)])
    assert [e.idempotency_key for e in again.stored] == ["k3"] and again.duplicates == 2
    assert log.last_id() == again.stored[0].id
    assert [e.idempotency_key for e in log.read_after(0)] == ["k1", "k2", "k3"]
    assert [e.idempotency_key for e in log.read_after(first.stored[0].id, limit=1)] == ["k2"]


def test_fold_orders_by_at_not_arrival(engine):
    log = EventLog(engine)
    # finished first, a late progress, then started: still one complete, succeeded row.
    log.append([ev("f", "finished", 60, metrics={"duration_s": 60, "mem_max_mb": 10}, meta={"a": 1})])
    log.append([ev("p", "progress", 30, metrics={"mem_max_mb": 42.5, "cpu_user_s": 3}, meta={"b": 2})])
    log.append([ev("s", "started", 0)])
    row = entity(engine, "j1")
    assert row["status"] == "succeeded"
    assert row["started_at"].replace(tzinfo=UTC) == T0
    assert row["ended_at"].replace(tzinfo=UTC) == T0 + timedelta(seconds=60)
    assert (row["duration_s"], row["mem_max_mb"], row["cpu_user_s"]) == (60, 42.5, 3)
    assert row["metadata"] == {"a": 1, "b": 2}
    assert row["job_key"] == "bk" and row["app_name"] == "etl" and not row["placeholder"]


def test_unknown_parent_gets_a_placeholder_filled_in_later(engine):
    log = EventLog(engine)
    log.append([ev("c1", "started", 1, entity="sub1", type_="subjob", parent="p9")])
    parent = entity(engine, "p9")
    assert parent["placeholder"] and parent["status"] is None
    log.append([ev("p1", "started", 0, entity="p9")])
    parent = entity(engine, "p9")
    assert not parent["placeholder"] and parent["status"] == "running"
    assert entity(engine, "sub1", "subjob")["parent_id"] == "p9"


def test_concurrent_appends_lose_nothing(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers")
    log = EventLog(engine)
    errors = []

    def worker(n):
        try:
            for i in range(10):
                at = n * 10 + i
                log.append([ev(f"w{n}-{i}", "progress", at, metrics={"mem_max_mb": at})])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(log.read_after(0, limit=100)) == 40
    assert entity(engine, "j1")["mem_max_mb"] == 39


def test_one_batch_folds_many_entities_with_existing_rows(engine):
    log = EventLog(engine)
    log.append([ev(f"a{i}", "started", i, entity=f"m{i}") for i in range(5)])
    result = log.append(
        [ev(f"b{i}", "error", 100 + i, entity=f"m{i}") for i in range(5)]
        + [ev("late", "progress", 1000, entity="m0")]
    )
    assert len(result.stored) == 6
    assert {entity(engine, f"m{i}")["status"] for i in range(5)} == {"failed"}
