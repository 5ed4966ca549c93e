"""docs/api.md lists every error code the API can answer, and no other: collected from the code.

The codes are read from the source with ``ast`` (not imported, not a hand list), so a new
``ApiError(code="...")`` that the docs do not list fails here. Where a code is written in
``providers/headrace/api/``:

* ``code="X"`` in any call (``NotFound(msg, code="X")``), a ``code`` parameter's default, a
  ``{"code": "X"}`` literal (WebSocket messages);
* ``code = "X"`` / ``status, code = 409, "X"`` (an ``ApiError`` subclass) and ``*_CODE = "X"``,
  and the values of a ``*_CODES`` dict (the HTTP status fallbacks);
* the positional argument in the ``code`` place of a function or class of the API that takes one
  (``UploadRejected("file", msg, "FILE_TYPE")``, ``refuse("AUTHENTICATION_TIMEOUT", msg)``).

And the domain errors the API passes through with their own code (``code=exc.code``): every class
named in an ``isinstance`` check (or the parameter annotation) of a function that does so, with its
subclasses anywhere in the package; their ``code`` class attributes and every ``code="X"`` in a call
that raises one of them (``QueryError(msg, code="QUERY_TIMEOUT")``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "providers" / "headrace"
API = PACKAGE / "api"
DOCS = REPO / "docs" / "api.md"
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{4,}$")  # VALIDATION_ERROR, CONFLICT
Found = dict[str, set[str]]  # code -> where


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _codes(node: ast.AST | None) -> set[str]:
    """Code-like string constants in ``node`` (``code=_HTTP_CODES.get(status, "HTTP_ERROR")`` too)."""
    if node is None:
        return set()
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and CODE.match(n.value)
    }


@cache
def _trees(folder: Path) -> dict[str, ast.Module]:
    return {p.relative_to(PACKAGE).as_posix(): ast.parse(p.read_text()) for p in sorted(folder.rglob("*.py"))}


def _positions(trees: dict[str, ast.Module]) -> dict[str, int]:
    """Function (or class, by its ``__init__``) name -> index of its positional ``code`` parameter."""
    positions: dict[str, int] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                inits = [f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"]
                function, name = (inits[0], node.name) if inits else (None, None)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                function, name = node, node.name
            else:
                continue
            if function is None:
                continue
            params = [a.arg for a in function.args.posonlyargs + function.args.args]
            params = params[1:] if params[:1] in (["self"], ["cls"]) else params
            if "code" in params:
                positions[name] = params.index("code")
    return positions


def _is_code_name(target: ast.AST) -> bool:
    name = _name(target)
    return name is not None and (name == "code" or name.endswith("_CODE"))


def _assigned(node: ast.Assign | ast.AnnAssign) -> Iterator[ast.AST]:
    """The values assigned to ``code``/``*_CODE`` names, and a ``*_CODES`` dict's values."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            yield from (v for t, v in zip(target.elts, node.value.elts, strict=False) if _is_code_name(t))
        elif _is_code_name(target) and node.value is not None:
            yield node.value
        elif (_name(target) or "").endswith("_CODES") and isinstance(node.value, ast.Dict):
            yield from node.value.values


def api_codes() -> Found:
    trees = _trees(API)
    positions = _positions(trees)
    found: Found = {}
    for where, tree in trees.items():
        values: list[ast.AST | None] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                values += [kw.value for kw in node.keywords if kw.arg == "code"]
                index = positions.get(_name(node.func) or "")
                if index is not None and len(node.args) > index:
                    values.append(node.args[index])
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                values += list(_assigned(node))
            elif isinstance(node, ast.Dict):
                values += [v for k, v in zip(node.keys, node.values, strict=True) if _is_key(k, "code")]
            elif isinstance(node, ast.arguments):
                params = node.posonlyargs + node.args
                defaults = [None] * (len(params) - len(node.defaults)) + list(node.defaults)
                pairs = [
                    *zip(params, defaults, strict=True),
                    *zip(node.kwonlyargs, node.kw_defaults, strict=True),
                ]
                values += [default for arg, default in pairs if arg.arg == "code"]
        for value in values:
            for code in _codes(value):
                found.setdefault(code, set()).add(where)
    return found


