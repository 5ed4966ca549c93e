"""Ingestion jobs as DagRuns of the shipped ``headrace_ingestion`` DAG (run id = job id, conf = spec).

Runs started from the Airflow UI or CLI are jobs too: the DagRun is the source of truth; Headrace
only adds who cancelled a job (a cancelled run has failed on purpose, not by an error).

A cancel and the task's table commit meet in a handshake of two XComs of the task instance (see
:func:`cancel` and :mod:`headrace.ingestion.results`), so that a job whose rows were committed is
``completed``, never ``cancelled``, and a ``cancelled`` job left its table unchanged.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
from airflow.api.common.trigger_dag import trigger_dag
from airflow.exceptions import DagNotFound, DagRunAlreadyExists
from airflow.models.dagbag import DBDagBag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from headrace.api.errors import ApiError, Conflict, NotFound
from headrace.db.models import IngestionCancellation
from headrace.ingestion.results import CANCEL_XCOM_KEY, COMMIT_XCOM_KEY, ERROR_XCOM_KEY
from headrace.ingestion.spec import IngestionSpec

DAG_ID = "headrace_ingestion"
TASK_ID = "ingest"
INSTANCE_ID = "headrace"
_TARGET_PARTS = frozenset(("catalog", "schema", "table"))
# How long a cancel waits for a task that reached its table commit before the cancel arrived.
COMMIT_WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.2
_NAMESPACE = uuid.UUID("5d1f7d0e-3b7a-4c5e-9a55-0d6f1f3c2b10")
_STATES = {
    "starting": [DagRunState.QUEUED],
    "running": [DagRunState.RUNNING],
    "completed": [DagRunState.SUCCESS],
    "failed": [DagRunState.FAILED],
    "cancelled": [DagRunState.FAILED],
}


class IngestionUnavailable(ApiError):
    status, code = 503, "INGESTION_DAG_NOT_LOADED"


@dataclass(frozen=True)
class JobView:
    job_id: str
    application_id: str
    username: str
    start_timestamp: str | None
    end_timestamp: str | None
    status: str
    source_data_files: str | list[str] | None
    target_table: str | None
    details: str
    result: dict[str, Any] | None


def new_job_id() -> str:
    return f"ingestion-{uuid.uuid4().hex[:16]}"


def create(spec: IngestionSpec, *, job_id: str, username: str) -> JobView:
    with create_session() as session:
        if _run(session, job_id) is not None:
            raise Conflict(f"Job '{job_id}' already exists", code="JOB_EXISTS")
    conf = spec.model_copy(update={"job_id": job_id}).conf()
    try:
        trigger_dag(
            DAG_ID,
            run_id=job_id,
            conf=conf,
            triggered_by=DagRunTriggeredByType.REST_API,
            triggering_user_name=username,
        )
    except DagNotFound as exc:
        raise IngestionUnavailable(
            f"The {DAG_ID} DAG is not loaded yet: is the dag-processor running with Headrace's dags folder?"
        ) from exc
    except (DagRunAlreadyExists, IntegrityError) as exc:
        # IntegrityError: a concurrent request created the same run id between the check and the insert.
        if isinstance(exc, IntegrityError) and not _exists(job_id):
            raise
        raise Conflict(f"Job '{job_id}' already exists", code="JOB_EXISTS") from exc
    return get(job_id)


def _exists(job_id: str) -> bool:
    with create_session() as session:
        return _run(session, job_id) is not None


def get(job_id: str, *, not_found: str = "Failed to get job status: Job not found") -> JobView:
    with create_session() as session:
        run = _run(session, job_id)
        if run is None:
            raise NotFound(not_found, code="JOB_NOT_FOUND")
        return _view(session, run)


def list_jobs(*, status: str | None, limit: int, offset: int) -> list[JobView]:
    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == DAG_ID)
        cancelled = select(IngestionCancellation.job_id)
        if status is not None:
            query = query.where(DagRun.state.in_(_STATES[status]))
            if status == "cancelled":
                query = query.where(DagRun.run_id.in_(cancelled))
            elif status == "failed":
                query = query.where(DagRun.run_id.not_in(cancelled))
        order = func.coalesce(DagRun.start_date, DagRun.queued_at, DagRun.run_after)
        runs = session.scalars(query.order_by(order.desc(), DagRun.run_id).limit(limit).offset(offset)).all()
        return [_view(session, run) for run in runs]


def cancel(job_id: str, *, username: str) -> JobView:
    """End a queued or running job: its run fails, its task is stopped, its status is ``cancelled``.

    A task that has not started yet never will (its task instance is no longer queued). A running
    task is asked first: the request is an XCom the task reads right before its table commit, after
    recording that it got there. So a task that has not recorded it will see the request and stop
    with the table unchanged; one that has may be committing, and the cancel waits for its outcome:
    if its rows were committed the job is completed and the answer is a 409 saying so.
    """
    with create_session() as session:
        run = _run(session, job_id)
        if run is None:
            raise NotFound("Failed to cancel job: Job not found", code="JOB_NOT_FOUND")
        if run.state not in (DagRunState.QUEUED, DagRunState.RUNNING):
            status = _view(session, run).status
            raise Conflict(f"Job '{job_id}' is already {status}", code="JOB_FINISHED")
        # Locked, so that a worker starting the task waits for this decision (PostgreSQL, MySQL).
        ti = session.scalar(_task_instance(job_id).with_for_update())
        if session.get(IngestionCancellation, job_id) is None:
            session.add(
                IngestionCancellation(job_id=job_id, cancelled_by=username, cancelled_at=datetime.now(UTC))
            )
        started = ti is not None and ti.state == TaskInstanceState.RUNNING
        if not started:
            _fail(session, run)
        else:
            XComModel.set(
                CANCEL_XCOM_KEY,
                {"cancelled_by": username},
                dag_id=DAG_ID,
                task_id=TASK_ID,
                run_id=job_id,
                map_index=ti.map_index,
                session=session,
            )
    if not started:
        return get(job_id)
    # The request is committed: from here on the task sees it before committing, unless it is past that.
    with create_session() as session:
        reached = _xcom(session, job_id, COMMIT_XCOM_KEY) is not None
        if not reached:
            _fail(session, _run(session, job_id))
    if not reached:
        return get(job_id)
    outcome = _task_outcome(job_id)
    if outcome == TaskInstanceState.SUCCESS:
        raise Conflict(
            f"Job '{job_id}' is already completed: its rows were committed before the cancel arrived",
            code="JOB_FINISHED",
        )
    if outcome == TaskInstanceState.RUNNING:
        raise Conflict(
            f"Job '{job_id}' reached its table commit before the cancel arrived and is still committing; "
            "its status will say whether the rows were committed",
            code="JOB_COMMITTING",
        )
    with create_session() as session:  # stopped before committing (the request), or failed
        run = _run(session, job_id)
        if run.state in (DagRunState.QUEUED, DagRunState.RUNNING):
            _fail(session, run)
    return get(job_id)


def _fail(session: Session, run: DagRun) -> None:
    dag = DBDagBag().get_dag_for_run(run, session=session)
    set_dag_run_state_to_failed(dag=dag, run_id=run.run_id, commit=True, session=session)


def looking_at_committing_task(job_id: str) -> None:
    """Called each time a cancel looks at a task that reached its commit first (tests hook in here)."""


def _task_outcome(job_id: str) -> TaskInstanceState | None:
    """The task's state once it is no longer running, or RUNNING after COMMIT_WAIT_SECONDS."""
    deadline = time.monotonic() + COMMIT_WAIT_SECONDS
    while True:
        looking_at_committing_task(job_id)
        with create_session() as session:
            ti = session.scalar(_task_instance(job_id))
            state = ti.state if ti is not None else None
        if state != TaskInstanceState.RUNNING or time.monotonic() >= deadline:
            return state
        time.sleep(_POLL_SECONDS)


