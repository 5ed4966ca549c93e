"""What the person triggering a run may choose, checked when the definition is read (not at run time).

Two rules, so that a run parameter can neither inject SQL nor pick a database:

* connection ids (``conn_id``, ``source_conn_id``, ``aws_conn_ids`` ...) are fixed in the definition
  at deploy time: no Jinja at all in those arguments (:func:`connection_problems`);
* in SQL, a param appears only when its value cannot change the statement: an ``identifier`` param
  through the ``identifier`` filter (checked and quoted), or an integer, number, boolean or a string
  with an ``enum`` (Airflow and the API check those against the DAG's Param schema before a run
  starts). Free text, arrays, objects, undeclared params and ``dag_run.conf`` are refused
  (:func:`sql_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import jinja2
from jinja2 import nodes

from headrace.workflows.identifiers import FILTER

# Argument names that hold connection ids, and those of operator steps that hold SQL or SQL names.
CONNECTION_ARGUMENT = re.compile(r"(^|_)conn_ids?$")
SQL_ARGUMENT = re.compile(r"sql|query|queries|statement|preoperator|table|column|schema|database", re.I)
_SAFE_TYPES = ("integer", "number", "boolean")


def templated(value: Any) -> bool:
    """Whether any text in ``value`` (JSON-like) has Jinja in it."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(templated(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(templated(v) for v in value)
    return False


def connection_problems(arguments: Mapping[str, Any]) -> list[str]:
    """One message per connection-id argument that is templated (from params or anything else)."""
    return [
        f"{name}: connection ids are fixed in the definition at deploy time, never taken from the run "
        f"({value!r}); name the Airflow connection"
        for name, value in arguments.items()
        if CONNECTION_ARGUMENT.search(name) and templated(value)
    ]


def sql_problems(value: Any, params: Mapping[str, Any]) -> list[str]:
    """Why run input could change the SQL in ``value`` (text, or lists/dicts of it); [] when it cannot.

    ``params`` are the definition's :class:`~headrace.workflows.model.ParamSpec` by name.
    """
    problems: list[str] = []
    for text in _texts(value):
        if not templated(text):
            continue
        try:
            references = list(_references(_environment().parse(text)))
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"invalid template: {exc.message}")
            continue
        for reference in references:
            message = _problem(*reference, params)
            if message and message not in problems:
                problems.append(message)
    return problems


def _problem(root: str, name: str | None, filtered: bool, params: Mapping[str, Any]) -> str | None:
    if root == "dag_run":
        return "dag_run.conf is unchecked run input and may not reach SQL: declare a typed param"
    if name is None:
        return "params may only be used by name in SQL (params.<name>)"
    spec = params.get(name)
    quoted = f"{{{{ params.{name} | {FILTER} }}}}"
    if spec is None:
        declared = ", ".join(sorted(params)) or "none"
        return f"params.{name} is not a declared param (declared: {declared})"
    if spec.type == "identifier":
        return None if filtered else f"params.{name} is a name: write {quoted} so that it is quoted"
    if filtered:
        return f"params.{name} goes through {FILTER}: declare it type: identifier so a bad value is refused"
    if spec.type in _SAFE_TYPES or (spec.type == "string" and spec.enum):
        return None
    return (
        f"params.{name} (type {spec.type}) may not reach SQL: a table or column name is type: identifier, "
        f"used as {quoted}; a value is an integer, number, boolean or a string with an enum"
    )


def _references(tree: nodes.Node) -> Iterator[tuple[str, str | None, bool]]:
    """``(root, param name or None, through the identifier filter)`` of each use of ``params`` or
    ``dag_run.conf``."""

    def visit(node: nodes.Node, parent: nodes.Node | None) -> Iterator[tuple[str, str | None, bool]]:
        if isinstance(node, nodes.Getattr | nodes.Getitem) and isinstance(node.node, nodes.Name):
            root, key = node.node.name, _key(node)
            if root == "params":
                filtered = isinstance(parent, nodes.Filter) and parent.name == FILTER and parent.node is node
                yield "params", key, filtered
                return
            if root == "dag_run" and key == "conf":
                yield "dag_run", None, False
                return
        elif isinstance(node, nodes.Name) and node.name == "params":
            yield "params", None, False  # params as a whole: params[x], params.items() ...
            return
        for child in node.iter_child_nodes():
            yield from visit(child, node)

    yield from visit(tree, None)


def _key(node: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    return node.arg.value if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) else None


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


@cache
def _environment() -> jinja2.Environment:
    """Airflow's template syntax (Jinja's defaults); used only to parse, never to render."""
    return jinja2.Environment()
