"""What Airflow knows about a workflow's DAG: its runs, their task instances and results; and the
few actions the APIs take on it (re-parse, unpause, trigger, cancel).

The pipelines and workflows APIs are two views of the same thing, so both read through here.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
from airflow.api.common.trigger_dag import trigger_dag
from airflow.configuration import conf
from airflow.exceptions import DagNotFound, ParamValidationError
from airflow.models.dag import DagModel
from airflow.models.dagbag import DagPriorityParsingRequest, DBDagBag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from headrace.api.errors import ApiError, Conflict, RequestValidationError
from headrace.lakehouse.checks import REPORT_XCOM_KEY

MESSAGE_LIMIT = 2000  # characters of a task's error message shown in a run's `error`
BUNDLE = "dags-folder"  # Airflow's bundle of [core] dags_folder, where the shipped loader files are
LOADER_FILES = ("headrace_workflows.py", "headrace_workflow_errors.py")
CANCELLED_NOTE = "Cancelled by "
FINISHED = (
    TaskInstanceState.SUCCESS,
    TaskInstanceState.FAILED,
    TaskInstanceState.SKIPPED,
    TaskInstanceState.UPSTREAM_FAILED,
    TaskInstanceState.REMOVED,
)
_NOT_STARTED = (
    None,
    TaskInstanceState.SCHEDULED,
    TaskInstanceState.QUEUED,
    TaskInstanceState.UP_FOR_RETRY,
    TaskInstanceState.UP_FOR_RESCHEDULE,
)


class DagNotLoaded(ApiError):
    status, code = 409, "DAG_NOT_LOADED"


@dataclass(frozen=True)
class TaskView:
    task_id: str
    state: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration: float | None
    tries: int
    result: dict[str, Any] | None  # the task's return value (Headrace operators return a dict)

    @property
    def records_processed(self) -> int | None:
        if not self.result:
            return None
        value = self.result.get("records_processed", self.result.get("rows_written"))
        return value if isinstance(value, int) else None

    @property
    def bytes_read(self) -> int | None:
        value = (self.result or {}).get("bytes_read")
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class RunFailure:
    """Why a run failed: its first failed task and the message that task failed with."""

    step: str | None  # the task id; None when the run failed without a failed task (a DAG timeout)
    message: str
    state: str | None
    try_number: int | None


@dataclass(frozen=True)
class RunView:
    dag_id: str
    run_id: str
    state: str  # queued, running, success, failed
    cancelled: bool
    cancelling: bool  # cancelled gracefully, tasks still running
    note: str | None
    queued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    conf: dict[str, Any]
    tasks: list[TaskView] = field(default_factory=list)
    failure: RunFailure | None = None  # set when the run failed (not when it was cancelled)

    @property
    def status(self) -> str:
        """queued, running, completed, failed, cancelling or cancelled."""
        if self.cancelled:
            return "cancelled"
        if self.cancelling:
            return "cancelling"
        return {"success": "completed"}.get(self.state, self.state)

    @property
    def finished_tasks(self) -> int:
        return sum(1 for t in self.tasks if t.state in FINISHED)

    @property
    def current(self) -> TaskView | None:
        running = [t for t in self.tasks if t.state == TaskInstanceState.RUNNING]
        return min(running, key=lambda t: t.started_at or datetime.max.replace(tzinfo=UTC), default=None)

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.ended_at or datetime.now(UTC)) - self.started_at).total_seconds()


@dataclass(frozen=True)
class DagView:
    dag_id: str
    paused: bool
    has_import_errors: bool


def executor() -> str:
    """The executor tasks run on by default (the first of ``[core] executor``)."""
    return conf.get("core", "executor").split(",")[0].split(":")[-1].rsplit(".", 1)[-1]


def default_queue() -> str:
    return conf.get("operators", "default_queue")


def dag_view(dag_id: str) -> DagView | None:
    """The DAG as Airflow has it (None: not parsed yet)."""
    with create_session() as session:
        model = session.get(DagModel, dag_id)
        if model is None:
            return None
        return DagView(dag_id, paused=bool(model.is_paused), has_import_errors=bool(model.has_import_errors))


def request_parse() -> None:
    """Ask the dag-processor to parse the loader files next (Airflow's priority parsing queue)."""
    with create_session() as session:
        pending = set(
            session.scalars(
                select(DagPriorityParsingRequest.relative_fileloc).where(
                    DagPriorityParsingRequest.bundle_name == BUNDLE
                )
            )
        )
        for relative in _loader_files():
            if relative not in pending:  # one request per file is pending at most (its id is their hash)
                session.add(DagPriorityParsingRequest(bundle_name=BUNDLE, relative_fileloc=relative))


@cache
def _loader_files() -> tuple[str, ...]:
    folder = Path(conf.get("core", "dags_folder"))
    found = [p.relative_to(folder).as_posix() for name in LOADER_FILES for p in folder.rglob(name)]
    return tuple(found) or LOADER_FILES


def unpause(dag_id: str) -> bool:
    """Unpause the DAG if Airflow has it already; False when it is not parsed yet (a new definition
    is then written with ``paused: false`` and starts unpaused)."""
    with create_session() as session:
        changed = session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=False))
        return bool(changed.rowcount)


