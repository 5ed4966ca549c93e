"""Job-queue API models (job-queue-api): bare objects, timestamps as ``2024-01-01T12:00:00Z``.

The submission body is :class:`headrace.jobs.validation.JobSubmission` itself, shared with the core.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from headrace.api.datamodels.common import MAX_OFFSET, StrictModel
from headrace.jobs.validation import MAX_BULK, MAX_TYPE_LENGTH, TYPE_PATTERN

JobStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
JobPriority = Literal["foreground", "background", "best_effort"]
JobType = Annotated[str, Field(pattern=TYPE_PATTERN, min_length=1, max_length=MAX_TYPE_LENGTH)]
EXECUTOR_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$"
ExecutorId = Field(pattern=EXECUTOR_ID, min_length=1, max_length=250, description="The executor's own id.")
Attempt = Field(None, ge=1, description="Optional fencing token: the `attempt` the claim answered.")


class JobCreated(BaseModel):
    """The answer to ``POST /jobs``."""

    id: str
    type: str
    status: JobStatus
    priority: JobPriority
    created_at: str


class JobSummary(BaseModel):
    """One job of ``GET /jobs``."""

    id: str
    type: str
    status: JobStatus
    priority: JobPriority
    executor_id: str | None
    created_at: str
    started_at: str | None
    completed_at: str | None


class AttemptView(BaseModel):
    """One claim of a job; ``lost`` means its executor stopped heartbeating."""

    number: int
    executor_id: str
    executor_ip: str | None
    started_at: str
    ended_at: str | None
    status: Literal["running", "completed", "failed", "cancelled", "lost"]


class JobDetail(JobSummary):
    """``GET /jobs/{id}`` and the answer to a claim."""

    binary_url: str
    binary_sha256: str
    arguments: list[str]
    env_variables: dict[str, str]
    stdout: str | None
    stderr: str | None
    exit_code: int | None
    error_message: str | None
    attempt: int = Field(description="The current attempt (1 after the first claim); 0 before.")
    heartbeat_at: str | None
    cancel_requested: bool = Field(description="DELETE ?force=true asked the executor to stop.")
    attempts: list[AttemptView]


class BinaryJobListQuery(StrictModel):
    """Filters and paging of ``GET /jobs``."""

    status: JobStatus | None = None
    type: str | None = Field(None, max_length=MAX_TYPE_LENGTH)
    priority: JobPriority | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CancelQuery(StrictModel):
    """``force=true`` also stops a running job (through its executor's heartbeat)."""

    force: bool = False


class BinaryJobCancelled(BaseModel):
    """The answer to ``DELETE /jobs/{id}``: ``cancelled``, or ``running`` with ``cancel_requested``."""

    id: str
    status: JobStatus
    cancel_requested: bool
    message: str


class BulkJobCreated(BaseModel):
    """One job of ``POST /jobs/bulk``, in the order sent."""

    id: str
    status: JobStatus


class BulkCancelRequest(StrictModel):
    """``POST /jobs/bulk/cancel``."""

    job_ids: list[str] = Field(min_length=1, max_length=MAX_BULK)


class BulkCancelError(BaseModel):
    """A job that was not cancelled, and why."""

    job_id: str
    error: str


class BulkCancelResult(BaseModel):
    """The answer to ``POST /jobs/bulk/cancel``."""

    cancelled: int
    failed: int
    errors: list[BulkCancelError]


class ClaimRequest(StrictModel):
    """``POST /jobs/claim``; ``hostname``, ``types`` and ``wait`` go beyond the contract."""

    executor_id: str = ExecutorId
    executor_ip: str | None = Field(None, max_length=64)
    hostname: str | None = Field(None, max_length=250)
    types: list[JobType] | None = Field(
        None, min_length=1, max_length=100, description="Claim only jobs of these types (default: any)."
    )
    wait: float = Field(0, ge=0, le=30, description="Seconds to long-poll for a job before a 204.")


class HeartbeatRequest(StrictModel):
    """``PUT /jobs/{id}/heartbeat``."""

    executor_id: str = ExecutorId
    attempt: int | None = Attempt


class HeartbeatAnswer(BaseModel):
    """Heartbeat accepted; ``cancel_requested: true`` means: stop the binary and report."""

    id: str
    status: Literal["running"] = "running"
    attempt: int
    heartbeat_at: str
    cancel_requested: bool


class CompleteRequest(StrictModel):
    """``PUT /jobs/{id}/complete``; stdout and stderr are cut to 1 MB each."""

    executor_id: str = ExecutorId
    stdout: str | None = None
    stderr: str | None = None
    exit_code: int | None = None
    attempt: int | None = Attempt


class FailRequest(CompleteRequest):
    """``PUT /jobs/{id}/fail``."""

    error_message: str | None = Field(None, max_length=10_000)


class JobFinished(BaseModel):
    """The answer to complete and fail: ``cancelled`` when a cancellation was requested meanwhile."""

    id: str
    status: JobStatus
    exit_code: int | None
    completed_at: str | None


class QueueStats(BaseModel):
    """``GET /admin/stats``."""

    jobs_by_status: dict[str, int]
    pending_by_priority: dict[str, int]
    active_executors: int


class ExecutorView(BaseModel):
    """One executor of ``GET /admin/executors`` (seen within ``[headrace] job_heartbeat_timeout``)."""

    executor_id: str
    hostname: str | None
    executor_ip: str | None
    types: list[str] | None
    current_job_id: str | None
    job_type: str | None
    last_heartbeat: str
    jobs_completed: int
    jobs_failed: int
    jobs_lost: int