def _is_key(key: ast.AST | None, name: str) -> bool:
    return isinstance(key, ast.Constant) and key.value == name


def _passed_through() -> set[str]:
    """Classes the API answers with their own ``code``: named by an ``isinstance`` check (or the
    parameter annotation) of a function of the API that builds an error with ``code=<exc>.code``."""
    names: set[str] = set()
    for tree in _trees(API).values():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not any(
                isinstance(n, ast.keyword)
                and n.arg == "code"
                and isinstance(n.value, ast.Attribute)
                and n.value.attr == "code"
                for n in ast.walk(function)
            ):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and _name(node.func) == "isinstance" and len(node.args) == 2:
                    names |= {n for x in ast.walk(node.args[1]) if (n := _name(x))}
            for arg in function.args.args + function.args.kwonlyargs:
                names |= {n for x in ast.walk(arg.annotation) if (n := _name(x))} if arg.annotation else set()
    return names


def domain_codes() -> Found:
    classes: dict[str, tuple[ast.ClassDef, str]] = {}
    for where, tree in _trees(PACKAGE).items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = (node, where)
    chosen = _passed_through() & set(classes)
    while more := {
        name
        for name, (node, _) in classes.items()
        if name not in chosen and any(_name(b) in chosen for b in node.bases)
    }:
        chosen |= more
    found: Found = {}
    for name in chosen:
        node, where = classes[name]
        for item in node.body:
            if isinstance(item, ast.Assign | ast.AnnAssign):
                for value in _assigned(item):
                    for code in _codes(value):
                        found.setdefault(code, set()).add(f"{where}: {name}")
    for where, tree in _trees(PACKAGE).items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in chosen:
                for kw in node.keywords:
                    if kw.arg == "code":
                        for code in _codes(kw.value):
                            found.setdefault(code, set()).add(f"{where}: {_name(node.func)}(code=...)")
    return found


def documented_codes() -> list[str]:
    """The first column of the table between the error-code markers of docs/api.md."""
    text = DOCS.read_text()
    section = text.split("<!-- error codes (begin)", 1)[1].split("<!-- error codes (end) -->", 1)[0]
    return re.findall(r"^\| `([A-Z0-9_]+)` \|", section, re.M)


def test_the_collector_finds_codes_of_every_kind() -> None:
    """Guards the collector itself: one code of each way of writing one."""
    api, domain = api_codes(), domain_codes()
    assert {"WORKFLOW_NOT_FOUND", "DAG_NOT_LOADED", "FILE_TYPE", "RESERVED_LOCATION", "HTTP_ERROR"} <= set(
        api
    )
    assert {"AUTHENTICATION_TIMEOUT", "UNKNOWN_CHANNEL", "METHOD_NOT_ALLOWED"} <= set(api)
    assert {"TABLE_NOT_FOUND", "CATALOG_NOT_FOUND", "QUERY_TIMEOUT", "INVALID_CHECK"} <= set(domain)
    assert {"JOB_OWNED_BY_ANOTHER_EXECUTOR", "INVALID_STATE_TRANSITION"} <= set(domain)
    assert "LAKEHOUSE_ERROR" not in domain  # the base class no API mapping names


def test_docs_list_every_error_code_the_api_answers_and_no_other() -> None:
    documented = documented_codes()
    assert "TABLE_NOT_FOUND" in documented
    assert len(documented) == len(set(documented)), "a code is listed twice in docs/api.md"
    assert documented == sorted(documented), "keep the docs/api.md error codes in alphabetical order"
    answered = {**domain_codes(), **api_codes()}
    undocumented = {code: sorted(where) for code, where in answered.items() if code not in documented}
    assert not undocumented, f"error codes missing from docs/api.md 'Error codes': {undocumented}"
    unknown = sorted(set(documented) - set(answered))
    assert not unknown, f"docs/api.md lists error codes the code never answers: {unknown}"