def trigger(dag_id: str, *, conf_: dict[str, Any], username: str) -> str:
    """Start a run now; its run id. Airflow checks ``conf_`` against the DAG's Params (the same JSON
    Schema the APIs check first): a value it refuses is a 400 naming ``params.<name>``."""
    try:
        run = trigger_dag(
            dag_id, conf=conf_, triggered_by=DagRunTriggeredByType.REST_API, triggering_user_name=username
        )
    except DagNotFound as exc:
        raise DagNotLoaded(
            f"Airflow has not loaded the DAG '{dag_id}' yet; deploy it and retry in a few seconds",
            details={"dag_id": dag_id},
        ) from exc
    except ParamValidationError as exc:
        found = re.match(r"Invalid input for param (\S+): (.*)", str(exc), re.S)
        field, message = (f"params.{found[1]}", found[2]) if found else ("params", str(exc))
        raise RequestValidationError(
            "Invalid run parameters", details=[{"field": field, "message": message}]
        ) from None
    return run.run_id


def latest_run(dag_id: str) -> RunView | None:
    runs = list_runs(dag_id, limit=1)
    return runs[0] if runs else None


def get_run(dag_id: str, run_id: str) -> RunView | None:
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        return None if run is None else _view(session, run)


def list_runs(dag_id: str, *, limit: int = 20) -> list[RunView]:
    with create_session() as session:
        runs = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(limit)
        ).all()
        return [_view(session, run) for run in runs]


def median_success_seconds(dag_id: str, *, before: datetime | None = None, sample: int = 20) -> float | None:
    """Median duration of the latest successful runs (started before ``before``); None without any."""
    with create_session() as session:
        query = select(DagRun.start_date, DagRun.end_date).where(
            DagRun.dag_id == dag_id,
            DagRun.state == DagRunState.SUCCESS,
            DagRun.start_date.is_not(None),
            DagRun.end_date.is_not(None),
        )
        if before is not None:
            query = query.where(DagRun.start_date < before)
        rows = session.execute(query.order_by(DagRun.start_date.desc()).limit(sample)).all()
    durations = [(end - start).total_seconds() for start, end in rows]
    return statistics.median(durations) if durations else None


def estimated_completion(run: RunView) -> datetime | None:
    if run.started_at is None or run.ended_at is not None:
        return None
    median = median_success_seconds(run.dag_id, before=run.started_at)
    return None if median is None else run.started_at + timedelta(seconds=median)


def cancel(dag_id: str, run_id: str, *, username: str, reason: str, force: bool) -> RunView:
    """Cancel a queued or running run.

    ``force``: fail the run now; Airflow stops its running tasks. Otherwise no new task starts (those
    not started are skipped) and running ones may finish. Either way the run's note says who
    cancelled it and why, in the Airflow UI too.
    """
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None or run.state not in (DagRunState.QUEUED, DagRunState.RUNNING):
            raise Conflict(f"Run '{run_id}' of '{dag_id}' is not running", code="NOT_RUNNING")
        run.note = f"{CANCELLED_NOTE}{username}: {reason}"[:1000]
        if force:
            dag = DBDagBag().get_dag_for_run(run, session=session)
            set_dag_run_state_to_failed(dag=dag, run_id=run_id, commit=True, session=session)
        else:
            for ti in session.scalars(
                select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            ):
                if ti.state in _NOT_STARTED:
                    ti.state = TaskInstanceState.SKIPPED
                    ti.end_date = datetime.now(UTC)
        session.flush()
        return _view(session, run)


