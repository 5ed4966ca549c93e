"""Binary queue jobs publish their own monitoring events, in the transaction of each state change."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from headrace.jobs import Executor, JobNotOwned
from tests.unit.jobs.conftest import spec


def _events(engine, job_id: str) -> list[tuple]:
    from headrace.db.models import MonitoringEvent

    table = MonitoringEvent.__table__
    query = (
        sa.select(table.c.kind, table.c.status, table.c.source, table.c.metrics, table.c.metadata)
        .where(table.c.entity_id == job_id)
        .order_by(table.c.id)
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _tracked(engine, job_id: str) -> dict:
    from headrace.db.models import TrackedEntity

    table = TrackedEntity.__table__
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(table).where(table.c.entity_id == job_id)).mappings().one())


def test_a_completed_job_is_a_job_that_started_and_succeeded(queue, engine, clock):
    job = queue.submit(spec(type="transcode"))
    clock.advance(5)
    queue.claim(Executor("worker-1"))
    clock.advance(12.5)
    queue.complete(job.id, "worker-1", stdout="ok", exit_code=0)

    events = _events(engine, job.id)
    assert [(kind, status, source) for kind, status, source, _, _ in events] == [
        ("progress", None, "job_queue"),
        ("started", "running", "job_queue"),
        ("finished", "succeeded", "job_queue"),
    ]
    assert events[1][4]["executor_id"] == "worker-1" and events[1][4]["attempt"] == 1
    assert events[2][3] == {"duration_s": 12.5}
    assert events[2][4]["exit_code"] == 0
    tracked = _tracked(engine, job.id)
    assert (tracked["entity_type"], tracked["app_name"], tracked["job_key"]) == ("job", "transcode", job.id)
    assert (tracked["status"], tracked["duration_s"]) == ("succeeded", 12.5)


def test_failed_and_cancelled_jobs(queue, engine, clock):
    failing = queue.submit(spec())
    clock.advance(1)
    waiting = queue.submit(spec())
    queue.claim(Executor("e"))
    clock.advance(2)
    queue.fail(failing.id, "e", exit_code=3, error_message="exit status 3")
    queue.cancel(waiting.id)

    *_, (kind, status, _, _, metadata) = _events(engine, failing.id)
    assert (kind, status, metadata["exit_code"], metadata["error_message"]) == (
        "finished",
        "failed",
        3,
        "exit status 3",
    )
    *_, (kind, status, *_) = _events(engine, waiting.id)
    assert (kind, status) == ("canceled", "canceled")
    assert _tracked(engine, failing.id)["status"] == "failed"
    assert _tracked(engine, waiting.id)["status"] == "canceled"


def test_a_rescued_job_is_retried_and_refused_calls_publish_nothing(queue, engine, clock):
    job = queue.submit(spec())
    queue.claim(Executor("lost"))
    clock.advance(61)
    assert queue.rescue() == 1
    queue.claim(Executor("second"))
    before = _events(engine, job.id)
    with pytest.raises(JobNotOwned):  # the old owner: refused, nothing published
        queue.complete(job.id, "lost")
    assert _events(engine, job.id) == before
    queue.complete(job.id, "second", exit_code=0)

    kinds = [
        (kind, status, metadata.get("attempt")) for kind, status, _, _, metadata in _events(engine, job.id)
    ]
    assert kinds == [
        ("progress", None, None),
        ("started", "running", 1),
        ("progress", "running", None),  # back in the queue after attempt 1 was lost
        ("started", "running", 2),
        ("finished", "succeeded", 2),
    ]
    assert _tracked(engine, job.id)["status"] == "succeeded"
