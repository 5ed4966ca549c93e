"""Command line: ``validate`` (a dry run that builds each DAG), ``schema`` and ``render``.

``python -m headrace.workflows validate [PATH...]`` checks files or folders of definitions exactly as
the loader would (parsing, the model, templates, dependencies, schedules, operator arguments, what
run parameters may reach, and building the DAG) and prints ``file:line: field: message`` for each
problem; the exit code is 1 when any file is bad, 2 for a usage error. Without a PATH it checks what
the loader reads: ``[headrace] workflows_folder`` and ``[headrace] definitions_folder`` together
(duplicate ids across them included).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from headrace.workflows.source import SUFFIXES, DefinitionError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m headrace.workflows", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="build every definition's DAG; report problems")
    validate.add_argument(
        "paths", nargs="*", type=Path, help="definition files or folders (default: the loader's two folders)"
    )
    commands.add_parser("schema", help="print the JSON Schema of a definition")
    render = commands.add_parser("render", help="print a standalone Python DAG file for a definition")
    render.add_argument("workflow", help="a workflow id the loader reads, or a definition file")
    render.add_argument(
        "--folder",
        type=Path,
        help="look the id up in this folder only "
        "(default: [headrace] workflows_folder and definitions_folder)",
    )
    args = parser.parse_args(argv)
    if args.command == "schema":
        return _schema()
    if args.command == "validate":
        return _validate(args.paths)
    return _render(args.workflow, args.folder)


def _schema() -> int:
    from headrace.workflows.model import WorkflowDefinition

    schema = WorkflowDefinition.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Headrace workflow definition"
    print(json.dumps(schema, indent=2))
    return 0


def _files(paths: list[Path]) -> list[Path]:
    from headrace.workflows.loader import definition_files

    files: list[Path] = []
    for path in paths:
        files.extend(definition_files(path) if path.is_dir() else [path])
    return files


def _validate(paths: list[Path]) -> int:
    from headrace.workflows.builder import build_dag
    from headrace.workflows.plan import plan_file

    if not paths:
        return _validate_configured()
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    bad = 0
    files = _files(paths)
    for path in files:
        try:
            if path.suffix.lower() not in SUFFIXES:
                raise ValueError(f"{path}: not a definition file (use {', '.join(SUFFIXES)})")
            plan = plan_file(path, templates_folder=path.parent / "templates")
            dag = build_dag(plan)
        except DefinitionError as exc:
            bad += 1
            print(exc, file=sys.stderr)
            continue
        except ValueError as exc:
            bad += 1
            print(exc, file=sys.stderr)
            continue
        print(f"{path}: ok: DAG {dag.dag_id} with {len(dag.tasks)} task(s)")
    print(f"{len(files) - bad} valid, {bad} invalid", file=sys.stderr)
    return 1 if bad else 0


def _validate_configured() -> int:
    """The loader's own pass over both configured folders, as a dry run."""
    from headrace.workflows.loader import configured_folders, load_folders

    folders = configured_folders()
    result = load_folders(folders)
    for dag_id, dag in result.dags.items():
        print(f"{result.plans[dag_id].name}: ok: DAG {dag_id} with {len(dag.tasks)} task(s)")
    for problem in result.problems:
        print(problem, file=sys.stderr)
    bad = len({p.file for p in result.problems})
    print(f"{len(result.dags)} valid, {bad} invalid (in {', '.join(map(str, folders))})", file=sys.stderr)
    return 1 if bad else 0


def _render(workflow: str, folder: Path | None) -> int:
    from headrace.workflows.plan import plan_file
    from headrace.workflows.render import render

    path = Path(workflow)
    templates = path.parent / "templates"
    if not path.is_file():
        from headrace.workflows.repository import WorkflowRepository

        repo = WorkflowRepository(folder)
        path = repo.path_of(workflow)
        if path is None:
            print(f"no workflow '{workflow}' in {', '.join(map(str, repo.folders))}", file=sys.stderr)
            return 2
        templates = repo.templates_folder
    try:
        plan = plan_file(path, templates_folder=templates)
    except DefinitionError as exc:
        print(exc, file=sys.stderr)
        return 1
    sys.stdout.write(render(plan))
    return 0
