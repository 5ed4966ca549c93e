"""pipelines-api: generate a workflow definition from a sentence, deploy it, run it, follow it."""

from __future__ import annotations

from functools import partial

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from flask import jsonify, request

from headrace.api.datamodels.pipelines import (
    Deployment,
    DeployRequest,
    GeneratedPipeline,
    GenerateRequest,
    Pipeline,
    PipelineListQuery,
    PipelineRun,
    PipelineStatus,
    RunRequest,
)
from headrace.api.namespaces import Namespace
from headrace.api.pagination import page_headers
from headrace.api.registry import endpoint, to_jsonable
from headrace.api.security import Principal, Scope, authorize_dag, dag, readable_dag_ids
from headrace.api.services import pipelines

_NS = Namespace.PIPELINES
_READ = dag("GET", Scope.READ)
_WRITE = dag("PUT", Scope.WRITE)
_TRIGGER = dag("POST", Scope.WRITE, DagAccessEntity.RUN)


@endpoint(
    "/pipelines:generate",
    "POST",
    _NS,
    summary="Generate a pipeline from a description",
    permission=_WRITE,
    body=GenerateRequest,
    response=GeneratedPipeline,
    status=201,
)
def generate(body: GenerateRequest):
    """Drafts a workflow definition by a deterministic grammar over this deployment's connector types,
    catalogs, file types, schedules and check words. Every phrase it could not place is listed in
    ``validation.warnings``; nothing is invented. The draft is kept until deployed."""
    return pipelines.generate(body)


@endpoint(
    "/pipelines/<pipeline_id>:deploy",
    "POST",
    _NS,
    summary="Deploy a pipeline",
    permission=_WRITE,
    body=DeployRequest,
    response=Deployment,
    errors=(404, 409),
)
def deploy(pipeline_id: str, principal: Principal, body: DeployRequest):
    """Writes the definition where the loader reads it (atomically), asks Airflow to parse it now and
    unpauses the DAG. A definition shipped in ``[headrace] workflows_folder`` is read-only (409)."""
    authorize_dag(principal, "PUT", pipeline_id)
    return pipelines.deploy(pipeline_id, body)


@endpoint(
    "/pipelines/<pipeline_id>:run",
    "POST",
    _NS,
    summary="Run a pipeline",
    permission=_TRIGGER,
    body=RunRequest,
    response=PipelineRun,
    status=202,
    errors=(404, 409),
)
def run(pipeline_id: str, principal: Principal, body: RunRequest):
    """Triggers a DagRun with ``params`` (checked against the definition's params). With
    ``async: false`` the answer waits up to ``wait_seconds`` for the run to finish."""
    authorize_dag(principal, "POST", pipeline_id, DagAccessEntity.RUN)
    return pipelines.run(pipeline_id, body, username=principal.username)


@endpoint(
    "/pipelines/<pipeline_id>/status",
    "GET",
    _NS,
    summary="Status of a pipeline's latest run",
    permission=_READ,
    response=PipelineStatus,
    errors=(404,),
)
def status(pipeline_id: str, principal: Principal):
    authorize_dag(principal, "GET", pipeline_id)
    return pipelines.status(pipeline_id)


@endpoint(
    "/pipelines",
    "GET",
    _NS,
    summary="List pipelines",
    permission=_READ,
    query=PipelineListQuery,
    response=list[Pipeline],
)
def list_pipelines(principal: Principal, query: PipelineListQuery):
    """Deployed pipelines and drafts, by id; ``page``/``per_page`` with ``X-Total-Count``, ``X-Page``,
    ``X-Per-Page`` and ``Link`` headers. Only pipelines whose DAG the caller may read are listed."""
    items, total = pipelines.list_pipelines(
        page=query.page, per_page=query.per_page, readable_dag_ids=partial(readable_dag_ids, principal)
    )
    response = jsonify(to_jsonable(items))
    response.headers.update(
        page_headers(request.base_url, total=total, page=query.page, per_page=query.per_page)
    )
    return response


@endpoint(
    "/pipelines/<pipeline_id>",
    "GET",
    _NS,
    summary="Get a pipeline",
    permission=_READ,
    response=Pipeline,
    errors=(404,),
)
def get_pipeline(pipeline_id: str, principal: Principal):
    authorize_dag(principal, "GET", pipeline_id)
    return pipelines.get(pipeline_id)
