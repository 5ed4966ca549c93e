"""Reading definition files, and saying exactly where a problem is: ``file:line: field: message``.

Parsing takes the fast path (libyaml's C loader, or ``json``); line numbers are only worked out when
something is wrong, by composing the YAML node tree (JSON is YAML too) and walking it along the
problem's path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from headrace.workflows.suggestions import did_you_mean  # also imported from here by plan and templates

try:  # libyaml when the wheel has it: several times faster than the pure-Python loader
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover - every PyYAML wheel on PyPI bundles libyaml
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

SUFFIXES = (".yaml", ".yml", ".json")
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, located in its file."""

    file: str
    line: int | None
    field: str  # dotted path, e.g. steps.1.depends_on.0 ("" for the whole file)
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class DefinitionError(Exception):
    """A definition that cannot become a DAG; every problem found, each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


def read_text(path: Path) -> tuple[str, Any]:
    """The file's text and its parsed data; DefinitionError (with the line) if it does not parse."""
    text = path.read_text(encoding="utf-8")
    return text, parse_text(text, str(path), json_file=path.suffix.lower() == ".json")


def parse_text(text: str, name: str, *, json_file: bool = False) -> Any:
    try:
        return json.loads(text) if json_file else yaml.load(text, Loader=Loader)
    except json.JSONDecodeError as exc:
        raise DefinitionError([Problem(name, exc.lineno, "", f"invalid JSON: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError([Problem(name, line, "", f"invalid YAML: {reason}")]) from None


def locate(text: str, name: str, issues: Iterable[tuple[FieldPath, str]]) -> list[Problem]:
    """Problems from ``(path, message)`` pairs, each with the line of the deepest node found."""
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError:  # pragma: no cover - the text parsed before it got here
        root = None
    return [Problem(name, _line(root, path), ".".join(map(str, path)), msg) for path, msg in issues]


def _line(node: Any, path: FieldPath) -> int | None:
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return line
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def pydantic_issues(
    exc: ValidationError, data: Any, base: FieldPath = (), known: Iterable[str] | None = None
) -> list[tuple[FieldPath, str]]:
    """A ValidationError as ``(path, message)`` pairs in the data's own terms.

    Pydantic puts the tag of a tagged union into the location (``steps.0.transform.sql``); those
    parts are dropped by walking the data alongside. Unknown keys get a "did you mean" hint.
    """
    issues = []
    for error in exc.errors(include_url=False):
        path = _data_path(data, error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            vocabulary = known if known is not None else keys_at(path[:-1], data)
            message = f"unknown key '{path[-1]}'{did_you_mean(str(path[-1]), vocabulary)}"
        elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            tag = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
            path = (*path, tag) if tag else path
            message = message.replace("does not match any of the expected tags", "is not one of")
        issues.append(((*base, *path), message))
    return issues


def _data_path(data: Any, loc: tuple[Any, ...]) -> FieldPath:
    path: list[str | int] = []
    node = data
    tagged: Any = None  # the mapping whose union tag was skipped (pydantic puts it first, once)
    for part in loc:
        if isinstance(node, dict):
            if tagged is not node and part in (node.get("kind"), node.get("type")):
                tagged = node
                continue  # the tagged union's tag, even when also a key (kind: operator, operator: ...)
            if part in node:
                path.append(part)
                node = node[part]
            else:
                path.append(part)
                node = None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        else:
            path.append(part)
            node = None
    return tuple(path)


def keys_at(path: FieldPath, data: Any) -> list[str]:
    """The keys a definition may use at ``path`` (a mapping), from the model's JSON Schema."""
    schema = _definition_schema()
    node: Any = schema
    value = data
    for part in (*path, None):
        node = _resolve(node, schema, value)
        if part is None:
            break
        if isinstance(part, int):
            node = node.get("items", {})
            value = value[part] if isinstance(value, list) and part < len(value) else None
        else:
            node = node.get("properties", {}).get(part, {})
            value = value.get(part) if isinstance(value, dict) else None
    return list(node.get("properties", {}))


def _resolve(node: dict[str, Any], schema: dict[str, Any], value: Any) -> dict[str, Any]:
    """Follow ``$ref``, and pick the member of a union the data's tag (or shape) selects."""
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "discriminator" in node and isinstance(value, dict):
            tag = value.get(node["discriminator"]["propertyName"])
            ref = node["discriminator"]["mapping"].get(tag)
            if ref is None:
                return {}
            node = {"$ref": ref}
        elif "anyOf" in node or "oneOf" in node:
            members = [
                m for m in node.get("anyOf", node.get("oneOf", [])) if "$ref" in m or "properties" in m
            ]
            if not members:
                return node
            node = members[0]
        else:
            return node


@cache
def _definition_schema() -> dict[str, Any]:
    from headrace.workflows.model import WorkflowDefinition

    return WorkflowDefinition.model_json_schema()