def _task_instance(job_id: str):
    return select(TaskInstance).where(
        TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == job_id, TaskInstance.task_id == TASK_ID
    )


def _run(session: Session, job_id: str) -> DagRun | None:
    return session.scalar(select(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id == job_id))


def _view(session: Session, run: DagRun) -> JobView:
    conf = run.conf or {}
    target = conf.get("target") or {}
    ti_state = session.scalar(
        select(TaskInstance.state).where(
            TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run.run_id, TaskInstance.task_id == TASK_ID
        )
    )
    cancellation = session.get(IngestionCancellation, run.run_id)
    result = _xcom(session, run.run_id, "return_value")
    status, details = _status(run, ti_state, cancellation, result, _xcom(session, run.run_id, ERROR_XCOM_KEY))
    return JobView(
        job_id=run.run_id,
        application_id=str(uuid.uuid5(_NAMESPACE, f"{run.dag_id}/{run.run_id}")),
        username=run.triggering_user_name or "airflow",
        start_timestamp=_nanoseconds(run.start_date or run.queued_at or run.run_after),
        end_timestamp=_nanoseconds(run.end_date) if status in ("completed", "failed", "cancelled") else None,
        status=status,
        source_data_files=(conf.get("source") or {}).get("file_paths"),
        target_table=".".join(target[k] for k in ("catalog", "schema", "table"))
        if target.keys() >= _TARGET_PARTS
        else None,
        details=details,
        result=result if isinstance(result, dict) else None,
    )


def _status(run, ti_state, cancellation, result, error) -> tuple[str, str]:
    # A run succeeds only when its task committed: completed, even if a cancel came too late.
    if run.state == DagRunState.SUCCESS:
        late = (
            f" (a cancel by {cancellation.cancelled_by} arrived after the table commit)"
            if cancellation is not None
            else ""
        )
        if isinstance(result, dict):
            return "completed", (
                f"Ingestion completed successfully: {result.get('rows_written')} rows from "
                f"{len(result.get('files', []))} file(s) into {result.get('target')}{late}"
            )
        return "completed", f"Ingestion completed successfully{late}"
    if run.state == DagRunState.FAILED:
        if cancellation is not None:
            return (
                "cancelled",
                f"Cancelled by {cancellation.cancelled_by} at {cancellation.cancelled_at.isoformat()}",
            )
        return "failed", f"Ingestion failed: {error}" if error else "Ingestion failed; see the task log"
    if run.state == DagRunState.RUNNING and ti_state in (
        TaskInstanceState.RUNNING,
        TaskInstanceState.SUCCESS,
    ):
        return "running", "Loading files"
    if ti_state == TaskInstanceState.UP_FOR_RETRY:
        return "running", f"Retrying after an error: {error}" if error else "Retrying after an error"
    return "starting", "Waiting for a worker"


def _xcom(session: Session, run_id: str, key: str) -> Any:
    row = session.scalars(
        XComModel.get_many(run_id=run_id, key=key, task_ids=TASK_ID, dag_ids=DAG_ID, limit=1)
    ).first()
    return XComModel.deserialize_value(row) if row is not None else None


def _nanoseconds(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    seconds = int(moment.replace(microsecond=0).timestamp())
    return str(seconds * 1_000_000_000 + moment.microsecond * 1000)
