"""The shipped loader: every definition file of the two definition folders becomes one DAG.

The folders are ``[headrace] workflows_folder`` (shipped and hand-written definitions, read first)
and ``[headrace] definitions_folder`` (what the REST APIs deploy, outside the source checkout). A
workflow id is defined once across both: a second file with the same id is a problem naming the
first, which keeps its DAG. Templates come from the workflows folder's ``templates/``.

Airflow records at most one import error per parsed Python file, and marks every DAG of a file with
an import error as broken. So the work is split over two shipped DAG files:

* ``dags/headrace_workflows.py`` calls :func:`load_workflows`: one DAG per *valid* definition;
  a bad definition is left out and never stops the others;
* ``dags/headrace_workflow_errors.py`` calls :func:`raise_invalid_workflows`: when any definition
  is bad it raises, so Airflow shows an import error listing each bad file as
  ``file:line: field: message``; when all are good it defines nothing.

Nothing is hidden and one bad file never takes the other workflows down.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headrace.workflows.builder import build_dag, configured_defaults
from headrace.workflows.plan import DagPlan, PlanContext, plan_file
from headrace.workflows.source import SUFFIXES, DefinitionError, Problem


class InvalidWorkflows(Exception):
    """Raised by :func:`raise_invalid_workflows`; its message is what Airflow shows as the import error."""


@dataclass
class FolderResult:
    dags: dict[str, Any] = field(default_factory=dict)  # dag id -> DAG
    plans: dict[str, DagPlan] = field(default_factory=dict)  # dag id -> plan
    problems: list[Problem] = field(default_factory=list)


def definition_files(folder: Path) -> list[Path]:
    """Definition files directly in ``folder`` (hidden files and subfolders such as templates/ are not)."""
    try:
        entries = list(os.scandir(folder))  # the directory's file types come with the names: no stat each
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = sorted(
        e.name
        for e in entries
        if os.path.splitext(e.name)[1].lower() in SUFFIXES and not e.name.startswith(".") and e.is_file()
    )
    return [folder / name for name in names]


def definition_folders(*folders: Path | None) -> list[Path]:
    """``folders`` without None and without repeats (the same folder named twice is read once)."""
    found: dict[Path, Path] = {}
    for folder in folders:
        if folder is not None:
            found.setdefault(Path(folder).resolve(), Path(folder))
    return list(found.values())


def configured_folders() -> list[Path]:
    """``[headrace] workflows_folder``, then ``[headrace] definitions_folder``."""
    from headrace import config

    return definition_folders(config.workflows_folder(), config.definitions_folder())


def load_folder(folder: Path, *, build: bool = True) -> FolderResult:
    """Plan (and build) every definition in ``folder`` (templates from its ``templates/``)."""
    return load_folders([folder], build=build)


def load_folders(
    folders: list[Path], *, templates_folder: Path | None = None, build: bool = True
) -> FolderResult:
    """Plan (and build) every definition in ``folders``, in order; each failure is kept as problems.

    ``templates_folder`` defaults to the first folder's ``templates/``. The cyclic garbage collector
    is paused while they load (see :func:`_collector_paused`).
    """
    with _collector_paused():
        return _load_folders(folders, templates_folder, build)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block, then leave it as it was.

    A load allocates tens of thousands of small containers (YAML nodes, models, operators) and keeps
    most of them, so the collector's passes during it find next to nothing to free; they cost 4-12%
    of a load (benchmarks/README.md). Reference counting still frees everything acyclic at once, and
    the collector's next pass after the load sees what is cyclic. Not re-enabled if it was off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_folders(folders: list[Path], templates_folder: Path | None, build: bool) -> FolderResult:
    """Every file is read and planned first, then the DAGs are built in the same order: each phase's
    code (YAML and pydantic, then Airflow's constructors) stays in the CPU's caches, 7-9% of a load
    (benchmarks/README.md). What each file gives, and the order of the problems, are as one pass."""
    result = FolderResult()
    origin: dict[str, Path] = {}
    if templates_folder is None and folders:
        templates_folder = folders[0] / "templates"
    defaults = configured_defaults() if build else None
    context = PlanContext(templates_folder)  # templates and pools, read once for the whole load
    planned: list[tuple[Path, DagPlan | list[Problem]]] = []
    for path in (p for folder in folders for p in definition_files(folder)):
        try:
            planned.append((path, plan_file(path, context=context)))
        except DefinitionError as exc:
            planned.append((path, exc.problems))
        except Exception as exc:  # a bug or an odd file must not take the other workflows down
            planned.append((path, [_unexpected(path, exc)]))
    for path, plan in planned:
        if isinstance(plan, list):
            result.problems.extend(plan)
            continue
        try:
            dag_id = plan.definition.id
            if dag_id in origin:
                first = origin[dag_id]
                where = first.name if first.parent == path.parent else str(first)
                message = f"workflow id '{dag_id}' is already defined by {where}"
                raise DefinitionError([Problem(str(path), None, "id", message)])
            dag = build_dag(plan, defaults) if build else None
        except DefinitionError as exc:
            result.problems.extend(exc.problems)
            continue
        except Exception as exc:
            result.problems.append(_unexpected(path, exc))
            continue
        origin[dag_id] = path
        result.plans[dag_id] = plan
        if dag is not None:
            result.dags[dag_id] = dag
    return result


def _unexpected(path: Path, exc: Exception) -> Problem:
    return Problem(str(path), None, "", f"{type(exc).__name__}: {exc}")


def load_workflows(namespace: dict[str, Any], folder: Path | None = None) -> dict[str, Any]:
    """Put one DAG per valid definition into ``namespace`` (a DAG file's ``globals()``): those of
    ``folder``, or of both configured folders."""
    dags = _load(folder).dags
    namespace.update({f"workflow__{dag_id}": dag for dag_id, dag in dags.items()})
    return dags


def raise_invalid_workflows(folder: Path | None = None) -> None:
    """Raise InvalidWorkflows naming every problem of every bad definition; return when there are none."""
    problems = _load(folder).problems
    if problems:
        files = len({p.file for p in problems})
        lines = "\n".join(str(p) for p in problems)
        raise InvalidWorkflows(f"{files} workflow definition file(s) cannot become DAGs:\n{lines}")


def _load(folder: Path | None) -> FolderResult:
    return load_folder(folder) if folder is not None else load_folders(configured_folders())
