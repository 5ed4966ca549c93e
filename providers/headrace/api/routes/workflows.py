"""workflows-api: workflows created from requirements, followed step by step, listed and cancelled."""

from __future__ import annotations

from functools import partial

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

from headrace.api.datamodels.workflows import (
    CancelWorkflow,
    CreateWorkflow,
    Workflow,
    WorkflowCancelled,
    WorkflowCreated,
    WorkflowList,
    WorkflowListQuery,
    WorkflowMetrics,
)
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Principal, Scope, authorize_dag, dag, readable_dag_ids
from headrace.api.services import workflows

_NS = Namespace.WORKFLOWS
_READ = dag("GET", Scope.READ)
_WRITE = dag("PUT", Scope.WRITE)
_CANCEL = dag("PUT", Scope.WRITE, DagAccessEntity.RUN)


@endpoint(
    "/workflows",
    "POST",
    _NS,
    summary="Create a workflow",
    permission=_WRITE,
    body=CreateWorkflow,
    response=WorkflowCreated,
    status=201,
    errors=(409,),
)
def create_workflow(principal: Principal, body: CreateWorkflow):
    """Writes a definition that loads ``requirements.data_source`` into ``requirements.target`` and
    lets Airflow run it: on ``schedule``, or once now without one. A name in use is a 409."""
    return workflows.create(body, username=principal.username)


@endpoint(
    "/workflows",
    "GET",
    _NS,
    summary="List workflows",
    permission=_READ,
    query=WorkflowListQuery,
    response=WorkflowList,
)
def list_workflows(principal: Principal, query: WorkflowListQuery):
    """Newest first; filters ``status``, ``priority``, ``created_after``, ``created_before``;
    ``limit`` (default 20, max 100) and ``offset``. Only workflows whose DAG the caller may read."""
    return workflows.list_workflows(query, readable_dag_ids=partial(readable_dag_ids, principal))


@endpoint(
    "/workflows/<workflow_id>",
    "GET",
    _NS,
    summary="Status and progress of a workflow",
    permission=_READ,
    response=Workflow,
    errors=(404,),
)
def get_workflow(workflow_id: str, principal: Principal):
    """The latest run: progress, the running step, every step with its duration and records."""
    authorize_dag(principal, "GET", workflow_id)
    return workflows.get(workflow_id)


@endpoint(
    "/workflows/<workflow_id>",
    "DELETE",
    _NS,
    summary="Cancel a workflow's running run",
    permission=_CANCEL,
    body=CancelWorkflow,
    response=WorkflowCancelled,
    status=202,
    errors=(404, 409),
)
def cancel_workflow(workflow_id: str, principal: Principal, body: CancelWorkflow):
    """``force``: running steps are stopped now. Otherwise no new step starts and running ones finish.
    The run's note in Airflow records who cancelled it and why."""
    authorize_dag(principal, "PUT", workflow_id, DagAccessEntity.RUN)
    return workflows.cancel(workflow_id, body, username=principal.username)


@endpoint(
    "/workflows/<workflow_id>/metrics",
    "GET",
    _NS,
    summary="Metrics of a workflow's latest run, per step",
    permission=_READ,
    response=WorkflowMetrics,
    errors=(404,),
)
def workflow_metrics(workflow_id: str, principal: Principal):
    authorize_dag(principal, "GET", workflow_id)
    return workflows.metrics(workflow_id)
