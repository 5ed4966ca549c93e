"""The executor side of the queue: claim, heartbeat, complete and fail, fenced by attempt.

A claim moves the best pending job to ``running`` and opens an attempt for the claiming executor.
Heartbeat, complete and fail then match the job *and* its current owner in one conditional UPDATE
(``status = 'running' AND executor_id = :me [AND attempt_count = :attempt]``): an executor whose job
was rescued and handed to another, or which never held it, matches no row and changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, select, update
from sqlalchemy.engine import Connection

from headrace.db import dialect
from headrace.db.models import JobAttempt, JobExecutor, QueuedJob
from headrace.jobs import events
from headrace.jobs.errors import InvalidTransition, JobNotFound, JobNotOwned, JobNotRunning
from headrace.jobs.models import AttemptStatus, Heartbeat, Job, Status
from headrace.jobs.output import truncate

if TYPE_CHECKING:
    from headrace.jobs.queue import QueueSettings

JOBS = QueuedJob.__table__
ATTEMPTS = JobAttempt.__table__
EXECUTORS = JobExecutor.__table__
MAX_WAIT_SECONDS = 30
_POLL_START, _POLL_MAX = 0.2, 1.0


@dataclass(frozen=True)
class Executor:
    """Who claims: the contract's ``executor_id`` and ``executor_ip``, plus what it can run."""

    id: str
    ip: str | None = None
    hostname: str | None = None
    types: Sequence[str] | None = None  # None: any type


class Waiters:
    """Caps the claims that long-poll at once in this process: the others are answered at once."""

    def __init__(self, most: int) -> None:
        self._slots = threading.BoundedSemaphore(most) if most > 0 else None

    def take(self) -> bool:
        return self._slots is not None and self._slots.acquire(blocking=False)

    def give_back(self) -> None:
        if self._slots is not None:
            self._slots.release()


