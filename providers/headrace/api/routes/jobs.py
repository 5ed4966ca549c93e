"""Job-queue API (job-queue-api): binary jobs queued in Headrace's tables, claimed by executors.

Routes only translate: bodies and answers here, the rules in :mod:`headrace.jobs`, the glue in
:mod:`headrace.api.services.jobs`. Its Prometheus metrics are part of
``GET /metrics`` (:mod:`headrace.api.routes.operations`).
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

from headrace import config
from headrace.api.datamodels.jobs import (
    AttemptView,
    BinaryJobCancelled,
    BinaryJobListQuery,
    BulkCancelRequest,
    BulkCancelResult,
    BulkJobCreated,
    CancelQuery,
    ClaimRequest,
    CompleteRequest,
    ExecutorView,
    FailRequest,
    HeartbeatAnswer,
    HeartbeatRequest,
    JobCreated,
    JobDetail,
    JobFinished,
    JobSummary,
    QueueStats,
)
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import ADMIN, Principal, Scope, dag
from headrace.api.services import jobs as service
from headrace.jobs import Executor, Job, JobSubmission, render_time
from headrace.jobs.validation import BulkSubmission, problems

_NS = Namespace.JOBS
_READ = dag("GET", Scope.READ, DagAccessEntity.RUN)
_SUBMIT = dag("POST", Scope.WRITE, DagAccessEntity.RUN)
_CANCEL = dag("PUT", Scope.WRITE, DagAccessEntity.RUN)
# An executor runs work the way a worker runs task instances: it may update them.
_EXECUTOR = dag("PUT", Scope.EXECUTOR, DagAccessEntity.TASK_INSTANCE)


def _summary(job: Job) -> JobSummary:
    return JobSummary(
        id=job.id,
        type=job.type,
        status=job.status,
        priority=job.priority,
        executor_id=job.executor_id,
        created_at=render_time(job.created_at),
        started_at=render_time(job.started_at),
        completed_at=render_time(job.completed_at),
    )


def _detail(job: Job) -> JobDetail:
    return JobDetail(
        **_summary(job).model_dump(),
        binary_url=job.binary_url,
        binary_sha256=job.binary_sha256,
        arguments=job.arguments,
        env_variables=job.env_variables,
        stdout=job.stdout,
        stderr=job.stderr,
        exit_code=job.exit_code,
        error_message=job.error_message,
        attempt=job.attempt_count,
        heartbeat_at=render_time(job.heartbeat_at),
        cancel_requested=job.cancel_requested,
        attempts=[
            AttemptView(
                number=a.number,
                executor_id=a.executor_id,
                executor_ip=a.executor_ip,
                started_at=render_time(a.started_at),
                ended_at=render_time(a.ended_at),
                status=a.status,
            )
            for a in job.attempts
        ],
    )


@endpoint(
    "/jobs",
    "POST",
    _NS,
    summary="Submit a binary job",
    permission=_SUBMIT,
    body=JobSubmission,
    body_errors=problems,
    response=JobCreated,
    status=201,
    idempotent=True,
)
def submit_job(principal: Principal, body: JobSubmission):
    """Queues the job as ``pending``. ``binary_url`` must start with a prefix of
    ``[headrace] job_binary_url_allowlist``; every bad field is named. With an ``Idempotency-Key``
    header a repeated request gets the first answer instead of a second job."""
    job = service.call(lambda: service.queue().submit(body, submitted_by=principal.username))
    return JobCreated(
        id=job.id,
        type=job.type,
        status=job.status,
        priority=job.priority,
        created_at=render_time(job.created_at),
    )


@endpoint(
    "/jobs",
    "GET",
    _NS,
    summary="List jobs",
    permission=_READ,
    query=BinaryJobListQuery,
    response=list[JobSummary],
)
def list_jobs(query: BinaryJobListQuery):
    """Newest first; ``status``, ``type`` and ``priority`` filter, ``limit`` (default 100, at most
    1000) and ``offset`` page."""
    jobs = service.queue().list(
        status=query.status, type=query.type, priority=query.priority, limit=query.limit, offset=query.offset
    )
    return [_summary(job) for job in jobs]


@endpoint(
    "/jobs/bulk",
    "POST",
    _NS,
    summary="Submit several jobs",
    permission=_SUBMIT,
    body=BulkSubmission,
    body_errors=problems,
    response=list[BulkJobCreated],
    status=201,
    idempotent=True,
)
def submit_jobs(principal: Principal, body: BulkSubmission):
    """All or nothing: one bad job (named by its index, e.g. ``[1].binary_sha256``) queues none.
    The ids come back in the order of the request, and the jobs are claimed in that order."""
    jobs = service.call(lambda: service.queue().submit_many(body.root, submitted_by=principal.username))
    return [BulkJobCreated(id=job.id, status=job.status) for job in jobs]


@endpoint(
    "/jobs/bulk/cancel",
    "POST",
    _NS,
    summary="Cancel several pending jobs",
    permission=_CANCEL,
    body=BulkCancelRequest,
    response=BulkCancelResult,
)
def cancel_jobs(body: BulkCancelRequest):
    """Each pending job is cancelled on its own; the others are listed in ``errors`` with the reason."""
    result = service.queue().cancel_many(body.job_ids)
    return BulkCancelResult(cancelled=result.cancelled, failed=result.failed, errors=result.errors)


@endpoint(
    "/jobs/claim",
    "POST",
    _NS,
    summary="Claim the next job (executors)",
    permission=_EXECUTOR,
    body=ClaimRequest,
    response=JobDetail,
    extra_responses={204: "No job available (after `wait` seconds, if given)"},
)
def claim_job(body: ClaimRequest):
    """The highest-priority (foreground, background, best_effort), oldest pending job, now
    ``running`` under a new attempt of this executor; 204 when there is none. ``types`` limits the
    claim to those job types; ``wait`` (at most ``[headrace] job_claim_max_wait``, 30 s) long-polls
    instead of answering 204 at once."""
    jobs = service.queue()
    service.rescue_before_claim(jobs)
    executor = Executor(id=body.executor_id, ip=body.executor_ip, hostname=body.hostname, types=body.types)
    wait = min(body.wait, config.job_claim_max_wait())
    job = jobs.claim_waiting(executor, wait=wait, waiters=service.waiters())
    if job is None:
        return None, 204
    return _detail(job)


@endpoint(
    "/jobs/<job_id>",
    "GET",
    _NS,
    summary="A job with its attempts",
    permission=_READ,
    response=JobDetail,
    errors=(404,),
)
def get_job(job_id: str):
    return _detail(service.call(lambda: service.queue().get(job_id)))


@endpoint(
    "/jobs/<job_id>",
    "DELETE",
    _NS,
    summary="Cancel a pending job (force: also a running one)",
    permission=_CANCEL,
    query=CancelQuery,
    response=BinaryJobCancelled,
    errors=(404,),
)
def cancel_job(job_id: str, query: CancelQuery):
    """A pending job is cancelled; any other is a 400. With ``?force=true`` a running job is asked to
    stop: its executor learns it from the heartbeat answer (``cancel_requested: true``), stops the
    binary, and the job ends ``cancelled``."""
    job = service.call(lambda: service.queue().cancel(job_id, force=query.force))
    message = (
        "Job cancelled successfully"
        if job.status == "cancelled"
        else "Cancellation requested: the executor stops the job at its next heartbeat"
    )
    return BinaryJobCancelled(
        id=job.id, status=job.status, cancel_requested=job.cancel_requested, message=message
    )


@endpoint(
    "/jobs/<job_id>/heartbeat",
    "PUT",
    _NS,
    summary="Heartbeat of a running job (executors)",
    permission=_EXECUTOR,
    body=HeartbeatRequest,
    response=HeartbeatAnswer,
    errors=(404, 409),
)
def heartbeat(job_id: str, body: HeartbeatRequest):
    """404 when the job does not exist or is not running, 409 when another executor (or a newer
    attempt) holds it: stop working on it either way."""
    beat = service.call(
        lambda: service.queue().heartbeat(_id(job_id), body.executor_id, attempt=body.attempt)
    )
    return HeartbeatAnswer(
        id=beat.job_id,
        attempt=beat.attempt,
        heartbeat_at=render_time(beat.heartbeat_at),
        cancel_requested=beat.cancel_requested,
    )


def _finished(job: Job) -> JobFinished:
    return JobFinished(
        id=job.id, status=job.status, exit_code=job.exit_code, completed_at=render_time(job.completed_at)
    )


@endpoint(
    "/jobs/<job_id>/complete",
    "PUT",
    _NS,
    summary="Report a job completed (executors)",
    permission=_EXECUTOR,
    body=CompleteRequest,
    response=JobFinished,
    errors=(404, 409),
)
def complete_job(job_id: str, body: CompleteRequest):
    """stdout and stderr are cut to 1 MB each (the head kept, the cut marked). 400 when the job is
    not running, 409 when this executor does not hold its current attempt."""
    result = body.model_dump(exclude={"executor_id"})
    return _finished(service.call(lambda: service.queue().complete(_id(job_id), body.executor_id, **result)))


@endpoint(
    "/jobs/<job_id>/fail",
    "PUT",
    _NS,
    summary="Report a job failed (executors)",
    permission=_EXECUTOR,
    body=FailRequest,
    response=JobFinished,
    errors=(404, 409),
)
def fail_job(job_id: str, body: FailRequest):
    """As complete, with ``error_message``; the job ends ``failed`` (``cancelled`` if it was asked to
    stop)."""
    result = body.model_dump(exclude={"executor_id"})
    return _finished(service.call(lambda: service.queue().fail(_id(job_id), body.executor_id, **result)))


def _id(job_id: str) -> str:
    from headrace.jobs import JobNotFound, parse_id

    canonical = parse_id(job_id)
    if canonical is None:
        raise service.as_api_error(JobNotFound("Job not found", job_id=job_id))
    return canonical


@endpoint("/admin/stats", "GET", _NS, summary="Queue statistics", permission=ADMIN, response=QueueStats)
def stats():
    result = service.queue().stats()
    return QueueStats(
        jobs_by_status=result.jobs_by_status,
        pending_by_priority=result.pending_by_priority,
        active_executors=result.active_executors,
    )


@endpoint(
    "/admin/executors", "GET", _NS, summary="Active executors", permission=ADMIN, response=list[ExecutorView]
)
def executors():
    """Executors seen (claim or heartbeat) within ``[headrace] job_heartbeat_timeout``."""
    return [
        ExecutorView(
            executor_id=e.id,
            hostname=e.hostname,
            executor_ip=e.executor_ip,
            types=e.types,
            current_job_id=e.current_job_id,
            job_type=e.current_job_type,
            last_heartbeat=render_time(e.last_seen_at),
            jobs_completed=e.jobs_completed,
            jobs_failed=e.jobs_failed,
            jobs_lost=e.jobs_lost,
        )
        for e in service.queue().executors()
    ]
