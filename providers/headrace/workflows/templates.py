"""Templates: reusable, parameterised groups of steps a definition instantiates with ``kind: template``.

A template is a YAML file (shipped ones in ``headrace/workflows/templates/``; a deployment adds its
own in ``<workflows folder>/templates/``) with typed ``parameters`` and ``steps`` that use them as
``${name}``. A value that is only ``${name}`` takes the parameter as it is (a list stays a list);
inside longer text it is substituted as text. Airflow's own ``{{ ... }}`` templating is untouched.
Parameters are filled in when the definition is read (deploy time), never from a run; the steps
they make are checked like any other (table names by pattern, run params in SQL by
:mod:`headrace.workflows.run_inputs`).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from headrace.workflows.identifiers import IDENTIFIER
from headrace.workflows.model import STEP_ID, ParamSpec, Step, TemplateStep
from headrace.workflows.source import FieldPath, did_you_mean, parse_text, pydantic_issues

SHIPPED = Path(__file__).with_name("templates")
_WHOLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PART = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TYPES: dict[str, Any] = {
    "string": str,
    "identifier": Annotated[str, StringConstraints(pattern=IDENTIFIER)],
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
}
_STEPS = TypeAdapter(list[Step])


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(pattern=STEP_ID)
    description: str | None = None
    parameters: dict[str, ParamSpec] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(min_length=1)

    @model_validator(mode="after")
    def _placeholders_declared(self) -> Template:
        used = set(_PART.findall(json.dumps(self.steps)))
        if undeclared := used - set(self.parameters):
            raise ValueError(f"steps use undeclared parameters {sorted(undeclared)}")
        return self

    def parameter_model(self) -> type[BaseModel]:
        """A pydantic model of the parameters: their types, and defaults where given."""
        return _parameter_model(self.template, json.dumps(self.model_dump()["parameters"], default=str))


@cache
def _parameter_model(name: str, parameters: str) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for pname, spec in json.loads(parameters).items():
        required = spec["default"] is None
        fields[pname] = (_TYPES[spec["type"]], ... if required else spec["default"])
    return create_model(f"{name}_parameters", __config__=ConfigDict(extra="forbid"), **fields)


def templates(folder: Path | None = None) -> dict[str, Template]:
    """Shipped templates, then a deployment's own from ``folder`` (same name: the folder's wins)."""
    found = dict(_shipped())
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.y*ml")):
            template = _read(path)
            found[template.template] = template
    return found


@cache
def _shipped() -> dict[str, Template]:
    return {t.template: t for t in map(_read, sorted(SHIPPED.glob("*.yaml")))}


def _read(path: Path) -> Template:
    return Template.model_validate(parse_text(path.read_text(encoding="utf-8"), str(path)))


def expand(
    step: TemplateStep, known: dict[str, Template], path: FieldPath
) -> tuple[list[Any], list[tuple[FieldPath, str]]]:
    """The template's steps with ``step.parameters`` filled in, or the problems, at ``path``."""
    template = known.get(step.template)
    if template is None:
        hint = did_you_mean(step.template, known) or f" (known: {', '.join(sorted(known))})"
        return [], [((*path, "template"), f"unknown template '{step.template}'{hint}")]
    try:
        values = template.parameter_model().model_validate(step.parameters).model_dump()
    except ValidationError as exc:
        return [], pydantic_issues(exc, step.parameters, (*path, "parameters"), template.parameters)
    for name, value in values.items():
        allowed = template.parameters[name].enum
        if allowed and value not in allowed:
            return [], [((*path, "parameters", name), f"must be one of {allowed}")]
    raw = [_fill(s, values) for s in template.steps]
    try:
        return _STEPS.validate_python(raw), []
    except ValidationError as exc:
        found = pydantic_issues(exc, raw)
        return [], [
            ((*path, "parameters"), f"template {template.template}: {'.'.join(map(str, where))}: {message}")
            for where, message in found
        ]


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if whole := _WHOLE.match(value):
            return values[whole.group(1)]
        return _PART.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value
