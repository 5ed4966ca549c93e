"""Checking a definition the APIs are about to write: the loader's own checks, as a 400."""

from __future__ import annotations

from typing import Any

from headrace.api.errors import RequestValidationError
from headrace.workflows.builder import build_dag
from headrace.workflows.plan import DagPlan, plan_data
from headrace.workflows.repository import WorkflowRepository
from headrace.workflows.source import DefinitionError


def checked_plan(data: dict[str, Any], name: str, *, build: bool = True) -> DagPlan:
    """The plan of ``data`` (with its DAG built as a dry run); a 400 listing every problem otherwise,
    each naming its field, so nothing the loader would refuse is ever written."""
    try:
        plan = plan_data(data, name, templates_folder=WorkflowRepository().folder / "templates")
        if build:
            build_dag(plan)
    except DefinitionError as exc:
        details = [{"field": p.field or "definition", "message": p.message} for p in exc.problems]
        raise RequestValidationError("Invalid pipeline configuration", details=details) from None
    return plan
