"""Refusals of the queue, each naming the job; the API maps them to the contract's status codes."""

from __future__ import annotations


class JobQueueError(Exception):
    """A request the queue refused; nothing was changed."""

    code = "JOB_QUEUE_ERROR"

    def __init__(self, message: str, *, job_id: str | None = None, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = {"job_id": job_id, **context} if job_id else dict(context)


class JobNotFound(JobQueueError):
    code = "JOB_NOT_FOUND"


class JobNotRunning(JobQueueError):
    """Heartbeat, complete or fail for a job that is not running (any more)."""

    code = "JOB_NOT_RUNNING"


class JobNotOwned(JobQueueError):
    """The job runs, but under another executor's (or a newer) attempt: the caller was fenced off."""

    code = "JOB_OWNED_BY_ANOTHER_EXECUTOR"


class InvalidTransition(JobQueueError):
    """E.g. cancelling a job that already runs (without ``force``) or has ended."""

    code = "INVALID_STATE_TRANSITION"
