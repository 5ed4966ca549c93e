"""From a checked definition to a plan: which operator each task is, with which arguments, in which
task group, after which others. Plain data, so the same plan builds the DAG in the loader
(:mod:`headrace.workflows.builder`) and prints it as a standalone DAG file
(:mod:`headrace.workflows.render`); the two cannot drift apart.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from headrace import config
from headrace.workflows.identifiers import FILTER, uses_filter
from headrace.workflows.model import (
    BashStep,
    CheckStep,
    Configuration,
    IngestStep,
    JobStep,
    OperatorStep,
    PythonStep,
    TemplateStep,
    TransformStep,
    WorkflowDefinition,
    graph_problems,
)
from headrace.workflows.run_inputs import SQL_ARGUMENT, sql_problems
from headrace.workflows.source import (
    DefinitionError,
    FieldPath,
    Problem,
    did_you_mean,
    locate,
    pydantic_issues,
    read_text,
)
from headrace.workflows.templates import Template, expand, templates

INGEST = "headrace.operators.ingestion.IngestionOperator"
TRANSFORM = "headrace.operators.transform.SqlTransformOperator"
CHECK = "headrace.operators.checks.TableCheckOperator"
JOB = "headrace.operators.job_execution.JobExecutionOperator"
BASH = "airflow.providers.standard.operators.bash.BashOperator"
PYTHON = "airflow.providers.standard.operators.python.PythonOperator"
# Arguments every task gets from the definition, never from an ``operator`` step's ``arguments``.
_RESERVED = ("task_id", "dag", "task_group", "default_args")


@dataclass
class TaskPlan:
    task_id: str  # inside its group; Airflow prefixes the group ids
    group: tuple[str, ...]  # task groups, outermost first
    operator: str  # import path of the operator class
    arguments: dict[str, Any]  # JSON-ready
    callable_arguments: dict[str, str] = field(default_factory=dict)  # argument -> import path
    duration_arguments: dict[str, int] = field(default_factory=dict)  # argument -> seconds
    path: FieldPath = ()  # the step in the definition, for errors

    @property
    def key(self) -> str:
        return ".".join((*self.group, self.task_id))


@dataclass
class DagPlan:
    name: str  # the definition's file (or other name), for problems found while building
    text: str | None  # the file's text, to give those problems their lines
    definition: WorkflowDefinition
    tasks: list[TaskPlan]
    groups: list[tuple[str, ...]]  # every task group, parents before children
    edges: list[tuple[str, str]]  # (upstream, downstream) keys of tasks or groups
    default_args: dict[str, Any]
    default_durations: dict[str, int]
    filters: tuple[str, ...] = ()  # Headrace Jinja filters the tasks use (registered on the DAG)


class PlanContext:
    """What planning reads besides the definition: the templates (shipped, then ``templates_folder``'s)
    and ``[headrace] priority_pools``. Each is read on first use and kept, so a loader that plans a
    whole folder reads them once per load rather than once per definition; a template file that
    does not load fails every definition planned with this context, as it would fail each alone.
    """

    def __init__(self, templates_folder: Path | None = None) -> None:
        self.templates_folder = templates_folder
        self._templates: dict[str, Template] | None = None
        self._templates_error: Exception | None = None
        self._pools: dict[str, str | None] = {}

    def templates(self) -> dict[str, Template]:
        if self._templates_error is not None:
            raise self._templates_error
        if self._templates is None:
            try:
                self._templates = templates(self.templates_folder)
            except Exception as exc:
                self._templates_error = exc
                raise
        return self._templates

    def priority_pool(self, priority: str) -> str | None:
        if priority not in self._pools:
            self._pools[priority] = config.priority_pool(priority)
        return self._pools[priority]


def plan_file(
    path: Path, *, templates_folder: Path | None = None, context: PlanContext | None = None
) -> DagPlan:
    """The plan of one definition file; DefinitionError with ``file:line`` problems otherwise.

    ``context`` (templates and pools, :class:`PlanContext`) is shared by a caller planning many files;
    without it they are read from ``templates_folder`` and the configuration.
    """
    text, data = read_text(path)
    return plan_data(data, str(path), text=text, templates_folder=templates_folder, context=context)


def plan_data(
    data: Any,
    name: str,
    *,
    text: str | None = None,
    templates_folder: Path | None = None,
    context: PlanContext | None = None,
) -> DagPlan:
    """The plan of one definition given as data; ``text`` (the file's) lets problems name lines."""
    try:
        definition = WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        raise located(name, text, pydantic_issues(exc, data)) from None
    if context is None:
        context = PlanContext(templates_folder)
    planner = _Planner(definition, context.templates(), context)
    planner.steps(definition.steps, ("steps",), ())
    if planner.problems:
        raise located(name, text, planner.problems)
    return planner.result(name, text)


def located(name: str, text: str | None, issues: list[tuple[FieldPath, str]]) -> DefinitionError:
    """The problems of ``name`` with their lines when its ``text`` is known."""
    if text is None:
        return DefinitionError([Problem(name, None, ".".join(map(str, p)), m) for p, m in issues])
    return DefinitionError(locate(text, name, issues))


class _Planner:
    def __init__(
        self, definition: WorkflowDefinition, known_templates: dict[str, Template], context: PlanContext
    ) -> None:
        self.definition = definition
        self.templates = known_templates
        self.context = context
        self.tasks: list[TaskPlan] = []
        self.groups: list[tuple[str, ...]] = []
        self.edges: list[tuple[str, str]] = []
        self.problems: list[tuple[FieldPath, str]] = []

    def result(self, name: str, text: str | None) -> DagPlan:
        args, durations = _configuration_arguments(self.definition.configuration)
        args = {"owner": self.definition.owner, "priority_weight": self.definition.priority.weight, **args}
        if pool := self.context.priority_pool(self.definition.priority.value):
            args["pool"] = pool
        filters = (FILTER,) if any(uses_filter(task.arguments) for task in self.tasks) else ()
        return DagPlan(
            name, text, self.definition, self.tasks, self.groups, self.edges, args, durations, filters
        )

    def steps(self, steps: list[Any], path: FieldPath, scope: tuple[str, ...], within: str = "") -> None:
        """Plan ``steps`` (one level: the definition's, or a template's) inside the group ``scope``.

        A template's own steps have no place in the definition file: their problems are reported at
        the template step (``path``), naming the template's step (``within``).
        """

        def at(where: FieldPath) -> FieldPath:
            return path if within else where

        for where, message in graph_problems(steps, path):
            self.problems.append((at(where), f"{within}{message}"))
        keys: dict[str, str] = {}
        for i, step in enumerate(steps):
            group = (*scope, step.group) if step.group else scope
            if step.group and group not in self.groups:
                self.groups.append(group)
            if isinstance(step, TemplateStep):
                if within:
                    self.problems.append((path, f"{within}a template may not use templates"))
                    continue
                inner, problems = expand(step, self.templates, (*path, i))
                self.problems.extend(problems)
                self.groups.append((*group, step.id))
                self.steps(inner, (*path, i), (*group, step.id), f"template {step.template}: ")
                keys[step.id] = ".".join((*group, step.id))
            else:
                before = len(self.problems)
                task = self.task(step, (*path, i), group)
                for n in range(before, len(self.problems)):
                    where, message = self.problems[n]
                    self.problems[n] = (at(where), f"{within}{message}")
                if task is not None:
                    task.path = at(task.path)
                    self.tasks.append(task)
                    keys[step.id] = task.key
        for step in steps:
            for dep in step.depends_on:
                if dep in keys and step.id in keys:
                    self.edges.append((keys[dep], keys[step.id]))

    def task(self, step: Any, path: FieldPath, group: tuple[str, ...]) -> TaskPlan | None:
        args: dict[str, Any] = {}
        if step.name:
            args["task_display_name"] = step.name
        if step.description:
            args["doc_md"] = step.description
        if step.pool:
            args["pool"] = step.pool
        if step.queue:
            args["queue"] = step.queue
        durations: dict[str, int] = {}
        if step.configuration is not None:
            overrides, durations = _configuration_arguments(step.configuration)
            args.update(overrides)
        plan = TaskPlan(step.id, group, "", args, duration_arguments=durations, path=path)
        if isinstance(step, IngestStep):
            plan.operator = INGEST
            args["source"] = step.source.model_dump(mode="json", exclude_unset=True)
            args["target"] = step.target.model_dump(mode="json", by_alias=True, exclude_unset=True)
            _put(args, engine_id=step.engine_id, batch_size=self._batch_size(step.configuration))
            if step.execute_config is not None:
                args["execute_config"] = step.execute_config.model_dump(mode="json", exclude_unset=True)
        elif isinstance(step, TransformStep):
            plan.operator = TRANSFORM
            self._sql(step.sql, (*path, "sql"))
            args.update(sql=step.sql, target=step.target, write_mode=step.write_mode)
            _put(args, merge_keys=step.merge_keys or None, default_catalog=step.default_catalog)
            _put(args, engine_id=step.engine_id)
        elif isinstance(step, CheckStep):
            plan.operator = CHECK
            args.update(
                table=step.table, checks=[c.model_dump(mode="json", exclude_none=True) for c in step.checks]
            )
            _put(args, default_catalog=step.default_catalog)
        elif isinstance(step, JobStep):
            plan.operator = JOB
            args.update(binary_url=step.binary_url, binary_sha256=step.binary_sha256)
            args.update(priority=step.priority, mode=step.mode)
            _put(args, arguments=step.arguments or None, env_variables=step.env_variables or None)
            _put(args, job_type=step.job_type, api_conn_id=step.api_conn_id)
        elif isinstance(step, BashStep):
            plan.operator = BASH
            args["bash_command"] = step.bash_command
            _put(args, env=step.env, cwd=step.cwd)
        elif isinstance(step, PythonStep):
            plan.operator = PYTHON
            if not self._importable(step.callable, (*path, "callable"), want_class=False):
                return None
            plan.callable_arguments["python_callable"] = step.callable
            _put(args, op_args=step.op_args or None, op_kwargs=step.op_kwargs or None)
        elif isinstance(step, OperatorStep):
            plan.operator = step.operator
            for name, value in step.arguments.items():
                if SQL_ARGUMENT.search(name):
                    self._sql(value, (*path, "arguments", name))
            if not self._operator_arguments(step, path, args):
                return None
        return plan

    def _batch_size(self, own: Configuration | None) -> int | None:
        """The step's ``batch_size``, else the definition's (``Configuration.over``, for one value)."""
        if own is not None and own.batch_size is not None:
            return own.batch_size
        return self.definition.configuration.batch_size

    def _sql(self, value: Any, path: FieldPath) -> None:
        """Run params in SQL only where they cannot change the statement (see run_inputs)."""
        self.problems.extend((path, message) for message in sql_problems(value, self.definition.params))

    def _importable(self, target: str, path: FieldPath, *, want_class: bool) -> bool:
        try:
            found = import_path(target)
        except (ImportError, AttributeError) as exc:
            self.problems.append((path, f"cannot import '{target}': {exc}"))
            return False
        if want_class:
            from airflow.sdk import BaseOperator

            if not (inspect.isclass(found) and issubclass(found, BaseOperator)):
                self.problems.append((path, f"'{target}' is not an Airflow operator class"))
                return False
        elif not callable(found):
            self.problems.append((path, f"'{target}' is not callable"))
            return False
        return True

    def _operator_arguments(self, step: OperatorStep, path: FieldPath, args: dict[str, Any]) -> bool:
        if not self._importable(step.operator, (*path, "operator"), want_class=True):
            return False
        accepted, required = operator_parameters(step.operator)
        ok = True
        for name in step.arguments:
            if name in _RESERVED or name not in accepted:
                hint = did_you_mean(name, accepted)
                self.problems.append(
                    ((*path, "arguments", name), f"{step.operator} takes no argument '{name}'{hint}")
                )
                ok = False
        if missing := sorted(required - set(step.arguments) - {"task_id"}):
            self.problems.append(
                ((*path, "arguments"), f"{step.operator} needs argument(s) {', '.join(missing)}")
            )
            ok = False
        args.update(step.arguments)
        return ok


def _configuration_arguments(configuration: Configuration) -> tuple[dict[str, Any], dict[str, int]]:
    args: dict[str, Any] = {}
    durations: dict[str, int] = {}
    if configuration.max_retries is not None:
        args["retries"] = configuration.max_retries
    if configuration.timeout is not None:
        durations["execution_timeout"] = configuration.timeout
    if configuration.retry_delay is not None:
        durations["retry_delay"] = configuration.retry_delay
    return args, durations


def _put(args: dict[str, Any], **optional: Any) -> None:
    args.update({k: v for k, v in optional.items() if v is not None})


@cache
def import_path(target: str) -> Any:
    """``package.module:name`` or ``package.module.name``."""
    module, sep, name = target.partition(":")
    if not sep:
        module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


@cache
def operator_parameters(target: str) -> tuple[frozenset[str], frozenset[str]]:
    """``(accepted, required)`` keyword arguments of an operator class, through its bases' ``__init__``."""
    accepted: set[str] = set()
    required: set[str] = set()
    for cls in import_path(target).__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                accepted.add(p.name)
                if p.default is p.empty:
                    required.add(p.name)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return frozenset(accepted), frozenset(required)
