"""``GET /observability/metrics`` (pipelines-api): run history of pipelines, ingestion and binary jobs.

Reading run history is reading DAG runs; only DAGs the caller may read are counted.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

from headrace.api.datamodels.observability import ObservabilityMetrics, ObservabilityQuery
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Principal, Scope, dag, readable_dag_ids
from headrace.api.services import observability as service


@endpoint(
    "/observability/metrics",
    "GET",
    Namespace.CONNECTORS,
    summary="Time-bucketed pipeline metrics",
    permission=dag("GET", Scope.READ, DagAccessEntity.RUN),
    query=ObservabilityQuery,
    response=ObservabilityMetrics,
)
def observability_metrics(principal: Principal, query: ObservabilityQuery):
    """`metric` is one of `pipeline_executions`, `pipeline_duration_seconds`, `records_processed`,
    `ingestion_jobs`, `job_queue_jobs` (another is a 400 naming them); `start` and `end` bound the
    window (default: the last 24 hours), `step` the bucket width (default `1h`), `pipeline` one
    series. Points carry `labels{pipeline, status}`; `aggregates` cover the whole window."""
    return service.observe(query, lambda ids: readable_dag_ids(principal, ids))
