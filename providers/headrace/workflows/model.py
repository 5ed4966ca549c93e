"""The workflow definition: one YAML or JSON file that becomes one Airflow DAG.

Strict on purpose: an unknown key is an error (with a "did you mean" hint added by
:mod:`headrace.workflows.source`), so ``schedul: daily`` never passes silently. The same model is
the JSON Schema editors use (``python -m headrace.workflows schema``) and what the pipelines and
workflows REST APIs write.

Checks that need the whole definition (unique step ids, known dependencies, no cycles) live in
:func:`graph_problems`, so each problem can name the exact entry at fault. What run input may reach
(no templated connection ids, no free-text params in SQL) is :mod:`headrace.workflows.run_inputs`.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from headrace.ingestion.spec import ExecuteConfig, Source, Target
from headrace.lakehouse.checks import Check
from headrace.workflows.identifiers import IDENTIFIER_RULE, is_identifier
from headrace.workflows.run_inputs import connection_problems, templated
from headrace.workflows.schedule import Schedule, parse_schedule
from headrace.workflows.suggestions import did_you_mean

WORKFLOW_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$"
STEP_ID = r"^[A-Za-z][A-Za-z0-9_]{0,99}$"
TABLE_NAME = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){1,2}$"
IMPORT_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*([.:][A-Za-z_][A-Za-z0-9_]*)$"

Path = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def weight(self) -> int:
        """Airflow ``priority_weight``: higher runs first when slots are scarce."""
        return {"low": 1, "medium": 5, "high": 10, "critical": 20}[self.value]


class Configuration(_Strict):
    """Defaults for every step; a step's own ``configuration`` overrides them."""

    batch_size: int | None = Field(None, ge=1, description="Rows per batch for steps that read in batches.")
    max_retries: int | None = Field(None, ge=0, le=100, description="Retries after a failed try.")
    timeout: int | None = Field(None, gt=0, description="Seconds a try may run before it is stopped.")
    retry_delay: int | None = Field(None, ge=0, description="Seconds between tries.")

    def over(self, defaults: Configuration) -> Configuration:
        """This configuration with unset values taken from ``defaults``."""
        return defaults.model_copy(update=self.model_dump(exclude_none=True))


class ParamSpec(_Strict):
    """A run parameter: typed, with a default; the Airflow trigger form shows it.

    ``identifier`` is a table or column name (``orders``, ``sales.orders``): a string checked against
    :data:`headrace.workflows.identifiers.IDENTIFIER` by the API and by Airflow before a run starts,
    and put into SQL only through the ``identifier`` filter, which quotes it.
    """

    type: Literal["string", "identifier", "integer", "number", "boolean", "array", "object"] = "string"
    default: Any = None
    description: str | None = None
    enum: list[Any] | None = None

    @model_validator(mode="after")
    def _identifier_values(self) -> ParamSpec:
        if self.type == "identifier":
            values = [v for v in [self.default, *(self.enum or [])] if v is not None]
            if bad := [v for v in values if not is_identifier(v)]:
                raise ValueError(f"{bad[0]!r} is not an identifier: use {IDENTIFIER_RULE}")
        return self


class _Step(_Strict):
    id: str = Field(pattern=STEP_ID, description="Task id: letters, digits and underscore.")
    name: str | None = Field(None, description="Display name in the Airflow UI.")
    description: str | None = None
    depends_on: list[str] = Field(default_factory=list, description="Ids of steps that run first.")
    group: str | None = Field(None, pattern=STEP_ID, description="Task group shown in the Airflow UI.")
    configuration: Configuration | None = None
    pool: str | None = None
    queue: str | None = None


def _target_forms(schema: dict[str, Any]) -> None:
    """JSON Schema of ``target``: also ``catalog.schema.table`` alone, or as ``table`` with options."""
    target = schema["properties"]["target"]
    dotted = {"type": "string", "pattern": TABLE_NAME.replace("{1,2}", "{2}")}
    with_options = {"type": "object", "required": ["table"], "properties": {"table": dotted}}
    schema["properties"]["target"] = {"anyOf": [dotted, with_options, target]}


