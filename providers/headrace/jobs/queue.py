"""The durable queue of binary jobs, on Headrace's own tables (SQLAlchemy Core, no Airflow ORM).

Every status change is one conditional ``UPDATE ... WHERE status = ...``: of two requests that race
for the same change exactly one matches the row, the other changes nothing and is told why. The
executor side (claim, heartbeat, complete, fail) lives in :mod:`headrace.jobs.claims`, the rescue of
lost jobs in :mod:`headrace.jobs.rescue`. Each change also appends its monitoring event to the event
log in the same transaction (:mod:`headrace.jobs.events`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection, RowMapping

from headrace.db.models import JobAttempt, JobExecutor, QueuedJob
from headrace.jobs import events
from headrace.jobs.claims import ExecutorSide
from headrace.jobs.errors import InvalidTransition, JobNotFound
from headrace.jobs.models import (
    Attempt,
    BulkCancelResult,
    ExecutorInfo,
    Job,
    Priority,
    Stats,
    Status,
    utcnow,
)
from headrace.jobs.validation import JobSubmission

JOBS = QueuedJob.__table__
ATTEMPTS = JobAttempt.__table__
EXECUTORS = JobExecutor.__table__
MAX_LIST_LIMIT = 1000


@dataclass(frozen=True)
class QueueSettings:
    """The ``[headrace] job_*`` options, passed in so that the core never reads Airflow's config."""

    heartbeat_timeout: float = 60
    max_attempts: int = 3
    allowlist: list[str] = field(default_factory=lambda: ["https://"])
    site_id: str = "local"  # [headrace] monitoring_site_id: the site of the jobs' monitoring events


# The form job ids are handed out in (parse_id also reads other spellings of a UUID).
JOB_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def parse_id(job_id: str) -> str | None:
    """The canonical form of a job id, None for anything that is not a UUID (it names no job)."""
    try:
        return str(uuid.UUID(str(job_id)))
    except ValueError:
        return None


def job_from(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]] = ()) -> Job:
    return Job(
        **{name: row[name] for name in Job.__dataclass_fields__ if name != "attempts"},
        attempts=[
            Attempt(
                number=a["number"],
                executor_id=a["executor_id"],
                executor_ip=a["executor_ip"],
                status=a["status"],
                started_at=a["started_at"],
                ended_at=a["ended_at"],
            )
            for a in attempts
        ],
    )


