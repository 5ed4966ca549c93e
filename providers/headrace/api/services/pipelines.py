"""Pipelines: drafted from a sentence, deployed as a definition file, run and followed as a DAG.

A pipeline *is* a workflow definition. ``generate`` keeps it as a draft (in the workflows folder's
``.drafts/``, which the loader never reads); ``deploy`` writes it where the loader reads it, asks
the dag-processor to parse it now and unpauses it; ``run`` triggers a DagRun.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from airflow.models.connection import Connection
from airflow.utils.session import create_session
from sqlalchemy import select

from headrace.api.datamodels.pipelines import (
    Deployment,
    DeployRequest,
    GeneratedPipeline,
    GenerateRequest,
    Pipeline,
    PipelineRun,
    PipelineStatus,
    RunRequest,
    Validation,
)
from headrace.api.errors import ApiError, NotFound, RequestValidationError
from headrace.api.security import Principal, readable_dag_ids
from headrace.api.services import workflow_runs
from headrace.api.services.definitions import checked_plan, stored_plan
from headrace.api.services.lakehouse import lakehouse
from headrace.workflows.drafting import DraftError, Vocabulary, default_vocabulary, draft
from headrace.workflows.model import param_problems
from headrace.workflows.render import render
from headrace.workflows.repository import WorkflowRepository


class PipelineNotFound(NotFound):
    code = "RESOURCE_NOT_FOUND"


def _not_found(pipeline_id: str) -> ApiError:
    return PipelineNotFound(f"Pipeline '{pipeline_id}' not found", details={"pipeline_id": pipeline_id})


def vocabulary() -> Vocabulary:
    """What the drafting grammar may name: this deployment's catalogs and connections."""
    catalogs = [c.name for c in lakehouse().list_catalogs()]
    connections: dict[str, list[str]] = {}
    with create_session() as session:
        for conn_id, conn_type in session.execute(select(Connection.conn_id, Connection.conn_type)):
            connections.setdefault(conn_type or "", []).append(conn_id)
    return default_vocabulary(catalogs=catalogs, connections=connections)


