"""Requests and responses of the pipelines-api namespace."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from headrace.api.datamodels.common import StrictModel
from headrace.api.datamodels.workflows import RunError
from headrace.workflows.schedule import parse_schedule

ConnectionArgument = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,99}conn_id$")]
ConnectionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$")]


class GenerateOptions(StrictModel):
    """Options of pipeline generation."""

    optimize: bool = Field(
        False, description="Accepted for the contract; generated definitions have nothing to optimise."
    )
    validate_: bool = Field(
        True, alias="validate", description="Build the DAG as a dry run before answering."
    )


class GenerateRequest(StrictModel):
    """Generate a pipeline (a draft workflow definition) from a description."""

    description: str = Field(min_length=3, max_length=2000)
    project_id: str | None = Field(None, max_length=200)
    options: GenerateOptions = Field(default_factory=GenerateOptions)


class Validation(BaseModel):
    """The outcome of building a generated pipeline as a dry run."""

    status: Literal["passed", "passed_with_warnings", "skipped"]
    warnings: list[str]


class GeneratedPipeline(BaseModel):
    """A generated pipeline draft: its definition and equivalent DAG code."""

    pipeline_id: str
    name: str
    description: str
    code: str = Field(description="A standalone Python DAG file equivalent to the definition.")
    dag_definition: dict[str, Any] = Field(description="The workflow definition (what gets deployed).")
    validation: Validation
    status: Literal["draft"] = "draft"


class DeployRequest(StrictModel):
    """Deploy a pipeline: environment, schedule and connection ids to fix."""

    environment: str = Field("production", min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")
    schedule: str | None = Field(
        None, description="Replaces the definition's schedule (cron, preset, interval)."
    )
    connections: dict[ConnectionArgument, ConnectionId] = Field(
        default_factory=dict,
        description="Connection ids to fix in the definition, by argument: "
        '{"source_conn_id": "pg_prod"}. Connection ids are never run parameters.',
    )

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            parse_schedule(value)  # a ScheduleError (ValueError) becomes a 400 naming "schedule"
        return value


class Deployment(BaseModel):
    """A deployed pipeline: the DAG and definition file it became."""

    pipeline_id: str
    dag_id: str
    status: Literal["deployed"] = "deployed"
    environment: str
    schedule: str | None
    file: str = Field(description="The definition file the loader reads, in the definitions folder.")
    deployed_at: datetime
    paused: bool = False


class RunRequest(StrictModel):
    """Run a pipeline with parameters, optionally waiting for it to finish."""

    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Run parameters, checked against the definition's params (an identifier against "
        "its pattern) before the run is triggered.",
    )
    async_: bool = Field(
        True, alias="async", description="False: wait (up to wait_seconds) for the run to finish."
    )
    wait_seconds: int = Field(60, ge=1, le=600)


class PipelineRun(BaseModel):
    """A run of a pipeline: its id, status, parameters and times."""

    pipeline_id: str
    run_id: str
    status: str
    params: dict[str, Any]
    started_at: datetime | None = None
    ended_at: datetime | None = None


class PipelineStatus(BaseModel):
    """A pipeline's latest run: status, current task, progress and estimates."""

    pipeline_id: str
    run_id: str | None
    status: str = Field(
        description="draft, deployed (no run yet), queued, running, completed, failed or cancelled."
    )
    current_task: str | None
    progress: int = Field(description="Finished tasks of the run, in percent of all its tasks.")
    started_at: datetime | None
    estimated_completion: datetime | None = Field(
        description="Start plus the median duration of earlier successful runs; null without history."
    )
    ended_at: datetime | None = None
    error: RunError | None = Field(
        None, description="Set when the latest run failed: its failed step and that step's error."
    )


class Pipeline(BaseModel):
    """A pipeline: its definition, schedule, status and DAG."""

    pipeline_id: str
    name: str
    description: str | None
    status: str = Field(description="draft, deployed, paused or invalid.")
    schedule: str | None
    dag_definition: dict[str, Any]
    dag_id: str


class PipelineListQuery(StrictModel):
    """Query parameters of GET /pipelines: paging."""

    page: int = Field(1, ge=1)
    per_page: int = Field(20, ge=1, le=100)