class JobQueue(ExecutorSide):
    """Submit, read and cancel jobs; executors claim and finish them (see :class:`ExecutorSide`)."""

    def __init__(
        self,
        engine: Engine,
        settings: QueueSettings | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings or QueueSettings()
        self.clock = clock

    # -- submitting ---------------------------------------------------------------------------------

    def submit(self, spec: JobSubmission | dict[str, Any], *, submitted_by: str | None = None) -> Job:
        return self.submit_many([spec], submitted_by=submitted_by)[0]

    def submit_many(
        self, specs: Sequence[JobSubmission | dict[str, Any]], *, submitted_by: str | None = None
    ) -> list[Job]:
        """Queue every job in one transaction (all or none), in order: ids come back in that order."""
        validated = [self._validated(spec) for spec in specs]
        now = self.clock()
        rows = [
            {
                "id": str(uuid.uuid4()),
                "type": spec.type,
                "binary_url": spec.binary_url,
                "binary_sha256": spec.binary_sha256,
                "arguments": list(spec.arguments),
                "env_variables": dict(spec.env_variables),
                "priority": spec.priority.value,
                "priority_rank": spec.priority.rank,
                "status": Status.PENDING.value,
                "executor_id": None,
                "attempt_count": 0,
                "submitted_by": submitted_by,
                # One microsecond apart: a bulk submission is claimed in the order it was sent.
                "created_at": now + timedelta(microseconds=index),
            }
            for index, spec in enumerate(validated)
        ]
        with self.engine.begin() as connection:
            connection.execute(JOBS.insert(), rows)
            events.publish(
                connection,
                [
                    events.submitted(
                        row["id"],
                        row["type"],
                        row["priority"],
                        row["created_at"],
                        site_id=self.settings.site_id,
                    )
                    for row in rows
                ],
            )
        unset = dict.fromkeys(c.name for c in JOBS.columns)
        return [job_from({**unset, **row}) for row in rows]

    def _validated(self, spec: JobSubmission | dict[str, Any]) -> JobSubmission:
        """Re-check even a model: the allowlist is this queue's, whoever built the model."""
        data = spec.model_dump() if isinstance(spec, JobSubmission) else spec
        return JobSubmission.model_validate(data, context={"allowlist": self.settings.allowlist})

    # -- reading ------------------------------------------------------------------------------------

    def get(self, job_id: str, *, with_attempts: bool = True) -> Job:
        canonical = parse_id(job_id)
        with self.engine.connect() as connection:
            row = None
            if canonical is not None:
                row = connection.execute(select(JOBS).where(JOBS.c.id == canonical)).mappings().first()
            if row is None:
                raise JobNotFound("Job not found", job_id=str(job_id))
            return job_from(row, self._attempts(connection, canonical) if with_attempts else ())

    @staticmethod
    def _attempts(connection: Connection, job_id: str) -> Sequence[RowMapping]:
        query = select(ATTEMPTS).where(ATTEMPTS.c.job_id == job_id).order_by(ATTEMPTS.c.number)
        return connection.execute(query).mappings().all()

    def list(
        self,
        *,
        status: str | None = None,
        type: str | None = None,  # the contract's filter name
        priority: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Job]:
        """Newest first; the filters combine."""
        query = select(JOBS)
        if status is not None:
            query = query.where(JOBS.c.status == status)
        if type is not None:
            query = query.where(JOBS.c.type == type)
        if priority is not None:
            query = query.where(JOBS.c.priority == priority)
        query = query.order_by(JOBS.c.created_at.desc(), JOBS.c.id).limit(min(limit, MAX_LIST_LIMIT))
        with self.engine.connect() as connection:
            return [job_from(row) for row in connection.execute(query.offset(offset)).mappings()]

    # -- cancelling ---------------------------------------------------------------------------------

    def cancel(self, job_id: str, *, force: bool = False) -> Job:
        """Cancel a pending job; with ``force`` also ask the executor of a running one to stop.

        A forced cancel of a running job sets ``cancel_requested_at``: the executor learns it from its
        next heartbeat answer, stops the binary and reports, and the job ends ``cancelled`` whatever
        the report (rescue ends it ``cancelled`` too if the executor never reports).
        """
        canonical = parse_id(job_id)
        if canonical is None:
            raise JobNotFound("Job not found", job_id=str(job_id))
        now = self.clock()
        with self.engine.begin() as connection:
            cancelled = connection.execute(
                update(JOBS)
                .where(JOBS.c.id == canonical, JOBS.c.status == Status.PENDING.value)
                .values(status=Status.CANCELLED.value, completed_at=now)
                .returning(JOBS.c.type, JOBS.c.attempt_count)
            ).first()
            done = cancelled is not None
            if cancelled is not None:
                ended = events.ended(
                    canonical,
                    cancelled.type,
                    Status.CANCELLED.value,
                    now,
                    site_id=self.settings.site_id,
                    attempt=cancelled.attempt_count,
                )
                events.publish(connection, [ended])
            if not done and force:
                done = connection.execute(
                    update(JOBS)
                    .where(JOBS.c.id == canonical, JOBS.c.status == Status.RUNNING.value)
                    .values(cancel_requested_at=func.coalesce(JOBS.c.cancel_requested_at, now))
                ).rowcount
        if not done:
            current = self.get(canonical, with_attempts=False)  # JobNotFound when there is none
            hint = "" if force else " (DELETE ?force=true stops a running job)"
            raise InvalidTransition(
                f"Job is {current.status}, not pending: it cannot be cancelled{hint}",
                job_id=canonical,
                status=current.status,
            )
        return self.get(canonical)

    def cancel_many(self, job_ids: Sequence[str]) -> BulkCancelResult:
        """Cancel each pending job on its own; the others are reported with the reason."""
        cancelled, errors = 0, []
        for job_id in job_ids:
            try:
                self.cancel(job_id)
            except (JobNotFound, InvalidTransition) as exc:
                errors.append({"job_id": str(job_id), "error": exc.message})
            else:
                cancelled += 1
        return BulkCancelResult(cancelled=cancelled, failed=len(errors), errors=errors)

    # -- administration -----------------------------------------------------------------------------

    def active_since(self) -> datetime:
        """Executors seen since then are active: within one heartbeat timeout."""
        return self.clock() - timedelta(seconds=self.settings.heartbeat_timeout)

    def stats(self) -> Stats:
        with self.engine.connect() as connection:
            by_status = dict(
                connection.execute(select(JOBS.c.status, func.count()).group_by(JOBS.c.status)).all()
            )
            pending = dict(
                connection.execute(
                    select(JOBS.c.priority, func.count())
                    .where(JOBS.c.status == Status.PENDING.value)
                    .group_by(JOBS.c.priority)
                ).all()
            )
            active = connection.execute(
                select(func.count()).where(EXECUTORS.c.last_seen_at >= self.active_since())
            ).scalar_one()
        return Stats(
            jobs_by_status={s.value: by_status.get(s.value, 0) for s in Status},
            pending_by_priority={p.value: pending.get(p.value, 0) for p in Priority},
            active_executors=active,
        )

    def executors(self, *, active_only: bool = True) -> list[ExecutorInfo]:
        """Executors seen within the heartbeat timeout (or all), most recently seen first."""
        query = select(EXECUTORS, JOBS.c.type.label("current_job_type")).outerjoin(
            JOBS, JOBS.c.id == EXECUTORS.c.current_job_id
        )
        if active_only:
            query = query.where(EXECUTORS.c.last_seen_at >= self.active_since())
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(EXECUTORS.c.last_seen_at.desc())).mappings().all()
        return [
            ExecutorInfo(**{name: row[name] for name in ExecutorInfo.__dataclass_fields__}) for row in rows
        ]

    def rescue(self) -> int:
        """Put lost jobs back (or fail them); see :mod:`headrace.jobs.rescue`."""
        from headrace.jobs.rescue import rescue_lost_jobs

        return rescue_lost_jobs(
            self.engine,
            now=self.clock(),
            heartbeat_timeout=self.settings.heartbeat_timeout,
            max_attempts=self.settings.max_attempts,
            site_id=self.settings.site_id,
        )
