"""Requests and responses of the workflows-api namespace."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, field_validator

from headrace.api.datamodels.common import MAX_OFFSET, StrictModel
from headrace.storage.filetypes import FileType
from headrace.workflows.model import TABLE_NAME, Configuration, Priority
from headrace.workflows.schedule import parse_schedule

if TYPE_CHECKING:
    from headrace.api.services.workflow_runs import RunView

WorkflowStatus = Literal["created", "running", "completed", "failed", "cancelling", "cancelled"]


class Requirements(StrictModel):
    """What a workflow does: its data source, target table, schedule and write mode."""

    data_source: str = Field(
        min_length=1,
        max_length=2000,
        description="Files in object storage (s3://bucket/prefix/*.csv), or a lakehouse table "
        "(catalog.schema.table).",
    )
    target: str = Field(pattern=TABLE_NAME.replace("{1,2}", "{2}"), description="catalog.schema.table")
    schedule: str | None = Field(None, description="cron, preset or 'every 15 minutes'; none: run once now.")
    priority: Priority = Priority.MEDIUM
    file_type: FileType | None = Field(None, description="When the data source's extension does not say.")
    write_mode: Literal["append", "overwrite", "merge"] = "append"
    merge_keys: list[str] = Field(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            parse_schedule(value)
        return value


class CreateWorkflow(StrictModel):
    """A new workflow: name, requirements and execution configuration."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    requirements: Requirements
    configuration: Configuration = Field(default_factory=Configuration)


class AgentAssignment(BaseModel):
    """Where a workflow step runs: its executor, pool and queue."""

    agent_id: str = Field(description="executor:pool:queue the step runs on")
    role: str
    specialization: str
    step_id: str
    executor: str
    pool: str
    queue: str


class WorkflowCreated(BaseModel):
    """A workflow just created, with the agents its steps are assigned to."""

    workflow_id: str
    name: str
    status: Literal["created"] = "created"
    created_at: datetime
    estimated_duration: int | None = Field(
        description="Seconds: median of earlier successful runs; null without history."
    )
    agents_assigned: list[AgentAssignment]


class Progress(BaseModel):
    """How many tasks of a workflow's run have finished."""

    completed_tasks: int
    total_tasks: int
    percentage: int


class CurrentStep(BaseModel):
    """The step of a workflow's run that is in progress."""

    step_name: str
    status: Literal["in_progress"] = "in_progress"
    started_at: datetime | None
    estimated_completion: datetime | None


class StepView(BaseModel):
    """One step of a workflow's execution plan and its state."""

    step_id: str
    name: str
    status: str
    started_at: datetime | None = None
    duration: float | None = None
    records_processed: int | None = None


class ExecutionPlan(BaseModel):
    """The steps of a workflow, in order."""

    steps: list[StepView]


class RunError(BaseModel):
    """Why a run failed: the step that failed first and the message it failed with (null otherwise)."""

    step: str | None = Field(
        description="The failed step's task id; null when the run failed without a failed task."
    )
    message: str = Field(
        description="What the step's operator reported (an ingestion, transform, check or job error), "
        "else its state and try number; the task log in the Airflow UI has the rest."
    )
    state: str | None = Field(description="Airflow's state of the failed task instance.")
    try_number: int | None = Field(description="The try it failed on.")

    @classmethod
    def of(cls, view: RunView | None) -> RunError | None:
        failure = view.failure if view else None
        return None if failure is None else cls(**asdict(failure))


class RunMetrics(BaseModel):
    """Records, volume, rate and errors of a workflow's run."""

    records_processed: int
    data_volume_mb: float
    processing_rate: float | None = Field(description="Records per second of run time.")
    error_count: int


class Workflow(BaseModel):
    """A workflow followed through its latest run: progress, plan and metrics."""

    workflow_id: str
    name: str
    status: WorkflowStatus
    priority: Priority
    schedule: str | None
    created_at: datetime | None
    run_id: str | None
    progress: Progress
    current_step: CurrentStep | None
    execution_plan: ExecutionPlan
    metrics: RunMetrics
    error: RunError | None = Field(
        None, description="Set when the latest run failed: its failed step and that step's error."
    )


class WorkflowSummary(BaseModel):
    """A workflow as listed: status, priority and progress."""

    workflow_id: str
    name: str
    status: WorkflowStatus
    priority: Priority
    created_at: datetime | None
    progress: int


class Pagination(BaseModel):
    """Where a page of a list stands in the whole list."""

    total: int
    limit: int
    offset: int
    has_next: bool


class WorkflowList(BaseModel):
    """A page of workflows."""

    workflows: list[WorkflowSummary]
    pagination: Pagination


class WorkflowListQuery(StrictModel):
    """Query parameters of GET /workflows: filters and paging."""

    status: WorkflowStatus | None = None
    priority: Priority | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CancelWorkflow(StrictModel):
    """Cancel a workflow's run: the reason and whether to stop running tasks."""

    reason: str = Field("Cancelled through the API", min_length=1, max_length=500)
    force: bool = Field(
        False, description="Stop running tasks now; otherwise no new task starts and running ones finish."
    )


class WorkflowCancelled(BaseModel):
    """Answer to cancelling a workflow's run."""

    workflow_id: str
    run_id: str
    status: Literal["cancelling"] = "cancelling"
    message: str
    cancelled_at: datetime
    force: bool


class StepMetrics(BaseModel):
    """Duration, records and tries of one step of a workflow's run."""

    step_name: str
    status: str
    duration: float | None
    records_processed: int | None
    tries: int
    success_rate: float | None = Field(description="Successful tries / all tries of the step in this run.")
    validation_errors: int | None = Field(None, description="Check steps: rows failing their checks.")


class ExecutionMetrics(BaseModel):
    """Time, records and volume of a workflow's whole run."""

    total_duration: float | None
    processing_time: float
    overhead_time: float | None
    records_processed: int
    processing_rate: float | None
    data_volume_mb: float


class QualityMetrics(BaseModel):
    """The data-quality checks of a workflow's run and their failures."""

    checks_run: int
    checks_failed: int
    failing_rows: int


class WorkflowMetrics(BaseModel):
    """Metrics of a workflow's latest run: execution, steps and quality."""

    workflow_id: str
    run_id: str | None
    execution_metrics: ExecutionMetrics
    step_metrics: list[StepMetrics]
    quality_metrics: QualityMetrics