class IngestStep(_Step):
    """Load files into a table (the IngestionOperator)."""

    model_config = ConfigDict(json_schema_extra=_target_forms)

    kind: Literal["ingest"]
    source: Source
    target: Target
    engine_id: str | None = None
    execute_config: ExecuteConfig | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _dotted_target(cls, value: Any) -> Any:
        """``catalog.schema.table``, alone or as ``table`` beside the other target options."""
        if isinstance(value, str):
            value = {"table": value}
        if isinstance(value, dict) and "." in str(value.get("table", "")) and "catalog" not in value:
            parts = str(value["table"]).split(".")
            if len(parts) != 3:
                raise ValueError("target must be catalog.schema.table or {catalog, schema, table}")
            value = {**value, **dict(zip(("catalog", "schema", "table"), parts, strict=True))}
        return value


class TransformStep(_Step):
    """SQL over catalog tables written to a table (the SqlTransformOperator)."""

    kind: Literal["transform"]
    sql: str = Field(min_length=1)
    target: str = Field(pattern=TABLE_NAME, description="catalog.schema.table (or schema.table).")
    write_mode: Literal["append", "overwrite", "merge"] = "overwrite"
    merge_keys: list[str] = Field(default_factory=list)
    default_catalog: str | None = None
    engine_id: str | None = None


class CheckStep(_Step):
    """Data-quality checks on a table (the TableCheckOperator); a failing check fails the run."""

    kind: Literal["check"]
    table: str = Field(pattern=TABLE_NAME)
    checks: list[Check] = Field(min_length=1)
    default_catalog: str | None = None


class BashStep(_Step):
    kind: Literal["bash"]
    bash_command: str = Field(min_length=1)
    env: dict[str, str] | None = None
    cwd: str | None = None


def _fixed_connections(arguments: dict[str, Any]) -> dict[str, Any]:
    """Connection-id arguments are fixed at deploy time: a templated one would let the run choose."""
    if problems := connection_problems(arguments):
        raise ValueError("; ".join(problems))
    return arguments


class PythonStep(_Step):
    kind: Literal["python"]
    callable: str = Field(pattern=IMPORT_PATH, description="package.module:function")
    op_args: list[Any] = Field(default_factory=list)
    op_kwargs: dict[str, Any] = Field(default_factory=dict)

    _op_kwargs = field_validator("op_kwargs")(_fixed_connections)


class OperatorStep(_Step):
    """Any importable operator class; ``arguments`` are checked against its signature."""

    kind: Literal["operator"]
    operator: str = Field(pattern=IMPORT_PATH, description="package.module.OperatorClass")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Connection ids (*conn_id) are fixed here, never templated."
    )

    _arguments = field_validator("arguments")(_fixed_connections)


class JobStep(_Step):
    """A job binary run by the JobExecutionOperator: queued for an executor, or inline in the task.

    The binary is fixed at deploy time (no Jinja in ``binary_url``, a literal sha256), so whoever
    triggers a run can choose its arguments and environment but never which code runs.
    """

    kind: Literal["job"]
    binary_url: str = Field(
        min_length=1, description="URL of the binary; must match [headrace] job_binary_url_allowlist."
    )
    binary_sha256: str = Field(description="SHA-256 of the binary: 64 hex digits.")
    arguments: list[str] = Field(default_factory=list)
    env_variables: dict[str, str] = Field(default_factory=dict)
    priority: Literal["foreground", "background", "best_effort"] = "background"
    mode: Literal["queue", "inline"] = "queue"
    job_type: str | None = Field(None, pattern=r"^\S+$", description="Job type in the queue (no spaces).")
    api_conn_id: str | None = Field(
        None, description="headrace_api connection of queue mode (fixed here, never templated)."
    )

    @field_validator("api_conn_id")
    @classmethod
    def _fixed_api_connection(cls, value: str | None) -> str | None:
        _fixed_connections({"api_conn_id": value})
        return value

    @field_validator("binary_url", "binary_sha256")
    @classmethod
    def _fixed_binary(cls, value: str, info: Any) -> str:
        if templated(value):
            raise ValueError(
                f"the binary is fixed in the definition at deploy time, never taken from the run ({value!r})"
            )
        if info.field_name == "binary_sha256" and not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError(f"must be 64 hex digits (the binary's SHA-256), not {value!r}")
        return value


