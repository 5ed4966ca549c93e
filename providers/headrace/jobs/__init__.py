"""Headrace's durable queue of binary jobs (the job-queue-api's domain core): no Flask, no Airflow ORM.

Public names: :class:`JobQueue` and :class:`QueueSettings` (submit, read, cancel; claim, heartbeat,
complete, fail), :class:`Executor` (who claims), :class:`Waiters` (cap on long-polling claims),
:func:`rescue_lost_jobs`, :class:`JobSubmission` (the submission's rules), the statuses and views of
:mod:`headrace.jobs.models`, the refusals of :mod:`headrace.jobs.errors`, and
:data:`MAX_OUTPUT_BYTES` / :func:`truncate`. ``execution.py`` and ``executor.py`` (the executor
daemon) are clients of the API, not of this core.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headrace.jobs.claims import Executor, Waiters
    from headrace.jobs.errors import InvalidTransition, JobNotFound, JobNotOwned, JobNotRunning, JobQueueError
    from headrace.jobs.models import AttemptStatus, Heartbeat, Job, Priority, Status, render_time
    from headrace.jobs.output import MAX_OUTPUT_BYTES, truncate
    from headrace.jobs.queue import JobQueue, QueueSettings, parse_id
    from headrace.jobs.rescue import rescue_lost_jobs
    from headrace.jobs.validation import JobSubmission

# Imported on first use (PEP 562): the executor daemon imports headrace.jobs.execution and
# headrace.jobs.executor, which must not pull in the queue core (SQLAlchemy models, Airflow).
_LAZY = {
    "Executor": "headrace.jobs.claims",
    "Waiters": "headrace.jobs.claims",
    "InvalidTransition": "headrace.jobs.errors",
    "JobNotFound": "headrace.jobs.errors",
    "JobNotOwned": "headrace.jobs.errors",
    "JobNotRunning": "headrace.jobs.errors",
    "JobQueueError": "headrace.jobs.errors",
    "AttemptStatus": "headrace.jobs.models",
    "Heartbeat": "headrace.jobs.models",
    "Job": "headrace.jobs.models",
    "Priority": "headrace.jobs.models",
    "Status": "headrace.jobs.models",
    "render_time": "headrace.jobs.models",
    "MAX_OUTPUT_BYTES": "headrace.jobs.output",
    "truncate": "headrace.jobs.output",
    "JobQueue": "headrace.jobs.queue",
    "QueueSettings": "headrace.jobs.queue",
    "parse_id": "headrace.jobs.queue",
    "rescue_lost_jobs": "headrace.jobs.rescue",
    "JobSubmission": "headrace.jobs.validation",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_OUTPUT_BYTES",
    "AttemptStatus",
    "Executor",
    "Heartbeat",
    "InvalidTransition",
    "Job",
    "JobNotFound",
    "JobNotOwned",
    "JobNotRunning",
    "JobQueue",
    "JobQueueError",
    "JobSubmission",
    "Priority",
    "QueueSettings",
    "Status",
    "Waiters",
    "parse_id",
    "render_time",
    "rescue_lost_jobs",
    "truncate",
]
