"""Rescue: a running job whose executor stopped heartbeating goes back to the queue, or fails.

A job is lost when its last heartbeat is older than ``heartbeat_timeout``. Its attempt ends ``lost``
and the job returns to ``pending`` (its ``created_at`` unchanged, so it is claimed next), unless that
was its last allowed attempt (``failed``, saying so) or its cancellation was requested
(``cancelled``). Each job is moved by one conditional UPDATE that repeats the staleness condition, so
any number of rescuers may run at once and a heartbeat that lands first wins. On PostgreSQL an
advisory lock also keeps all but one process from scanning at the same time.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, select, text, update
from sqlalchemy.engine import Connection

from headrace.db.models import JobAttempt, JobExecutor, QueuedJob
from headrace.jobs import events
from headrace.jobs.models import AttemptStatus, Status

log = logging.getLogger(__name__)

JOBS = QueuedJob.__table__
ATTEMPTS = JobAttempt.__table__
EXECUTORS = JobExecutor.__table__
_ADVISORY_KEY = 0x68656164  # "head": any constant; PostgreSQL advisory locks are plain integers
_LOCAL = threading.Lock()  # SQLite (one writer at a time anyway): one rescuer per process


def rescue_lost_jobs(
    engine: Engine, *, now: datetime, heartbeat_timeout: float, max_attempts: int, site_id: str = "local"
) -> int:
    """Rescue every lost job; returns how many this call moved (0 when another rescuer runs)."""
    cutoff = now - timedelta(seconds=heartbeat_timeout)
    if engine.dialect.name != "postgresql":
        if not _LOCAL.acquire(blocking=False):
            return 0
        try:
            with engine.connect() as connection:
                return _rescue(connection, cutoff, now, heartbeat_timeout, max_attempts, site_id)
        finally:
            _LOCAL.release()
    with engine.connect() as connection:
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_KEY}).scalar():
            connection.rollback()
            return 0
        connection.commit()
        try:
            return _rescue(connection, cutoff, now, heartbeat_timeout, max_attempts, site_id)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY})
            connection.commit()


def _rescue(
    connection: Connection, cutoff: datetime, now: datetime, timeout: float, most: int, site_id: str
) -> int:
    stale = connection.execute(
        select(JOBS.c.id, JOBS.c.attempt_count, JOBS.c.executor_id).where(
            JOBS.c.status == Status.RUNNING.value, JOBS.c.heartbeat_at < cutoff
        )
    ).all()
    connection.commit()
    moved = 0
    for job_id, attempt, executor_id in stale:
        try:
            moved += _rescue_one(
                connection, job_id, attempt, executor_id, cutoff, now, timeout, most, site_id
            )
            connection.commit()
        except Exception:  # one bad row must not stop the others; the next round retries it
            connection.rollback()
            log.exception("Could not rescue job %s", job_id)
    if moved:
        log.info("Rescued %d job(s) whose executor stopped heartbeating for %ss", moved, timeout)
    return moved


def _rescue_one(
    connection: Connection,
    job_id: str,
    attempt: int,
    executor_id: str | None,
    cutoff: datetime,
    now: datetime,
    timeout: float,
    most: int,
    site_id: str,
) -> int:
    exhausted = attempt >= most
    message = (
        f"Executor {executor_id} sent no heartbeat for {timeout:g} seconds on attempt {attempt} of "
        f"{most}; giving up after {most} attempt(s) ([headrace] job_max_attempts)"
    )
    cancelled = JOBS.c.cancel_requested_at.is_not(None)
    new_status = case(
        (cancelled, Status.CANCELLED.value),
        else_=Status.FAILED.value if exhausted else Status.PENDING.value,
    )
    ends = case((cancelled, now), else_=now if exhausted else None)
    row = connection.execute(
        update(JOBS)
        .where(
            JOBS.c.id == job_id,
            JOBS.c.status == Status.RUNNING.value,
            JOBS.c.attempt_count == attempt,
            JOBS.c.heartbeat_at < cutoff,
        )
        .values(
            status=new_status,
            completed_at=ends,
            error_message=case((cancelled, JOBS.c.error_message), else_=message if exhausted else None),
            executor_id=case((new_status == Status.PENDING.value, None), else_=JOBS.c.executor_id),
            started_at=case((new_status == Status.PENDING.value, None), else_=JOBS.c.started_at),
            heartbeat_at=case((new_status == Status.PENDING.value, None), else_=JOBS.c.heartbeat_at),
        )
        .returning(JOBS.c.status, JOBS.c.type, JOBS.c.started_at)
    ).first()
    if row is None:
        return 0  # a heartbeat or another rescuer came first
    if row.status == Status.PENDING.value:
        event = events.requeued(job_id, row.type, attempt, executor_id, now, site_id=site_id)
    else:
        event = events.ended(
            job_id,
            row.type,
            row.status,
            now,
            site_id=site_id,
            attempt=attempt,
            started_at=row.started_at,
            executor_id=executor_id,
            error_message=message if row.status == Status.FAILED.value else None,
        )
    events.publish(connection, [event])
    connection.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.job_id == job_id, ATTEMPTS.c.number == attempt)
        .values(status=AttemptStatus.LOST.value, ended_at=now)
    )
    if executor_id is not None:
        connection.execute(
            update(EXECUTORS)
            .where(EXECUTORS.c.id == executor_id)
            .values(
                jobs_lost=EXECUTORS.c.jobs_lost + 1,
                current_job_id=case(
                    (EXECUTORS.c.current_job_id == job_id, None), else_=EXECUTORS.c.current_job_id
                ),
            )
        )
    return 1
