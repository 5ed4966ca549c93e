"""Definitions in the APIs: one the client sends is checked like the loader would (a 400 when bad);
one already on disk is planned as is (a 409 ``INVALID_DEFINITION`` when it no longer validates)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headrace.api.errors import RequestValidationError
from headrace.workflows.builder import build_dag
from headrace.workflows.plan import DagPlan, plan_data, plan_file
from headrace.workflows.repository import WorkflowRepository
from headrace.workflows.source import DefinitionError

# The subset of the given DAG ids the caller may read. Routes bind it to the caller
# (``functools.partial(headrace.api.security.readable_dag_ids, principal)``), so services that list
# definitions never see who is asking, only what they may read.
ReadableDagIds = Callable[[set[str]], set[str]]


def checked_plan(data: dict[str, Any], name: str, *, build: bool = True) -> DagPlan:
    """The plan of ``data`` (with its DAG built as a dry run); a 400 listing every problem otherwise,
    each naming its field, so nothing the loader would refuse is ever written."""
    try:
        plan = plan_data(data, name, templates_folder=WorkflowRepository().templates_folder)
        if build:
            build_dag(plan)
    except DefinitionError as exc:
        details = [{"field": p.field or "definition", "message": p.message} for p in exc.problems]
        raise RequestValidationError("Invalid pipeline configuration", details=details) from None
    return plan


def stored_plan(workflow_id: str) -> DagPlan | None:
    """The plan of a deployed definition, read from its file (so problems have lines); None when no
    file defines it. A DefinitionError answers 409 INVALID_DEFINITION."""
    repo = WorkflowRepository()
    path = repo.path_of(workflow_id)
    return None if path is None else plan_file(path, templates_folder=repo.templates_folder)