def _view(session: Session, run: DagRun) -> RunView:
    tis = session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
    ).all()
    # A task's result: its return value, or the report a failing check step leaves behind.
    results: dict[str, Any] = {}
    for key in (REPORT_XCOM_KEY, "return_value"):
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, key=key, dag_ids=run.dag_id))
        results.update({row.task_id: XComModel.deserialize_value(row) for row in rows})
    tasks = [
        TaskView(
            task_id=ti.task_id,
            state=str(ti.state) if ti.state else None,
            started_at=ti.start_date,
            ended_at=ti.end_date,
            duration=ti.duration,
            tries=ti.try_number or 0,
            result=results.get(ti.task_id) if isinstance(results.get(ti.task_id), dict) else None,
        )
        for ti in sorted(tis, key=lambda t: (t.start_date is None, t.start_date or 0, t.task_id))
    ]
    note = run.note
    cancelled = bool(note and note.startswith(CANCELLED_NOTE))
    unfinished = run.state in (DagRunState.QUEUED, DagRunState.RUNNING)
    failed = run.state == DagRunState.FAILED and not cancelled
    return RunView(
        dag_id=run.dag_id,
        run_id=run.run_id,
        state=str(run.state),
        cancelled=cancelled and not unfinished,
        cancelling=cancelled and unfinished,
        note=note,
        queued_at=run.queued_at,
        started_at=run.start_date,
        ended_at=run.end_date,
        conf=run.conf or {},
        tasks=tasks,
        failure=_failure(session, run, tis) if failed else None,
    )


@cache
def _error_keys() -> tuple[str, ...]:
    """The XCom keys Headrace operators push their failure under (see headrace.operators.failures),
    imported here, not at the top, so the API does not load the transform and job modules until a
    failed run is shown."""
    from headrace.ingestion.results import ERROR_XCOM_KEY as INGESTION
    from headrace.ingestion.transform import ERROR_XCOM_KEY as TRANSFORM
    from headrace.operators.job_execution import ERROR_XCOM_KEY as JOB

    return INGESTION, TRANSFORM, JOB, REPORT_XCOM_KEY


def _failure(session: Session, run: DagRun, tis: Sequence[TaskInstance]) -> RunFailure:
    """The first task that failed (by end time) and its message: the one its operator pushed to
    XCom, else its state and try number (the log in the Airflow UI has the rest). Never a stack
    trace or a path of the host: only what the operator chose to tell the user."""
    failed = [ti for ti in tis if ti.state == TaskInstanceState.FAILED]
    if not failed:
        return RunFailure(
            step=None,
            message="The run failed without a failed task (a DAG-level timeout, or tasks that never "
            "started); the run's page in the Airflow UI says more",
            state=None,
            try_number=None,
        )
    first = min(failed, key=lambda ti: (ti.end_date is None, ti.end_date or 0, ti.task_id))
    rows = session.scalars(
        XComModel.get_many(
            run_id=run.run_id, dag_ids=run.dag_id, task_ids=first.task_id, map_indexes=first.map_index
        ).where(XComModel.key.in_(_error_keys()))
    ).all()
    pushed = {row.key: XComModel.deserialize_value(row) for row in rows}
    message = next((text for key in _error_keys() if key in pushed and (text := _message(pushed[key]))), None)
    tries = first.try_number or 0
    if message is None:
        message = (
            f"Task '{first.task_id}' failed on try {tries} without a message; "
            "its log in the Airflow UI has the reason"
        )
    return RunFailure(step=first.task_id, message=message, state=str(first.state), try_number=tries)


def _message(value: Any) -> str | None:
    """A pushed failure as one line: a string as is, a check report as its failed checks."""
    if isinstance(value, dict) and isinstance(value.get("checks"), list):
        failed = [c for c in value["checks"] if isinstance(c, dict) and not c.get("passed")]
        listed = "; ".join(
            f"{c.get('type')} ({c.get('failing_rows')} failing row(s)): {c.get('message')}" for c in failed
        )
        text = f"{len(failed)} of {len(value['checks'])} check(s) failed on {value.get('table')}: {listed}"
    elif isinstance(value, str):
        text = value
    else:
        return None
    text = text.strip()
    return text[: MESSAGE_LIMIT - 1] + "…" if len(text) > MESSAGE_LIMIT else text or None
