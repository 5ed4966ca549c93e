"""Workflows: a definition created from requirements, followed through its latest DagRun.

``create`` turns ``requirements`` into a one-step definition (files → table with the ingestion
operator, or table → table with a SQL transform built by sqlglot from the checked, quoted name),
writes it into the definitions folder, where the loader reads it, and lets Airflow schedule it: with
a schedule it runs on that schedule, without one it runs once (``@once``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from headrace import config
from headrace.api.datamodels.workflows import (
    AgentAssignment,
    CancelWorkflow,
    CreateWorkflow,
    CurrentStep,
    ExecutionMetrics,
    ExecutionPlan,
    Pagination,
    Progress,
    QualityMetrics,
    RunMetrics,
    StepMetrics,
    StepView,
    Workflow,
    WorkflowCancelled,
    WorkflowCreated,
    WorkflowList,
    WorkflowListQuery,
    WorkflowMetrics,
    WorkflowSummary,
)
from headrace.api.errors import Conflict, NotFound, RequestValidationError
from headrace.api.security import Principal, readable_dag_ids
from headrace.api.services import workflow_runs
from headrace.api.services.definitions import checked_plan, stored_plan
from headrace.lakehouse.query import DIALECT
from headrace.storage.filetypes import FileType
from headrace.workflows.identifiers import select_all
from headrace.workflows.model import Priority
from headrace.workflows.plan import CHECK, INGEST, TRANSFORM, DagPlan
from headrace.workflows.repository import ReadOnlyDefinition, WorkflowRepository

_MB = 1024 * 1024
_ROLES = {INGEST: "loader", TRANSFORM: "transformer", CHECK: "validator"}
_TABLE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_STEP_STATUS = {
    None: "pending",
    "scheduled": "pending",
    "queued": "pending",
    "running": "in_progress",
    "success": "completed",
    "failed": "failed",
    "upstream_failed": "skipped",
    "skipped": "skipped",
    "up_for_retry": "retrying",
    "removed": "skipped",
}


class WorkflowNotFound(NotFound):
    code = "WORKFLOW_NOT_FOUND"


def _not_found(workflow_id: str) -> WorkflowNotFound:
    return WorkflowNotFound(
        f"Workflow with ID '{workflow_id}' was not found",
        details={"workflow_id": workflow_id, "suggestion": "Check the workflow ID and try again"},
    )


def workflow_id_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return (slug or "workflow")[:200]


def create(request: CreateWorkflow, *, username: str) -> WorkflowCreated:
    repo = WorkflowRepository()
    workflow_id = workflow_id_for(request.name)
    for existing, data in repo.definitions().items():  # both folders: the shipped ones are taken too
        if existing == workflow_id or data.get("name") == request.name:
            raise _exists(request.name, existing)
    now = datetime.now(UTC).replace(microsecond=0)
    requirements = request.requirements
    data: dict[str, Any] = {
        "id": workflow_id,
        "name": request.name,
        "description": request.description,
        "owner": username,
        "tags": ["workflows-api"],
        "schedule": requirements.schedule or "@once",
        "start_date": now.isoformat(),
        "paused": False,
        "created_at": now.isoformat(),
        "priority": requirements.priority.value,
        "configuration": request.configuration.model_dump(exclude_none=True),
        "steps": [_load_step(request)],
    }
    plan = checked_plan(data, f"workflow {workflow_id}")
    try:
        repo.write(data)
    except ReadOnlyDefinition:  # a file in the workflows folder appeared meanwhile
        raise _exists(request.name, workflow_id) from None
    workflow_runs.request_parse()
    median = workflow_runs.median_success_seconds(workflow_id)
    return WorkflowCreated(
        workflow_id=workflow_id,
        name=request.name,
        created_at=now,
        estimated_duration=None if median is None else round(median),
        agents_assigned=agents(plan),
    )


def _exists(name: str, workflow_id: str) -> Conflict:
    return Conflict(
        f"A workflow named '{name}' already exists",
        code="WORKFLOW_EXISTS",
        details={"workflow_id": workflow_id},
    )


def _load_step(request: CreateWorkflow) -> dict[str, Any]:
    requirements = request.requirements
    source = requirements.data_source.strip()
    target = {"table": requirements.target, "write_mode": requirements.write_mode}
    if requirements.merge_keys:
        target["merge_keys"] = requirements.merge_keys
    if source.startswith("s3://"):
        file_type = requirements.file_type or _file_type(source)
        if file_type is None:
            raise RequestValidationError.for_field(
                "requirements.file_type", f"needed: the data source's extension does not say ({_types()})"
            )
        return {
            "id": "load",
            "name": "Data Loading",
            "kind": "ingest",
            "source": {"file_paths": source, "file_type": file_type.value},
            "target": target,
        }
    if _TABLE.fullmatch(source):
        step = {
            "id": "transform",
            "name": "Data Transformation",
            "kind": "transform",
            "sql": select_all(source, DIALECT, quoted=True),  # never the request's text itself
            "target": requirements.target,
            "write_mode": requirements.write_mode,
        }
        if requirements.merge_keys:
            step["merge_keys"] = requirements.merge_keys
        return step
    raise RequestValidationError.for_field(
        "requirements.data_source",
        "must be files in object storage (s3://bucket/prefix/*.csv) or a lakehouse table "
        "(catalog.schema.table); database sources are not supported",
    )


def _file_type(path: str) -> FileType | None:
    suffix = path.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    return next((t for t in FileType if t.value == suffix), None)


def _types() -> str:
    return ", ".join(t.value for t in FileType)


def agents(plan: DagPlan) -> list[AgentAssignment]:
    """Where each step runs: Airflow's executor, the step's pool and queue."""
    executor = workflow_runs.executor()
    default_queue = workflow_runs.default_queue()
    assignments = []
    for task in plan.tasks:
        pool = task.arguments.get("pool") or plan.default_args.get("pool") or "default_pool"
        queue = task.arguments.get("queue") or default_queue
        engine = task.arguments.get("engine_id") or config.default_engine()
        specialization = {INGEST: engine, TRANSFORM: engine, CHECK: "data_quality"}.get(
            task.operator, "general"
        )
        assignments.append(
            AgentAssignment(
                agent_id=f"{executor}:{pool}:{queue}",
                role=_ROLES.get(task.operator, "worker"),
                specialization=specialization,
                step_id=task.key,
                executor=executor,
                pool=pool,
                queue=queue,
            )
        )
    return assignments


def _plan(workflow_id: str) -> DagPlan:
    plan = stored_plan(workflow_id)
    if plan is None:
        raise _not_found(workflow_id)
    return plan


def _status(view: workflow_runs.RunView | None) -> str:
    if view is None:
        return "created"
    return "running" if view.status == "queued" else view.status  # the contract has no "queued"


def get(workflow_id: str) -> Workflow:
    plan = _plan(workflow_id)
    view = workflow_runs.latest_run(workflow_id)
    tasks = {t.task_id: t for t in view.tasks} if view else {}
    steps = [
        StepView(
            step_id=task.key,
            name=task.arguments.get("task_display_name") or task.key,
            status=_STEP_STATUS.get(tasks[task.key].state if task.key in tasks else None, "pending"),
            started_at=tasks[task.key].started_at if task.key in tasks else None,
            duration=tasks[task.key].duration if task.key in tasks else None,
            records_processed=tasks[task.key].records_processed if task.key in tasks else None,
        )
        for task in plan.tasks
    ]
    done = view.finished_tasks if view else 0
    total = len(plan.tasks)
    current = view.current if view else None
    return Workflow(
        workflow_id=workflow_id,
        name=plan.definition.display_name,
        status=_status(view),
        priority=plan.definition.priority,
        schedule=plan.definition.schedule_spec.describe() or None,
        created_at=_aware(plan.definition.created_at) if plan.definition.created_at else None,
        run_id=view.run_id if view else None,
        progress=Progress(completed_tasks=done, total_tasks=total, percentage=round(100 * done / total)),
        current_step=None
        if current is None
        else CurrentStep(
            step_name=current.task_id,
            started_at=current.started_at,
            estimated_completion=workflow_runs.estimated_completion(view),
        ),
        execution_plan=ExecutionPlan(steps=steps),
        metrics=_run_metrics(view),
    )


def _run_metrics(view: workflow_runs.RunView | None) -> RunMetrics:
    tasks = view.tasks if view else []
    records = sum(t.records_processed or 0 for t in tasks)
    duration = view.duration if view else None
    return RunMetrics(
        records_processed=records,
        data_volume_mb=round(sum(t.bytes_read or 0 for t in tasks) / _MB, 3),
        processing_rate=round(records / duration, 3) if duration else None,
        error_count=sum(1 for t in tasks if t.state == "failed"),
    )


def _created_at(data: dict[str, Any]) -> datetime | None:
    value = data.get("created_at")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def list_workflows(query: WorkflowListQuery, principal: Principal) -> WorkflowList:
    definitions = WorkflowRepository().definitions()
    readable = readable_dag_ids(principal, set(definitions))
    summaries = []
    for workflow_id, data in definitions.items():
        if workflow_id not in readable:
            continue
        view = workflow_runs.latest_run(workflow_id)
        total = len(view.tasks) if view else 0
        summary = WorkflowSummary(
            workflow_id=workflow_id,
            name=str(data.get("name") or workflow_id),
            status=_status(view),
            priority=_priority(data),
            created_at=_created_at(data),
            progress=round(100 * view.finished_tasks / total) if view and total else 0,
        )
        if _matches(summary, query):
            summaries.append(summary)
    summaries.sort(key=lambda s: s.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    page = summaries[query.offset : query.offset + query.limit]
    return WorkflowList(
        workflows=page,
        pagination=Pagination(
            total=len(summaries),
            limit=query.limit,
            offset=query.offset,
            has_next=query.offset + len(page) < len(summaries),
        ),
    )


def _priority(data: dict[str, Any]) -> Priority:
    try:
        return Priority(data.get("priority", "medium"))
    except ValueError:
        return Priority.MEDIUM


def _matches(summary: WorkflowSummary, query: WorkflowListQuery) -> bool:
    if query.status is not None and summary.status != query.status:
        return False
    if query.priority is not None and summary.priority != query.priority:
        return False
    created = summary.created_at
    if query.created_after is not None and (created is None or created <= _aware(query.created_after)):
        return False
    return not (
        query.created_before is not None and (created is None or created >= _aware(query.created_before))
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cancel(workflow_id: str, request: CancelWorkflow, *, username: str) -> WorkflowCancelled:
    if WorkflowRepository().path_of(workflow_id) is None:
        raise _not_found(workflow_id)
    view = workflow_runs.latest_run(workflow_id)
    if view is None or view.state not in ("queued", "running") or view.cancelling:
        raise Conflict(f"Workflow '{workflow_id}' has no running run to cancel", code="WORKFLOW_NOT_RUNNING")
    workflow_runs.cancel(
        workflow_id, view.run_id, username=username, reason=request.reason, force=request.force
    )
    how = "running tasks are being stopped" if request.force else "no new step starts; running steps finish"
    return WorkflowCancelled(
        workflow_id=workflow_id,
        run_id=view.run_id,
        message=f"Workflow cancellation initiated: {how}",
        cancelled_at=datetime.now(UTC),
        force=request.force,
    )


def metrics(workflow_id: str) -> WorkflowMetrics:
    plan = _plan(workflow_id)
    view = workflow_runs.latest_run(workflow_id)
    tasks = {t.task_id: t for t in view.tasks} if view else {}
    step_metrics = []
    checks_run = checks_failed = failing_rows = 0
    for task in plan.tasks:
        ti = tasks.get(task.key)
        result = ti.result if ti else None
        validation_errors = None
        if task.operator == CHECK and result:
            checks = result.get("checks", [])
            checks_run += len(checks)
            checks_failed += sum(1 for c in checks if not c.get("passed"))
            validation_errors = sum(int(c.get("failing_rows") or 0) for c in checks)
            failing_rows += validation_errors
        tries = ti.tries if ti else 0
        step_metrics.append(
            StepMetrics(
                step_name=task.key,
                status=_STEP_STATUS.get(ti.state if ti else None, "pending"),
                duration=ti.duration if ti else None,
                records_processed=ti.records_processed if ti else None,
                tries=tries,
                success_rate=(1 / tries if ti.state == "success" else 0.0) if ti and tries else None,
                validation_errors=validation_errors,
            )
        )
    processing = sum(t.duration or 0 for t in tasks.values())
    total = view.duration if view else None
    run = _run_metrics(view)
    return WorkflowMetrics(
        workflow_id=workflow_id,
        run_id=view.run_id if view else None,
        execution_metrics=ExecutionMetrics(
            total_duration=total,
            processing_time=round(processing, 3),
            overhead_time=round(max(total - processing, 0.0), 3) if total is not None else None,
            records_processed=run.records_processed,
            processing_rate=run.processing_rate,
            data_volume_mb=run.data_volume_mb,
        ),
        step_metrics=step_metrics,
        quality_metrics=QualityMetrics(
            checks_run=checks_run, checks_failed=checks_failed, failing_rows=failing_rows
        ),
    )
