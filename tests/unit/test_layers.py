"""Dependencies run one way: adapters -> ingestion/workflows -> lakehouse -> storage.

Every module of ``providers/headrace`` is parsed (not imported: a forbidden import hidden in a
function that no test calls still counts), and each ``import`` is checked against the layer rules
below. Imports inside functions count as much as those at the top of a module; only import cycles
are judged on top-level imports (the ones that run when a module is imported), since those are the
ones that break depending on which module is imported first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "providers" / "headrace"

ADAPTERS = {"operators", "hooks", "sensors", "triggers", "api", "plugin", "ui", "cli", "listeners"}
DOMAIN = {"ingestion", "workflows", "jobs", "events"}
WEB = ("flask",)  # flask itself and its extensions (flask_appbuilder, flask_limiter, ...)

# layer -> layers it must not import
FORBIDDEN: dict[str, set[str]] = {
    "lakehouse": DOMAIN | ADAPTERS,
    "storage": DOMAIN | ADAPTERS | {"lakehouse"},
    **{layer: ADAPTERS - {"cli"} for layer in DOMAIN},
}

# Known top-level import cycles that another change removes, each with its owner; nothing may be
# added here to make a new edge pass: fix the import instead. Empty: the one expected here,
# api/security.py <-> api/services/api_keys.py through ``Scope``, was already gone (Scope moved to
# api/scopes.py) when this test was written. The last test below fails on an entry that no longer
# exists, so the list cannot outlive its cycles.
KNOWN_CYCLES: set[frozenset[str]] = set()


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. headrace.lakehouse.service
    target: str  # the imported module (or package), e.g. headrace.storage
    line: int
    top_level: bool  # runs when the module is imported (not in a function, not under TYPE_CHECKING)

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def module_name(path: Path) -> str:
    parts = ["headrace", *path.relative_to(PACKAGE_ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def layer(module: str) -> str | None:
    """``headrace.<layer>.…`` -> ``<layer>`` (``headrace.plugin`` -> ``plugin``)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "headrace" and len(parts) > 1 else None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in MODULES else base  # `from pkg import module` names the module


def imports_of(module: str, path: Path) -> list[Import]:
    """Every import statement of the module, with whether it runs at import time."""
    found: list[Import] = []
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, top_level: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            targets = dict.fromkeys(_targets(node, module, is_package))  # once per statement
            found.extend(Import(module, target, node.lineno, top_level) for target in targets)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            top_level = False
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, top_level)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, top_level)

    visit(ast.parse(path.read_text(), filename=str(path)), True)
    return found


IMPORTS: list[Import] = [imp for module, path in MODULES.items() for imp in imports_of(module, path)]


def layer_violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        source, target = layer(imp.source), layer(imp.target)
        if target is not None and target in FORBIDDEN.get(source or "", set()):
            problems.append(f"{source} must not import {target}: {imp}")
        top = imp.target.split(".")[0]
        if source not in ADAPTERS and any(top == web or top.startswith(f"{web}_") for web in WEB):
            problems.append(f"the domain core ({source}) must not import {top}: {imp}")
    return problems


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan) in the graph of top-level imports."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.top_level and imp.target in MODULES and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_no_module_imports_a_layer_above_its_own():
    assert layer_violations(IMPORTS) == []


def test_no_import_cycles_between_modules():
    cycles = [group for group in import_cycles(IMPORTS) if frozenset(group) not in KNOWN_CYCLES]
    assert cycles == []


def test_the_allow_list_names_only_cycles_that_still_exist():
    """So that the list shrinks as the cycles go, instead of excusing new ones later."""
    assert {frozenset(group) for group in import_cycles(IMPORTS)} >= KNOWN_CYCLES


# -- the checks themselves: each one fails on the edge it exists for -------------------------------


def _parsed(tmp_path: Path, module: str, source: str) -> list[Import]:
    path = tmp_path / "m.py"
    path.write_text(source)
    return imports_of(module, path)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "headrace.lakehouse.x",
            "def f():\n    from headrace.ingestion.engine import run_ingestion\n",
            "lakehouse must not import ingestion",
        ),
        ("headrace.storage.x", "import headrace.lakehouse.service\n", "storage must not import lakehouse"),
        (
            "headrace.ingestion.x",
            "from headrace.operators import ingestion\n",
            "ingestion must not import operators",
        ),
        (
            "headrace.workflows.x",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from headrace.api import errors\n",
            "workflows must not import api",
        ),
        (
            "headrace.lakehouse.x",
            "from flask import g\n",
            "the domain core (lakehouse) must not import flask",
        ),
        ("headrace.ingestion.x", "import flask_limiter\n", "must not import flask_limiter"),
    ],
)
def test_a_forbidden_import_is_reported_naming_the_edge(tmp_path, module, source, expected):
    problems = layer_violations(_parsed(tmp_path, module, source))

    assert len(problems) == 1 and expected in problems[0] and f"{module} -> " in problems[0]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("headrace.ingestion.x", "from headrace.lakehouse.service import Lakehouse\n"),
        ("headrace.operators.x", "from headrace.api import errors\nimport flask\n"),
        ("headrace.lakehouse.x", "from headrace.storage import S3Settings\n"),
    ],
)
def test_imports_down_the_layers_are_allowed(tmp_path, module, source):
    assert layer_violations(_parsed(tmp_path, module, source)) == []


def test_a_top_level_cycle_is_found_and_a_function_level_one_is_not():
    def imp(source: str, target: str, top_level: bool = True) -> Import:
        return Import(source, target, 1, top_level)

    a, b, c = "headrace.ingestion.spec", "headrace.ingestion.files", "headrace.ingestion.engine"
    cyclic = [imp(a, b), imp(b, c), imp(c, a)]
    lazy = [imp(a, b), imp(b, a, top_level=False)]

    assert import_cycles(cyclic) == [sorted([a, b, c])]
    assert import_cycles(lazy) == []


def test_relative_imports_resolve_to_the_module_they_name(tmp_path):
    source = "from . import engine\nfrom ..lakehouse import errors\n"
    targets = {imp.target for imp in _parsed(tmp_path, "headrace.ingestion.files", source)}

    assert targets == {"headrace.ingestion.engine", "headrace.lakehouse.errors"}