class TemplateStep(_Step):
    """A shipped or user template's steps, as one task group named by this step's id."""

    kind: Literal["template"]
    template: str = Field(pattern=STEP_ID)
    parameters: dict[str, Any] = Field(default_factory=dict)


Step = Annotated[
    IngestStep | TransformStep | CheckStep | BashStep | PythonStep | OperatorStep | JobStep | TemplateStep,
    Field(discriminator="kind"),
]
STEP_KINDS = ("ingest", "transform", "check", "bash", "python", "operator", "job", "template")


class WorkflowDefinition(_Strict):
    id: str = Field(pattern=WORKFLOW_ID, description="The DAG id.")
    name: str | None = None
    description: str | None = None
    owner: str = "headrace"
    project: str | None = None
    tags: list[str] = Field(default_factory=list)
    schedule: str | dict[str, Any] | None = Field(
        None, description="cron, preset (@daily, daily), 'every 15 minutes', or {assets: [...], match}."
    )
    start_date: dt.datetime | dt.date | None = None
    catchup: bool = False
    max_active_runs: int | None = Field(None, ge=1)
    paused: bool = Field(True, description="Whether a new DAG starts paused (deploy unpauses).")
    created_at: dt.datetime | None = Field(None, description="When it was created (set by the REST APIs).")
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    priority: Priority = Priority.MEDIUM
    configuration: Configuration = Field(default_factory=Configuration)
    steps: list[Step] = Field(min_length=1)

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: Any) -> Any:
        parse_schedule(value)  # ScheduleError is a ValueError: pydantic reports it at "schedule"
        return value

    @property
    def schedule_spec(self) -> Schedule:
        return parse_schedule(self.schedule)

    @property
    def display_name(self) -> str:
        return self.name or self.id


_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "identifier": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def param_problems(params: dict[str, ParamSpec], values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, message)`` for each run parameter that is unknown, of the wrong type or not allowed."""
    problems = []
    for name, value in values.items():
        spec = params.get(name)
        if spec is None:
            known = ", ".join(sorted(params)) or "none"
            problems.append((name, f"unknown parameter{did_you_mean(name, params)} (known: {known})"))
            continue
        wanted = _PARAM_TYPES[spec.type]
        wrong_bool = isinstance(value, bool) and bool not in wanted
        if value is not None and (wrong_bool or not isinstance(value, wanted)):
            problems.append((name, f"must be of type {spec.type}"))
        elif spec.type == "identifier" and value is not None and not is_identifier(value):
            problems.append((name, f"must be an identifier: {IDENTIFIER_RULE}"))
        elif spec.enum and value not in spec.enum:
            problems.append((name, f"must be one of {spec.enum}"))
    return problems


def graph_problems(steps: list[Any], base: Path = ("steps",)) -> list[tuple[Path, str]]:
    """Duplicate ids, unknown or self dependencies and cycles, each at the entry at fault."""
    problems: list[tuple[Path, str]] = []
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.id in index:
            problems.append(((*base, i, "id"), f"duplicate step id '{step.id}'"))
        index.setdefault(step.id, i)
    for i, step in enumerate(steps):
        for j, dep in enumerate(step.depends_on):
            if dep == step.id:
                problems.append(((*base, i, "depends_on", j), f"step '{step.id}' depends on itself"))
            elif dep not in index:
                hint = did_you_mean(dep, index)
                problems.append(((*base, i, "depends_on", j), f"unknown step '{dep}'{hint}"))
    if not problems and (cycle := _cycle(steps)):
        first = index[cycle[0]]
        where = steps[first].depends_on.index(cycle[1])
        problems.append(((*base, first, "depends_on", where), "dependency cycle: " + " -> ".join(cycle)))
    return problems


def _cycle(steps: list[Any]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]`` (a depends on b ...), or None."""
    needs = {step.id: step.depends_on for step in steps}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in needs[node]:
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for step in steps:
        if step.id not in state and (found := visit(step.id)):
            return found
    return None
