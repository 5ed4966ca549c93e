"""``GET /observability/metrics`` (pipelines-api): time-bucketed figures from Airflow's run history.

A metric is one of :data:`METRICS`; anything else is a 400 naming the allowed values. ``step``
picks the bucket width (``30s``, ``15m``, ``1h``, ``1d``; default ``1h``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

MetricName = Literal[
    "pipeline_executions",
    "pipeline_duration_seconds",
    "records_processed",
    "ingestion_jobs",
    "job_queue_jobs",
]
STEP_PATTERN = r"^[1-9][0-9]{0,5}[smhd]$"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
METRIC_DESCRIPTION = (
    "`pipeline_executions`: runs of Headrace pipelines and workflows started in the bucket, per "
    "pipeline and status; `pipeline_duration_seconds`: mean seconds of those runs that ended, by the "
    "bucket they started in; `records_processed`: records their tasks reported (XCom "
    "`records_processed` or `rows_written`), by the bucket the run started in; `ingestion_jobs`: "
    "ingestion jobs (runs of `headrace_ingestion`) started; `job_queue_jobs`: binary jobs submitted, "
    "with the job type as `pipeline`."
)


class ObservabilityQuery(BaseModel):
    """Query of GET /observability/metrics."""

    start: datetime | None = Field(None, description="Start of the window (ISO 8601; default end - 24 h).")
    end: datetime | None = Field(None, description="End of the window, exclusive (ISO 8601; default now).")
    metric: MetricName = Field("pipeline_executions", description=METRIC_DESCRIPTION)
    step: str = Field(
        "1h",
        pattern=STEP_PATTERN,
        description="Bucket width: a number and a unit, s, m, h or d (e.g. `15m`). At most "
        "[headrace] observability_max_buckets buckets per answer.",
    )
    pipeline: str | None = Field(None, max_length=250, description="Only this pipeline (DAG id or job type).")

    @field_validator("step")
    @classmethod
    def _known(cls, value: str) -> str:
        if not re.match(STEP_PATTERN, value):
            raise ValueError("must be a number and one of s, m, h, d, e.g. 1h")
        return value

    @property
    def step_seconds(self) -> int:
        return int(self.step[:-1]) * _UNIT_SECONDS[self.step[-1]]


class MetricLabels(BaseModel):
    """Which series a point belongs to."""

    pipeline: str = Field(description="The DAG id (pipelines, workflows, ingestion) or the binary job type.")
    status: Literal["success", "failed", "running", "queued", "cancelled"]


class MetricPoint(BaseModel):
    """One bucket of one series; buckets without data are left out."""

    timestamp: str = Field(description="The bucket's start, ISO 8601 UTC.")
    value: float
    labels: MetricLabels


class Aggregates(BaseModel):
    """Over the whole window, for the asked metric's runs or jobs."""

    total: float = Field(
        description="Runs or jobs in the window (pipeline_executions, pipeline_duration_seconds, "
        "ingestion_jobs, job_queue_jobs), or the records (records_processed)."
    )
    success_rate: float | None = Field(
        None, description="success / (success + failed), 0..1; null when none ended."
    )
    avg_duration_seconds: float | None = Field(
        None, description="Mean seconds of those that ended; null when none did."
    )


class ObservabilityMetrics(BaseModel):
    """Answer of GET /observability/metrics."""

    metric: MetricName
    start: str
    end: str
    step_seconds: int
    metrics: list[MetricPoint]
    aggregates: Aggregates
