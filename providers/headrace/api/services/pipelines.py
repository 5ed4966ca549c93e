"""Pipelines: drafted from a sentence, deployed as a definition file, run and followed as a DAG.

A pipeline *is* a workflow definition. ``generate`` keeps it as a draft (in the definitions
folder's ``.drafts/``, which the loader never reads); ``deploy`` writes it into the definitions
folder, where the loader reads it (never into the workflows folder of the checkout), asks the
dag-processor to parse it now and unpauses it; ``run`` checks the params (an ``identifier`` against
its pattern) and triggers a DagRun. Connection ids are fixed when deploying, never run parameters.
"""

from __future__ import annotations

import copy
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
from headrace.api.datamodels.workflows import RunError
from headrace.api.errors import ApiError, Conflict, NotFound, RequestValidationError
from headrace.api.services import nl_query, workflow_runs
from headrace.api.services.definitions import ReadableDagIds, checked_plan, stored_plan
from headrace.api.services.lakehouse import lakehouse
from headrace.nlq.llm import LlmError
from headrace.workflows.drafting import Draft, DraftError, Vocabulary, default_vocabulary, draft
from headrace.workflows.drafting.llm import draft_with_llm
from headrace.workflows.model import param_problems
from headrace.workflows.plan import DagPlan
from headrace.workflows.render import render
from headrace.workflows.repository import ReadOnlyDefinition, WorkflowRepository


class PipelineNotFound(NotFound):
    code = "RESOURCE_NOT_FOUND"


class ReadOnlyPipeline(Conflict):
    code = "READ_ONLY_DEFINITION"


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
    """Drafted by the configured LLM when there is one and its definition passes every check, by the
    built-in grammar otherwise (the LLM's failure is then the first warning)."""
    known = vocabulary()
    repo = WorkflowRepository()
    drafted, data, plan, fallback = None, {}, None, None
    settings = nl_query.llm_settings()
    if settings is not None:
        try:
            drafted = draft_with_llm(settings, request.description, known, project=request.project_id)
            data, plan = _checked(repo, drafted, request)
        except (LlmError, DraftError) as exc:
            drafted, fallback = None, f"LLM not used: {exc}"
        except RequestValidationError as exc:
            problems = ", ".join(sorted({d["field"] for d in exc.details or []})) or exc.message
            drafted, fallback = None, f"LLM not used: its definition did not pass the checks ({problems})"
    if drafted is None:
        try:
            drafted = draft(request.description, known, project=request.project_id)
        except DraftError as exc:
            raise RequestValidationError.for_field("description", str(exc)) from None
        data, plan = _checked(repo, drafted, request)
    warnings = ([fallback] if fallback else []) + list(drafted.warnings)
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


def _checked(
    repo: WorkflowRepository, drafted: Draft, request: GenerateRequest
) -> tuple[dict[str, Any], DagPlan]:
    """The draft's definition under a free id, and its plan (a 400 naming every problem otherwise)."""
    data = dict(drafted.definition)
    data["id"] = _free_id(repo, data["id"])
    data["created_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    return data, checked_plan(data, f"pipeline {data['id']}", build=request.options.validate_)


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
    repo = WorkflowRepository()
    if (shipped := repo.read_only(pipeline_id)) is not None:
        raise _read_only(ReadOnlyDefinition(pipeline_id, shipped))
    data = _with_connections(dict(data), request.connections)
    if request.schedule is not None:
        data["schedule"] = request.schedule
    data["paused"] = False
    tags = [t for t in data.get("tags", []) if not str(t).startswith("environment:")]
    data["tags"] = [*tags, f"environment:{request.environment}"]
    checked_plan(data, f"pipeline {pipeline_id}")
    try:
        path = repo.write(data)
    except ReadOnlyDefinition as exc:  # a file in the workflows folder appeared meanwhile
        raise _read_only(exc) from None
    repo.remove_draft(pipeline_id)
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


def _read_only(exc: ReadOnlyDefinition) -> ReadOnlyPipeline:
    return ReadOnlyPipeline(str(exc), details={"pipeline_id": exc.workflow_id, "file": exc.path.name})


def _with_connections(data: dict[str, Any], connections: dict[str, str]) -> dict[str, Any]:
    """``data`` with each ``connections`` argument (``source_conn_id`` ...) set on the operator steps
    that take it: connection ids are fixed here, at deploy time. An argument no step takes is a 400."""
    if not connections:
        return data
    data["steps"] = steps = copy.deepcopy(data.get("steps", []))
    used: set[str] = set()
    for step in steps:
        arguments = (
            step.get("arguments") if isinstance(step, dict) and step.get("kind") == "operator" else None
        )
        if isinstance(arguments, dict):
            for name in connections.keys() & arguments.keys():
                arguments[name] = connections[name]
                used.add(name)
    if unused := sorted(set(connections) - used):
        details = [
            {"field": f"connections.{name}", "message": "no operator step of this pipeline takes it"}
            for name in unused
        ]
        raise RequestValidationError("Invalid deployment", details=details)
    return data


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
        error=RunError.of(view),
    )


def get(pipeline_id: str) -> Pipeline:
    data, deployed = definition(pipeline_id)
    return _pipeline(data, deployed)


def list_pipelines(
    *, page: int, per_page: int, readable_dag_ids: ReadableDagIds
) -> tuple[list[Pipeline], int]:
    """One page of the pipelines (deployed and drafts, by id) whose DAG id ``readable_dag_ids`` keeps,
    and how many there are in all."""
    repo = WorkflowRepository()
    everything = {i: (data, False) for i, data in repo.definitions(draft=True).items()}
    everything.update({i: (data, True) for i, data in repo.definitions().items()})  # deployed wins
    readable = readable_dag_ids(set(everything))
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
