"""What the workflow views share: the step states of the contract, the 404, a workflow's plan and status.

Kept apart so authoring, listing, progress and metrics each read one workflow the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from headrace.api.datamodels.workflows import RunMetrics
from headrace.api.errors import NotFound
from headrace.api.services import workflow_runs
from headrace.api.services.definitions import stored_plan
from headrace.workflows.plan import DagPlan

_MB = 1024 * 1024
# Airflow's task instance states as the contract's step status
STEP_STATUS = {
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


def not_found(workflow_id: str) -> WorkflowNotFound:
    return WorkflowNotFound(
        f"Workflow with ID '{workflow_id}' was not found",
        details={"workflow_id": workflow_id, "suggestion": "Check the workflow ID and try again"},
    )


def plan_of(workflow_id: str) -> DagPlan:
    """The deployed workflow's plan; WORKFLOW_NOT_FOUND when no definition file has that id."""
    plan = stored_plan(workflow_id)
    if plan is None:
        raise not_found(workflow_id)
    return plan


def status_of(view: workflow_runs.RunView | None) -> str:
    """The workflow's status in the contract's words: ``created`` before its first run."""
    if view is None:
        return "created"
    return "running" if view.status == "queued" else view.status  # the contract has no "queued"


def run_metrics(view: workflow_runs.RunView | None) -> RunMetrics:
    """Records, data volume, rate and failed steps of a run (zeros before the first run)."""
    tasks = view.tasks if view else []
    records = sum(t.records_processed or 0 for t in tasks)
    duration = view.duration if view else None
    return RunMetrics(
        records_processed=records,
        data_volume_mb=round(sum(t.bytes_read or 0 for t in tasks) / _MB, 3),
        processing_rate=round(records / duration, 3) if duration else None,
        error_count=sum(1 for t in tasks if t.state == "failed"),
    )


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
