"""Authoring a workflow: a one-step definition created from ``requirements``.

``create`` turns ``requirements`` into a one-step definition (files → table with the ingestion
operator, or table → table with a SQL transform built by sqlglot from the checked, quoted name),
writes it into the definitions folder, where the loader reads it, and lets Airflow schedule it: with
a schedule it runs on that schedule, without one it runs once (``@once``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from headrace import config
from headrace.api.datamodels.workflows import AgentAssignment, CreateWorkflow, WorkflowCreated
from headrace.api.errors import Conflict, RequestValidationError
from headrace.api.services import workflow_runs
from headrace.api.services.definitions import checked_plan
from headrace.lakehouse.sql import DIALECT
from headrace.storage.filetypes import FileType
from headrace.workflows.identifiers import select_all
from headrace.workflows.plan import CHECK, INGEST, TRANSFORM, DagPlan
from headrace.workflows.repository import ReadOnlyDefinition, WorkflowRepository

_ROLES = {INGEST: "loader", TRANSFORM: "transformer", CHECK: "validator"}
_TABLE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def workflow_id_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return (slug or "workflow")[:200]


def create(request: CreateWorkflow, *, username: str) -> WorkflowCreated:
    repo = WorkflowRepository()
    workflow_id = workflow_id_for(request.name)
    for existing, data in repo.definitions().items():  # both folders: the shipped ones are taken too
        if existing == workflow_id or data.get("name") == request.name:
            raise _exists(request.name, existing)
    now = datetime.now(UTC).replace(microsecond=0)
    requirements = request.requirements
    data: dict[str, Any] = {
        "id": workflow_id,
        "name": request.name,
        "description": request.description,
        "owner": username,
        "tags": ["workflows-api"],
        "schedule": requirements.schedule or "@once",
        "start_date": now.isoformat(),
        "paused": False,
        "created_at": now.isoformat(),
        "priority": requirements.priority.value,
        "configuration": request.configuration.model_dump(exclude_none=True),
        "steps": [_load_step(request)],
    }
    plan = checked_plan(data, f"workflow {workflow_id}")
    try:
        repo.write(data)
    except ReadOnlyDefinition:  # a file in the workflows folder appeared meanwhile
        raise _exists(request.name, workflow_id) from None
    workflow_runs.request_parse()
    median = workflow_runs.median_success_seconds(workflow_id)
    return WorkflowCreated(
        workflow_id=workflow_id,
        name=request.name,
        created_at=now,
        estimated_duration=None if median is None else round(median),
        agents_assigned=agents(plan),
    )


def _exists(name: str, workflow_id: str) -> Conflict:
    return Conflict(
        f"A workflow named '{name}' already exists",
        code="WORKFLOW_EXISTS",
        details={"workflow_id": workflow_id},
    )


def _load_step(request: CreateWorkflow) -> dict[str, Any]:
    requirements = request.requirements
    source = requirements.data_source.strip()
    target = {"table": requirements.target, "write_mode": requirements.write_mode}
    if requirements.merge_keys:
        target["merge_keys"] = requirements.merge_keys
    if source.startswith("s3://"):
        file_type = requirements.file_type or _file_type(source)
        if file_type is None:
            raise RequestValidationError.for_field(
                "requirements.file_type", f"needed: the data source's extension does not say ({_types()})"
            )
        return {
            "id": "load",
            "name": "Data Loading",
            "kind": "ingest",
            "source": {"file_paths": source, "file_type": file_type.value},
            "target": target,
        }
    if _TABLE.fullmatch(source):
        step = {
            "id": "transform",
            "name": "Data Transformation",
            "kind": "transform",
            "sql": select_all(source, DIALECT, quoted=True),  # never the request's text itself
            "target": requirements.target,
            "write_mode": requirements.write_mode,
        }
        if requirements.merge_keys:
            step["merge_keys"] = requirements.merge_keys
        return step
    raise RequestValidationError.for_field(
        "requirements.data_source",
        "must be files in object storage (s3://bucket/prefix/*.csv) or a lakehouse table "
        "(catalog.schema.table); database sources are not supported",
    )


def _file_type(path: str) -> FileType | None:
    suffix = path.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    return next((t for t in FileType if t.value == suffix), None)


def _types() -> str:
    return ", ".join(t.value for t in FileType)


def agents(plan: DagPlan) -> list[AgentAssignment]:
    """Where each step runs: Airflow's executor, the step's pool and queue."""
    executor = workflow_runs.executor()
    default_queue = workflow_runs.default_queue()
    assignments = []
    for task in plan.tasks:
        pool = task.arguments.get("pool") or plan.default_args.get("pool") or "default_pool"
        queue = task.arguments.get("queue") or default_queue
        engine = task.arguments.get("engine_id") or config.default_engine()
        specialization = {INGEST: engine, TRANSFORM: engine, CHECK: "data_quality"}.get(
            task.operator, "general"
        )
        assignments.append(
            AgentAssignment(
                agent_id=f"{executor}:{pool}:{queue}",
                role=_ROLES.get(task.operator, "worker"),
                specialization=specialization,
                step_id=task.key,
                executor=executor,
                pool=pool,
                queue=queue,
            )
        )
    return assignments
