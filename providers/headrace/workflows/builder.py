"""A plan becomes a real Airflow DAG (the Task SDK's ``DAG``, task groups, operators, dependencies)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from airflow.sdk import DAG, Param, TaskGroup

from headrace.workflows.identifiers import FILTERS, IDENTIFIER
from headrace.workflows.plan import DagPlan, import_path, located
from headrace.workflows.source import FieldPath

HEADRACE_TAG = "headrace-workflow"


def configured_defaults() -> dict[str, Any]:
    """The ``DAG(...)`` arguments Airflow's configuration gives a DAG that does not set them.

    The DAG reads each of them from its configuration on every construction (a fifth of building a
    small DAG); the loader reads them once per load and passes them, which builds the same DAGs.
    """
    from airflow.sdk.configuration import conf

    return {
        "max_active_tasks": conf.getint("core", "max_active_tasks_per_dag"),
        "max_active_runs": conf.getint("core", "max_active_runs_per_dag"),
        "max_consecutive_failed_dag_runs": conf.getint("core", "max_consecutive_failed_dag_runs_per_dag"),
        "disable_bundle_versioning": conf.getboolean("dag_processor", "disable_bundle_versioning"),
    }


def dag_arguments(plan: DagPlan, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """``DAG(...)`` keyword arguments of a plan, the schedule and defaults resolved to Python objects;
    ``defaults`` (:func:`configured_defaults`) are given for what the definition does not set."""
    definition = plan.definition
    default_args = dict(plan.default_args)
    default_args.update({k: timedelta(seconds=v) for k, v in plan.default_durations.items()})
    args: dict[str, Any] = {
        **(defaults or {}),
        "dag_id": definition.id,
        "dag_display_name": definition.display_name,
        "description": definition.description,
        "schedule": definition.schedule_spec.airflow_value(),
        "catchup": definition.catchup,
        "is_paused_upon_creation": definition.paused,
        "tags": dag_tags(plan),
        "default_args": default_args,
        "params": {name: Param(**param_arguments(spec)) for name, spec in definition.params.items()},
        "render_template_as_native_obj": True,
    }
    if plan.filters:
        args["user_defined_filters"] = {name: FILTERS[name] for name in plan.filters}
    if definition.start_date is not None:
        args["start_date"] = start_datetime(definition.start_date)
    if definition.max_active_runs is not None:
        args["max_active_runs"] = definition.max_active_runs
    return args


def dag_tags(plan: DagPlan) -> list[str]:
    definition = plan.definition
    tags = [HEADRACE_TAG, f"priority:{definition.priority.value}", *definition.tags]
    if definition.project:
        tags.append(f"project:{definition.project}")
    return list(dict.fromkeys(tags))


def start_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


def param_arguments(spec: Any) -> dict[str, Any]:
    """``Param(...)`` keyword arguments: the JSON Schema Airflow checks a run's value against (its
    trigger form and REST API too); an ``identifier`` is a string with the identifier pattern."""
    kind = "string" if spec.type == "identifier" else spec.type
    param: dict[str, Any] = {"default": spec.default, "type": kind}
    if spec.default is None:
        param["type"] = [kind, "null"]
    if spec.type == "identifier":
        param["pattern"] = IDENTIFIER
    if spec.description:
        param["description"] = spec.description
    if spec.enum:
        param["enum"] = spec.enum
    return param


def build_dag(plan: DagPlan, defaults: dict[str, Any] | None = None) -> DAG:
    """The DAG of ``plan``; an operator that refuses its arguments becomes a located problem.

    ``defaults``: :func:`configured_defaults`, read once by a caller that builds many DAGs.
    """
    problems: list[tuple[FieldPath, str]] = []
    # Not auto-registered: the loader hands its DAGs to Airflow itself, and a dry run (validate, the
    # import-error file) must not define DAGs at all.
    with DAG(**dag_arguments(plan, defaults), auto_register=False) as dag:
        groups: dict[tuple[str, ...], TaskGroup] = {}
        for path in plan.groups:
            groups[path] = TaskGroup(path[-1], parent_group=groups.get(path[:-1]))
        nodes: dict[str, Any] = {".".join(path): group for path, group in groups.items()}
        for task in plan.tasks:
            arguments = dict(task.arguments)
            arguments.update({k: import_path(v) for k, v in task.callable_arguments.items()})
            arguments.update({k: timedelta(seconds=v) for k, v in task.duration_arguments.items()})
            try:
                nodes[task.key] = import_path(task.operator)(
                    task_id=task.task_id, task_group=groups.get(task.group), **arguments
                )
            except Exception as exc:  # an operator's own argument checks: report, do not crash the loader
                problems.append((task.path, f"{type(exc).__name__}: {exc}"))
        for upstream, downstream in plan.edges:
            if upstream in nodes and downstream in nodes:
                nodes[upstream] >> nodes[downstream]
    if problems:
        raise located(plan.name, plan.text, problems)
    return dag
