"""Ingestion API models (lakehouse-api); the request body is :class:`IngestionSpec` itself."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from headrace.api.datamodels.common import MAX_OFFSET, StrictModel
from headrace.ingestion.spec import BucketDetails, ExecuteConfig

JobStatus = Literal["starting", "running", "completed", "failed", "cancelled"]


class IngestionJobCreated(BaseModel):
    """An ingestion job just created: a run of the headrace_ingestion DAG."""

    instance_id: str
    job_id: str
    application_id: str
    username: str
    start_timestamp: str | None = Field(description="Nanoseconds since the Unix epoch, as a string.")
    status: JobStatus
    source_data_files: str | list[str] | None
    target_table: str | None


class IngestionJob(IngestionJobCreated):
    """An ingestion job with its progress and, once done, what it loaded."""

    end_timestamp: str | None
    details: str
    rows_written: int | None = None
    bytes_read: int | None = None
    files_loaded: list[str] | None = None
    files_skipped: list[str] | None = None
    version: str | None = Field(None, description="Iceberg snapshot id, Delta version or Hive commit id.")


class JobListQuery(StrictModel):
    """Query parameters of GET /ingestion/jobs: a status filter and paging."""

    status: JobStatus | None = None
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class JobCancelled(BaseModel):
    """Answer to cancelling an ingestion job."""

    job_id: str
    status: Literal["cancelled"] = "cancelled"
    message: str = "Job cancelled successfully"


class DefaultConfig(BaseModel):
    """The defaults an ingestion spec gets for what it leaves out."""

    engine_id: str
    execute_config: ExecuteConfig
    bucket_details: BucketDetails


class ValidationResult(BaseModel):
    """Whether an ingestion spec is valid, and its errors if not."""

    valid: bool
    errors: list[str]
