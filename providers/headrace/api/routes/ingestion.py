"""Ingestion API (lakehouse-api): jobs are runs of the shipped ``headrace_ingestion`` DAG."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

from headrace import config
from headrace.api.datamodels.ingestion import (
    DefaultConfig,
    IngestionJob,
    IngestionJobCreated,
    JobCancelled,
    JobListQuery,
    ValidationResult,
)
from headrace.api.errors import RequestValidationError
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Principal, Scope, authenticated, dag
from headrace.api.services import ingestion_jobs
from headrace.api.services.lakehouse import lakehouse
from headrace.ingestion.spec import BucketDetails, ExecuteConfig, IngestionSpec, parse_spec, validation_errors
from headrace.lakehouse.errors import LakehouseError
from headrace.storage.filetypes import FileType

_NS = Namespace.INGESTION
# Every ingestion job is a run of one DAG: a role must be allowed that DAG, not just some DAG.
_READ = dag("GET", Scope.READ, DagAccessEntity.RUN, dag_id=ingestion_jobs.DAG_ID)
_TRIGGER = dag("POST", Scope.WRITE, DagAccessEntity.RUN, dag_id=ingestion_jobs.DAG_ID)


def _unknown_engine(spec: IngestionSpec) -> str | None:
    engines = config.engines()
    if spec.engine_id is None or spec.engine_id in engines:
        return None
    return f"Unknown engine_id '{spec.engine_id}'. Known engines: {', '.join(sorted(engines))}"


def _job(view: ingestion_jobs.JobView) -> IngestionJob:
    result = view.result or {}
    return IngestionJob(
        instance_id=ingestion_jobs.INSTANCE_ID,
        job_id=view.job_id,
        application_id=view.application_id,
        username=view.username,
        start_timestamp=view.start_timestamp,
        end_timestamp=view.end_timestamp,
        status=view.status,
        source_data_files=view.source_data_files,
        target_table=view.target_table,
        details=view.details,
        rows_written=result.get("rows_written"),
        bytes_read=result.get("bytes_read"),
        files_loaded=result.get("files"),
        files_skipped=result.get("skipped_files"),
        version=result.get("version"),
    )


@endpoint(
    "/ingestion/jobs",
    "POST",
    _NS,
    summary="Create an ingestion job",
    permission=_TRIGGER,
    body=IngestionSpec,
    body_errors=validation_errors,
    response=IngestionJobCreated,
    status=201,
    idempotent=True,
    errors=(409,),
)
def create_job(principal: Principal, body: IngestionSpec):
    """Triggers a run of the ``headrace_ingestion`` DAG with ``run_id = job_id`` and the spec as conf.
    ``job_id`` is generated when absent; an existing one is a 409. With an ``Idempotency-Key`` header
    a repeated request gets the first answer again instead of a second job."""
    if (problem := _unknown_engine(body)) is not None:
        raise RequestValidationError.for_field("engine_id", problem)
    job_id = body.job_id or ingestion_jobs.new_job_id()
    view = ingestion_jobs.create(body, job_id=job_id, username=principal.username)
    return IngestionJobCreated(**_job(view).model_dump(include=set(IngestionJobCreated.model_fields)))


@endpoint(
    "/ingestion/jobs",
    "GET",
    _NS,
    summary="List ingestion jobs",
    permission=_READ,
    query=JobListQuery,
    response=list[IngestionJob],
)
def list_jobs(query: JobListQuery):
    """Newest first; ``status`` filters, ``limit`` (default 50) and ``offset`` page."""
    return [
        _job(v) for v in ingestion_jobs.list_jobs(status=query.status, limit=query.limit, offset=query.offset)
    ]


@endpoint(
    "/ingestion/jobs/<job_id>",
    "GET",
    _NS,
    summary="Status of an ingestion job",
    permission=_READ,
    response=IngestionJob,
    errors=(404,),
)
def get_job(job_id: str):
    return _job(ingestion_jobs.get(job_id))


@endpoint(
    "/ingestion/jobs/<job_id>",
    "DELETE",
    _NS,
    summary="Cancel a queued or running ingestion job",
    permission=_TRIGGER,
    response=JobCancelled,
    errors=(404, 409),
)
def cancel_job(principal: Principal, job_id: str):
    """The run is marked failed and its running task is stopped; the table is left as it was."""
    ingestion_jobs.cancel(job_id, username=principal.username)
    return JobCancelled(job_id=job_id)


@endpoint(
    "/ingestion/config/default",
    "GET",
    _NS,
    summary="Default engine, execute_config and bucket",
    permission=authenticated(),
    response=DefaultConfig,
)
def default_config():
    bucket_type = "minio" if config.storage_conn_id() else "local"
    return DefaultConfig(
        engine_id=config.default_engine(),
        execute_config=ExecuteConfig(),
        bucket_details=BucketDetails(bucket_name=config.default_bucket(), bucket_type=bucket_type),
    )


@endpoint(
    "/ingestion/file-types",
    "GET",
    _NS,
    summary="Supported file types",
    permission=authenticated(),
    response=list[str],
)
def file_types():
    return [t.value for t in FileType]


@endpoint(
    "/ingestion/validate",
    "POST",
    _NS,
    summary="Validate an ingestion job without creating it",
    permission=_READ,
    body=IngestionSpec,
    validate_body=False,  # a bad spec is an answer here (valid: false), not a 400
    response=ValidationResult,
)
def validate(body: Any):
    """Every problem at once: the spec's fields, and whether the target catalog exists. Nothing is
    created; the answer is 200 with ``valid: false`` for a bad spec."""
    spec, errors = parse_spec(body)
    messages = [e["message"] for e in errors]
    if spec is not None:
        if (problem := _unknown_engine(spec)) is not None:
            messages.append(problem)
        try:
            lakehouse().get_catalog(spec.target.catalog)
        except LakehouseError as exc:
            messages.append(exc.message)
    return ValidationResult(valid=not messages, errors=messages)