def generate(request: GenerateRequest) -> GeneratedPipeline:
    try:
        drafted = draft(request.description, vocabulary(), project=request.project_id)
    except DraftError as exc:
        raise RequestValidationError.for_field("description", str(exc)) from None
    repo = WorkflowRepository()
    data = dict(drafted.definition)
    data["id"] = _free_id(repo, data["id"])
    data["created_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    plan = checked_plan(data, f"pipeline {data['id']}", build=request.options.validate_)
    warnings = list(drafted.warnings)
    if request.options.optimize:
        warnings.append("options.optimize: no effect, a generated definition has nothing to optimise")
    repo.write(data, draft=True)
    status = "skipped" if not request.options.validate_ else "passed_with_warnings" if warnings else "passed"
    return GeneratedPipeline(
        pipeline_id=data["id"],
        name=drafted.name,
        description=drafted.description,
        code=render(plan),
        dag_definition=data,
        validation=Validation(status=status, warnings=warnings),
    )


def _free_id(repo: WorkflowRepository, wanted: str) -> str:
    taken = set(repo.ids()) | set(repo.ids(draft=True))
    candidate, n = wanted, 2
    while candidate in taken:
        candidate, n = f"{wanted}_{n}", n + 1
    return candidate


def definition(pipeline_id: str) -> tuple[dict[str, Any], bool]:
    """``(data, deployed)``: the deployed definition, else the draft; 404 when neither exists."""
    repo = WorkflowRepository()
    data = repo.read(pipeline_id)
    if data is not None:
        return data, True
    data = repo.read(pipeline_id, draft=True)
    if data is None:
        raise _not_found(pipeline_id)
    return data, False


def deploy(pipeline_id: str, request: DeployRequest) -> Deployment:
    data, _ = definition(pipeline_id)
    data = dict(data)
    if request.schedule is not None:
        data["schedule"] = request.schedule
    data["paused"] = False
    tags = [t for t in data.get("tags", []) if not str(t).startswith("environment:")]
    data["tags"] = [*tags, f"environment:{request.environment}"]
    checked_plan(data, f"pipeline {pipeline_id}")
    repo = WorkflowRepository()
    path = repo.write(data)
    draft_path = repo.path_of(pipeline_id, draft=True)
    if draft_path is not None:
        draft_path.unlink(missing_ok=True)
    workflow_runs.request_parse()
    workflow_runs.unpause(pipeline_id)
    return Deployment(
        pipeline_id=pipeline_id,
        dag_id=pipeline_id,
        environment=request.environment,
        schedule=data.get("schedule"),
        file=path.name,
        deployed_at=datetime.now(UTC),
    )


def run(pipeline_id: str, request: RunRequest, *, username: str) -> PipelineRun:
    _, deployed = definition(pipeline_id)
    if not deployed:
        raise workflow_runs.DagNotLoaded(f"Pipeline '{pipeline_id}' is a draft: deploy it first")
    plan = stored_plan(pipeline_id)
    if plan is None:  # removed since
        raise _not_found(pipeline_id)
    problems = param_problems(plan.definition.params, request.params)
    if problems:
        details = [{"field": f"params.{name}", "message": message} for name, message in problems]
        raise RequestValidationError("Invalid run parameters", details=details)
    run_id = workflow_runs.trigger(pipeline_id, conf_=request.params, username=username)
    view = workflow_runs.get_run(pipeline_id, run_id)
    deadline = time.monotonic() + request.wait_seconds
    while not request.async_ and view is not None and view.ended_at is None and time.monotonic() < deadline:
        time.sleep(1)
        view = workflow_runs.get_run(pipeline_id, run_id)
    return PipelineRun(
        pipeline_id=pipeline_id,
        run_id=run_id,
        status=view.status if view else "queued",
        params=request.params,
        started_at=view.started_at if view else None,
        ended_at=view.ended_at if view else None,
    )


def status(pipeline_id: str) -> PipelineStatus:
    _, deployed = definition(pipeline_id)
    view = workflow_runs.latest_run(pipeline_id) if deployed else None
    if view is None:
        return PipelineStatus(
            pipeline_id=pipeline_id,
            run_id=None,
            status="deployed" if deployed else "draft",
            current_task=None,
            progress=0,
            started_at=None,
            estimated_completion=None,
        )
    current = view.current
    total = len(view.tasks)
    return PipelineStatus(
        pipeline_id=pipeline_id,
        run_id=view.run_id,
        status=view.status,
        current_task=current.task_id if current else None,
        progress=round(100 * view.finished_tasks / total) if total else 0,
        started_at=view.started_at,
        estimated_completion=workflow_runs.estimated_completion(view),
        ended_at=view.ended_at,
    )


def get(pipeline_id: str) -> Pipeline:
    data, deployed = definition(pipeline_id)
    return _pipeline(data, deployed)


def list_pipelines(*, page: int, per_page: int, principal: Principal) -> tuple[list[Pipeline], int]:
    repo = WorkflowRepository()
    everything = {i: (data, False) for i, data in repo.definitions(draft=True).items()}
    everything.update({i: (data, True) for i, data in repo.definitions().items()})  # deployed wins
    readable = readable_dag_ids(principal, set(everything))
    listed = sorted(i for i in everything if i in readable)
    chosen = listed[(page - 1) * per_page : page * per_page]
    return [_pipeline(*everything[i]) for i in chosen], len(listed)


def _pipeline(data: dict[str, Any], deployed: bool) -> Pipeline:
    pipeline_id = str(data.get("id"))
    if not deployed:
        state = "draft"
    else:
        dag = workflow_runs.dag_view(pipeline_id)
        if dag is None:
            state = "pending"  # written, not parsed by Airflow yet
        else:
            state = "invalid" if dag.has_import_errors else "paused" if dag.paused else "deployed"
    return Pipeline(
        pipeline_id=pipeline_id,
        name=str(data.get("name") or pipeline_id),
        description=data.get("description"),
        status=state,
        schedule=data.get("schedule") if isinstance(data.get("schedule"), str) else None,
        dag_definition=data,
        dag_id=pipeline_id,
    )
