"""What the queue hands out: statuses, priorities and read-only views of jobs, attempts and executors.

Plain dataclasses, so that callers (the API services, the operator's hook, tests) never hold a
database row and never change one except through the queue's conditional updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Status(StrEnum):
    """Job statuses of the contract; only ``pending`` and ``running`` ever change."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptStatus(StrEnum):
    """How one claim ended; ``lost`` is an executor that stopped heartbeating (see rescue)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"


class Priority(StrEnum):
    """Claim order: foreground first, best_effort last."""

    FOREGROUND = "foreground"
    BACKGROUND = "background"
    BEST_EFFORT = "best_effort"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Priority.FOREGROUND: 0, Priority.BACKGROUND: 1, Priority.BEST_EFFORT: 2}


def utcnow() -> datetime:
    return datetime.now(UTC)


def render_time(moment: datetime | None) -> str | None:
    """``2024-01-01T12:00:00Z``, the contract's format (UTC, whole seconds)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Attempt:
    """One claim of a job."""

    number: int
    executor_id: str
    executor_ip: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Job:
    """A job as stored; ``attempts`` is filled by reads that ask for it."""

    id: str
    type: str
    binary_url: str
    binary_sha256: str
    arguments: list[str]
    env_variables: dict[str, str]
    priority: str
    status: str
    executor_id: str | None
    attempt_count: int
    stdout: str | None
    stderr: str | None
    exit_code: int | None
    error_message: str | None
    submitted_by: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    completed_at: datetime | None
    cancel_requested_at: datetime | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None


@dataclass(frozen=True)
class Heartbeat:
    """The answer to a heartbeat: ``cancel_requested`` tells the executor to stop the binary."""

    job_id: str
    attempt: int
    heartbeat_at: datetime
    cancel_requested: bool


@dataclass(frozen=True)
class ExecutorInfo:
    """An executor as the queue last saw it."""

    id: str
    hostname: str | None
    executor_ip: str | None
    types: list[str] | None
    first_seen_at: datetime
    last_seen_at: datetime
    current_job_id: str | None
    current_job_type: str | None
    jobs_completed: int
    jobs_failed: int
    jobs_lost: int


@dataclass(frozen=True)
class BulkCancelResult:
    """``POST /jobs/bulk/cancel``: how many were cancelled, and why the others were not."""

    cancelled: int
    failed: int
    errors: list[dict[str, str]]


@dataclass(frozen=True)
class Stats:
    """``GET /admin/stats``."""

    jobs_by_status: dict[str, int]
    pending_by_priority: dict[str, int]
    active_executors: int
