"""``GET /metrics`` as JSON, in the workflows-api shape (Prometheus text is asked for with ``Accept``).

Every figure is computed from real state when asked: DagRuns, task instances and their XCom
results, the agents, the metadata database and psutil. A figure that cannot be known here is
``null``; each field's description says when.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SystemHealth(BaseModel):
    """The overall status of GET /health (metadata DB, scheduler, storage, catalog DB)."""

    status: Literal["healthy", "degraded", "unhealthy"]
    uptime_seconds: float = Field(
        description="Seconds since this api-server started (the same in all its workers)."
    )
    version: str = Field(description="Headrace's version.")


class SystemWorkflowMetrics(BaseModel):
    """DAG runs of Headrace pipelines and workflows (DAGs tagged `headrace-workflow`); today is UTC."""

    active_workflows: int = Field(description="Runs queued or running now.")
    completed_today: int = Field(description="Runs that succeeded since midnight UTC.")
    failed_today: int = Field(description="Runs that failed since midnight UTC.")
    success_rate: float | None = Field(
        None,
        description="completed_today / (completed_today + failed_today), 0..1; null when none ended today.",
    )
    average_duration: float | None = Field(
        None, description="Mean seconds of the runs that succeeded today; null when none did."
    )


class AgentMetrics(BaseModel):
    """Counts over GET /agents."""

    total_agents: int
    healthy_agents: int
    busy_agents: int
    unhealthy_agents: int
    offline_agents: int
    average_cpu_usage: float | None = Field(
        None, description="Mean cpu_percent of the agents psutil measured on this host; null when none."
    )
    average_memory_usage: float | None = Field(
        None, description="Mean memory_mb (MiB) of the same agents; null when none."
    )


class DataMetrics(BaseModel):
    """What Headrace's tasks (pipelines, workflows and ingestion jobs) reported in their XCom results
    since midnight UTC."""

    records_processed_today: int = Field(description="Sum of records_processed (or rows_written) results.")
    data_volume_mb_today: float = Field(description="Sum of bytes_read results, in MiB.")
    processing_rate: float | None = Field(
        None,
        description="records_processed_today / the run time (seconds) of the tasks that reported "
        "records: records per second; null when no task reported any.",
    )
    error_rate: float | None = Field(
        None,
        description="Failed task instances / ended task instances of those DAGs today; null when none ended.",
    )


class InfrastructureMetrics(BaseModel):
    """The metadata database and the storage root, measured when asked."""

    database_connections: int | None = Field(
        None,
        description="Connections open to the metadata database, as the server counts them (PostgreSQL "
        "pg_stat_activity, MySQL/MariaDB Threads_connected); null on SQLite, which has no server.",
    )
    cache_hit_rate: float | None = Field(
        None,
        description="The metadata database's buffer cache hit ratio, 0..1 (PostgreSQL blks_hit / "
        "(blks_hit + blks_read); MySQL/MariaDB InnoDB buffer pool reads); Headrace has no cache of its "
        "own. Null on SQLite or when the server does not say.",
    )
    network_latency_ms: float | None = Field(
        None, description="Round trip of `SELECT 1` to the metadata database, in ms; null when it failed."
    )
    disk_usage_percent: float | None = Field(
        None,
        description="Use of the file system holding [headrace] storage_root; null with S3 storage "
        "(`storage_conn_id` set), where there is no disk to measure.",
    )


class SystemMetrics(BaseModel):
    """Answer of GET /metrics (JSON)."""

    timestamp: str
    system_health: SystemHealth
    workflow_metrics: SystemWorkflowMetrics
    agent_metrics: AgentMetrics
    data_metrics: DataMetrics
    infrastructure_metrics: InfrastructureMetrics
