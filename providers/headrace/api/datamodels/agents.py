"""Agents (workflows-api): the moving parts of this deployment, in the contract's fields.

Agents are Airflow's own components (scheduler, triggerer, dag-processor from their ``job`` table
heartbeats; this api-server; the hosts where Airflow's executor ran task instances) and Headrace's
binary-job executors. Their ids are stable across restarts: ``<component>@<hostname>``, or the
executor's own id. Figures nobody measured are ``null``, never estimated.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# `<component>@<hostname>` or an executor's id (headrace.api.datamodels.jobs.EXECUTOR_ID, without `/`).
AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
AGENT_ID_MAX_LENGTH = 520  # "dag-processor@" + Airflow's 500-character hostname column
AgentStatus = Literal["healthy", "busy", "unhealthy", "offline"]
AgentType = Literal["scheduler", "triggerer", "dag-processor", "api-server", "worker", "executor"]


class ResourceUsage(BaseModel):
    """CPU and memory of the component's process tree, measured with psutil on this host."""

    cpu_percent: float = Field(description="Percent of one core, summed over the process and its children.")
    memory_mb: float = Field(description="Resident memory of the process and its children, MiB.")
    memory_percent: float = Field(description="That memory as a percent of the host's.")


class CurrentTask(BaseModel):
    """What a busy agent works on now."""

    task_id: str = Field(description="Task id (workers) or binary job id (executors).")
    workflow_id: str | None = Field(None, description="The DAG id of the task; null for binary jobs.")
    started_at: str | None = None


class Performance(BaseModel):
    """Counts from the metadata database; each field is null where it does not apply to the type."""

    active_workflows: int | None = Field(None, description="Scheduler: DAG runs queued or running now.")
    completed_tasks: int | None = Field(
        None,
        description="Workers: task instances that ended on this host in the last 24 hours; executors: "
        "binary jobs completed (since the executor first registered).",
    )
    failed_tasks: int | None = Field(None, description="As completed_tasks, for failures (and lost jobs).")
    success_rate: float | None = Field(
        None, description="completed / (completed + failed), 0..1; null before anything ended."
    )
    average_task_duration: float | None = Field(
        None, description="Workers: mean seconds of the task instances counted in completed_tasks."
    )
    average_response_time: float | None = Field(
        None,
        description="api-server: mean milliseconds per REST API request (all workers, since the last reset).",
    )
    active_triggers: int | None = Field(None, description="Triggerer: triggers it runs now.")
    heartbeat_age_seconds: float | None = Field(None, description="Seconds since the last heartbeat.")


class Agent(BaseModel):
    """One agent, as ``GET /agents`` lists it."""

    agent_id: str = Field(
        description="`<component>@<hostname>` or the executor's id; stable across restarts."
    )
    type: AgentType
    status: AgentStatus = Field(
        description="From the heartbeat's age: healthy within the component's health-check threshold, "
        "unhealthy up to three times it, offline beyond; busy when it runs a task or job now."
    )
    version: str | None = Field(
        None,
        description="The Airflow (or Headrace, for the api-server) version installed on this host; null "
        "for components on other hosts and for executors, which do not report one.",
    )
    hostname: str | None = None
    capabilities: list[str]
    performance: Performance
    resource_usage: ResourceUsage | None = Field(
        None, description="Only for processes on this host that psutil can find; null otherwise."
    )
    last_heartbeat: str | None = Field(None, description="ISO 8601, UTC.")
    current_task: CurrentTask | None = None


class AgentList(BaseModel):
    """Answer of GET /agents."""

    agents: list[Agent]


class PerformanceSample(BaseModel):
    """One sample. Headrace keeps no history of resource usage: the one sample is taken now."""

    timestamp: str
    cpu_percent: float | None = None
    memory_mb: float | None = None
    active_tasks: int | None = Field(None, description="Tasks or jobs running on the agent now.")
    task_completion_rate: float | None = Field(
        None, description="Tasks or jobs ended on the agent in the last hour (per hour)."
    )


class RecentTask(BaseModel):
    """A task instance (workers) or binary job attempt (executors) that ran on the agent."""

    task_id: str
    workflow_id: str | None = Field(None, description="DAG id; null for binary jobs.")
    status: str
    duration: float | None = Field(None, description="Seconds; null while it runs.")
    records_processed: int | None = Field(
        None, description="From the task's XCom result (Headrace operators report it); null otherwise."
    )


class AgentDetail(Agent):
    """Answer of GET /agents/{agent_id}: the agent plus its configuration, a sample and recent work."""

    configuration: dict[str, Any] = Field(
        description="The settings that govern the component, from Airflow's and Headrace's configuration."
    )
    performance_history: list[PerformanceSample]
    recent_tasks: list[RecentTask] = Field(description="Newest first, at most 10.")