class ExecutorSide:
    """Mixed into :class:`headrace.jobs.queue.JobQueue`."""

    engine: Any
    settings: QueueSettings
    clock: Callable[[], datetime]
    get: Callable[..., Job]

    # -- claim --------------------------------------------------------------------------------------

    def claim(self, executor: Executor) -> Job | None:
        """The highest-priority, oldest pending job (of ``executor.types``), now running; or None."""
        now = self.clock()
        with self.engine.begin() as connection:
            row = connection.execute(self._claim_statement(connection, executor, now)).mappings().first()
            if row is not None:
                connection.execute(
                    ATTEMPTS.insert().values(
                        job_id=row["id"],
                        number=row["attempt_count"],
                        executor_id=executor.id,
                        executor_ip=executor.ip,
                        status=AttemptStatus.RUNNING.value,
                        started_at=now,
                    )
                )
                claimed = events.claimed(
                    row["id"],
                    row["type"],
                    row["attempt_count"],
                    executor.id,
                    now,
                    site_id=self.settings.site_id,
                )
                events.publish(connection, [claimed])
            self._seen(connection, executor, now, current_job_id=row["id"] if row else None, claimed=True)
        return self.get(row["id"]) if row is not None else None

    def claim_waiting(
        self,
        executor: Executor,
        *,
        wait: float = 0,
        waiters: Waiters | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Job | None:
        """:meth:`claim`, retried for up to ``wait`` seconds (at most 30) with a growing pause.

        No transaction is open while waiting. When ``waiters`` has no free slot the claim is tried
        once only, so that idle executors cannot tie up every request thread of the server.
        """
        job = self.claim(executor)
        wait = min(max(wait, 0), MAX_WAIT_SECONDS)
        if job is not None or wait <= 0 or (waiters is not None and not waiters.take()):
            return job
        try:
            deadline, pause = time.monotonic() + wait, _POLL_START
            while job is None and (left := deadline - time.monotonic()) > 0:
                sleep(min(pause, left))
                pause = min(pause * 2, _POLL_MAX)
                job = self.claim(executor)
            return job
        finally:
            if waiters is not None:
                waiters.give_back()

    def _claim_statement(self, connection: Connection, executor: Executor, now: datetime):
        candidate = select(JOBS.c.id).where(JOBS.c.status == Status.PENDING.value)
        if executor.types is not None:
            candidate = candidate.where(JOBS.c.type.in_(list(executor.types)))
        candidate = candidate.order_by(JOBS.c.priority_rank, JOBS.c.created_at, JOBS.c.id).limit(1)
        if connection.dialect.name == "postgresql":
            # The CTE locks one row and skips rows other claims hold: the UPDATE touches exactly it.
            locked = candidate.with_for_update(skip_locked=True).cte("next_job")
            statement = update(JOBS).where(JOBS.c.id == locked.c.id)
        else:
            # SQLite runs one writing statement at a time: the sub-select and the update are atomic.
            statement = update(JOBS).where(JOBS.c.id == candidate.scalar_subquery())
        return (
            statement.where(JOBS.c.status == Status.PENDING.value)
            .values(
                status=Status.RUNNING.value,
                executor_id=executor.id,
                attempt_count=JOBS.c.attempt_count + 1,
                started_at=now,
                heartbeat_at=now,
                completed_at=None,
            )
            .returning(JOBS.c.id, JOBS.c.attempt_count, JOBS.c.type)
        )

    # -- heartbeat, complete, fail ------------------------------------------------------------------

    def heartbeat(self, job_id: str, executor_id: str, *, attempt: int | None = None) -> Heartbeat:
        """Keep the job alive; the answer says whether its cancellation was requested."""
        now = self.clock()
        with self.engine.begin() as connection:
            row = (
                connection.execute(
                    update(JOBS)
                    .where(*self._owned(job_id, executor_id, attempt))
                    .values(heartbeat_at=now)
                    .returning(JOBS.c.attempt_count, JOBS.c.cancel_requested_at)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise self._refusal(connection, job_id, executor_id, finishing=False)
            self._seen(connection, Executor(executor_id), now, current_job_id=job_id)
        return Heartbeat(
            job_id=job_id,
            attempt=row["attempt_count"],
            heartbeat_at=now,
            cancel_requested=row["cancel_requested_at"] is not None,
        )

    def complete(self, job_id: str, executor_id: str, **result: Any) -> Job:
        return self._finish(job_id, executor_id, Status.COMPLETED, **result)

    def fail(self, job_id: str, executor_id: str, **result: Any) -> Job:
        return self._finish(job_id, executor_id, Status.FAILED, **result)

    def _finish(
        self,
        job_id: str,
        executor_id: str,
        outcome: Status,
        *,
        stdout: str | None = None,
        stderr: str | None = None,
        exit_code: int | None = None,
        error_message: str | None = None,
        attempt: int | None = None,
    ) -> Job:
        """End the current attempt; a job whose cancellation was requested ends ``cancelled``."""
        now = self.clock()
        final = case((JOBS.c.cancel_requested_at.is_(None), outcome.value), else_=Status.CANCELLED.value)
        with self.engine.begin() as connection:
            row = (
                connection.execute(
                    update(JOBS)
                    .where(*self._owned(job_id, executor_id, attempt))
                    .values(
                        status=final,
                        stdout=truncate(stdout),
                        stderr=truncate(stderr),
                        exit_code=exit_code,
                        error_message=error_message,
                        completed_at=now,
                    )
                    .returning(JOBS.c.status, JOBS.c.attempt_count, JOBS.c.started_at, JOBS.c.type)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise self._refusal(connection, job_id, executor_id, finishing=True)
            connection.execute(
                update(ATTEMPTS)
                .where(ATTEMPTS.c.job_id == job_id, ATTEMPTS.c.number == row["attempt_count"])
                .values(
                    status=row["status"],
                    ended_at=now,
                    duration_seconds=(now - row["started_at"]).total_seconds(),
                )
            )
            ended = events.ended(
                job_id,
                row["type"],
                row["status"],
                now,
                site_id=self.settings.site_id,
                attempt=row["attempt_count"],
                started_at=row["started_at"],
                executor_id=executor_id,
                exit_code=exit_code,
                error_message=error_message,
            )
            events.publish(connection, [ended])
            counts = {  # a cancelled job is neither a completion nor a failure of its executor
                name: EXECUTORS.c[name] + 1
                for name, status in (("jobs_completed", Status.COMPLETED), ("jobs_failed", Status.FAILED))
                if row["status"] == status.value
            }
            connection.execute(
                update(EXECUTORS)
                .where(EXECUTORS.c.id == executor_id)
                .values(
                    {
                        **counts,
                        "last_seen_at": now,
                        "current_job_id": case(
                            (EXECUTORS.c.current_job_id == job_id, None), else_=EXECUTORS.c.current_job_id
                        ),
                    }
                )
            )
        return self.get(job_id)

    @staticmethod
    def _owned(job_id: str, executor_id: str, attempt: int | None) -> list:
        conditions = [
            JOBS.c.id == job_id,
            JOBS.c.status == Status.RUNNING.value,
            JOBS.c.executor_id == executor_id,
        ]
        if attempt is not None:
            conditions.append(JOBS.c.attempt_count == attempt)
        return conditions

    @staticmethod
    def _refusal(connection: Connection, job_id: str, executor_id: str, *, finishing: bool) -> Exception:
        """Why nothing matched: no such job (404), not running (404 / 400), or someone else's (409)."""
        row = connection.execute(select(JOBS.c.status).where(JOBS.c.id == job_id)).first()
        if row is None:
            return JobNotFound("Job not found", job_id=job_id)
        if row.status != Status.RUNNING.value:
            error = InvalidTransition if finishing else JobNotRunning
            return error(f"Job is {row.status}, not running", job_id=job_id, status=row.status)
        return JobNotOwned(
            "Job is running under another executor's attempt; this executor no longer holds it",
            job_id=job_id,
            executor_id=executor_id,
        )

    # -- executors ----------------------------------------------------------------------------------

    @staticmethod
    def _seen(
        connection: Connection,
        executor: Executor,
        now: datetime,
        *,
        current_job_id: str | None,
        claimed: bool = False,
    ) -> None:
        """Record the executor: an insert the first time, else its last-seen time (and current job)."""
        fields: dict[str, Any] = {"last_seen_at": now}
        if claimed:  # a claim says what the executor now runs (None: nothing) and what it is
            fields["current_job_id"] = current_job_id
            for name, value in (
                ("executor_ip", executor.ip),
                ("hostname", executor.hostname),
                ("types", list(executor.types) if executor.types is not None else None),
            ):
                if value is not None:
                    fields[name] = value
        statement = dialect.insert(connection, EXECUTORS).values(
            id=executor.id,
            hostname=executor.hostname,
            executor_ip=executor.ip,
            types=list(executor.types) if executor.types is not None else None,
            first_seen_at=now,
            last_seen_at=now,
            current_job_id=current_job_id,
            jobs_completed=0,
            jobs_failed=0,
            jobs_lost=0,
        )
        connection.execute(statement.on_conflict_do_update(index_elements=[EXECUTORS.c.id], set_=fields))
