"""A workflow followed through its latest DagRun: its progress step by step, and cancelling that run."""

from __future__ import annotations

from datetime import UTC, datetime

from headrace.api.datamodels.workflows import (
    CancelWorkflow,
    CurrentStep,
    ExecutionPlan,
    Progress,
    RunError,
    StepView,
    Workflow,
    WorkflowCancelled,
)
from headrace.api.errors import Conflict
from headrace.api.services import workflow_runs
from headrace.api.services.workflows.common import (
    STEP_STATUS,
    aware,
    not_found,
    plan_of,
    run_metrics,
    status_of,
)
from headrace.workflows.repository import WorkflowRepository


def get(workflow_id: str) -> Workflow:
    plan = plan_of(workflow_id)
    view = workflow_runs.latest_run(workflow_id)
    tasks = {t.task_id: t for t in view.tasks} if view else {}
    steps = [
        StepView(
            step_id=task.key,
            name=task.arguments.get("task_display_name") or task.key,
            status=STEP_STATUS.get(tasks[task.key].state if task.key in tasks else None, "pending"),
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
        status=status_of(view),
        priority=plan.definition.priority,
        schedule=plan.definition.schedule_spec.describe() or None,
        created_at=aware(plan.definition.created_at) if plan.definition.created_at else None,
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
        metrics=run_metrics(view),
        error=RunError.of(view),
    )


def cancel(workflow_id: str, request: CancelWorkflow, *, username: str) -> WorkflowCancelled:
    if WorkflowRepository().path_of(workflow_id) is None:
        raise not_found(workflow_id)
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
