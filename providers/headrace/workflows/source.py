"""Reading definition files, and saying exactly where a problem is: ``file:line: field: message``.

Parsing takes the fast path (libyaml's C parser and composer with a lean constructor, or ``json``);
line numbers are only worked out when something is wrong, by composing the YAML node tree (JSON is
YAML too) and walking it along the problem's path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from headrace.workflows.suggestions import did_you_mean  # also imported from here by plan and templates

try:  # libyaml when the wheel has it: several times faster than the pure-Python loader
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover - every PyYAML wheel on PyPI bundles libyaml
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

SUFFIXES = (".yaml", ".yml", ".json")
_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "seq", "map"))
# Plain scalars the lean constructor builds with the loader's own constructors; any other tag (a
# merge key, binary, set, an explicit local tag ...) sends the whole document to the full one.
_SCALARS = tuple(f"tag:yaml.org,2002:{kind}" for kind in ("int", "bool", "null", "float", "timestamp"))
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
    text = read_file(path)
    return text, parse_text(text, str(path), json_file=path.suffix.lower() == ".json")


def read_file(path: Path) -> str:
    """``path.read_text(encoding="utf-8")``, universal newlines included, without the buffered text
    stream's layers (a third of reading a small file)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def parse_text(text: str, name: str, *, json_file: bool = False) -> Any:
    try:
        return json.loads(text) if json_file else load_yaml(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError([Problem(name, exc.lineno, "", f"invalid JSON: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError([Problem(name, line, "", f"invalid YAML: {reason}")]) from None


class _LeanLoader(Loader):  # type: ignore[misc, valid-type]
    """The C loader, resolving tags without the path-resolver bookkeeping nobody registers.

    libyaml calls ``resolve`` for every node and ``descend_resolver``/``ascend_resolver`` around
    each one; with no path resolvers (checked before use) those are plain lookups.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        return str(tag)
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class _Unusual(Exception):
    """A node the lean constructor leaves to PyYAML's own."""


def load_yaml(text: str) -> Any:
    """``yaml.load(text, Loader=CSafeLoader)``, built faster.

    PyYAML's constructor is pure Python and walks every node through generators; a definition only
    holds mappings, sequences and plain scalars, which are built here directly (with the loader's own
    scalar constructors, and one object per node, so anchors and aliases keep their meaning). Any
    other tag, or a path resolver or constructor someone registered, takes the full constructor.
    """
    customised = (  # someone registered resolvers or constructors: only the full loader knows them
        Loader.yaml_path_resolvers
        or None in Loader.yaml_implicit_resolvers
        or Loader.yaml_constructors.get(_STR) is not SafeConstructor.construct_yaml_str
        or Loader.yaml_constructors.get(_SEQ) is not SafeConstructor.construct_yaml_seq
        or Loader.yaml_constructors.get(_MAP) is not SafeConstructor.construct_yaml_map
    )
    loader = Loader(text) if customised else _LeanLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or customised:
            return loader.construct_document(node) if node is not None else None
        try:
            return _construct(node, loader, {})
        except _Unusual:
            return loader.construct_document(node)
    finally:
        loader.dispose()


def _construct(node: Any, loader: Any, built: dict[int, Any]) -> Any:
    kind = type(node)
    if kind is ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag not in _SCALARS:
            raise _Unusual
        return loader.yaml_constructors[tag](loader, node)
    if id(node) in built:  # an alias: the same object, as PyYAML gives
        return built[id(node)]
    if kind is MappingNode and node.tag == _MAP:
        mapping: dict[Any, Any] = {}
        built[id(node)] = mapping
        for key, value in node.value:
            if type(key) is not ScalarNode:
                raise _Unusual  # a collection as a key: PyYAML's error
            name = key.value if key.tag == _STR else _construct(key, loader, built)
            if type(value) is ScalarNode and value.tag == _STR:  # most values: no call
                mapping[name] = value.value
            else:
                mapping[name] = _construct(value, loader, built)
        return mapping
    if kind is SequenceNode and node.tag == _SEQ:
        sequence: list[Any] = []
        built[id(node)] = sequence
        sequence.extend(_construct(item, loader, built) for item in node.value)
        return sequence
    raise _Unusual


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
