"""The shipped loader under Airflow's own DagBag, the rendered DAG file, and the command line."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from headrace.workflows.builder import build_dag
from headrace.workflows.cli import main
from headrace.workflows.plan import plan_file
from headrace.workflows.render import render
from tests.conftest import REPO
from tests.unit.workflows.test_definitions import EVERY_KIND, write

GOOD = "id: good\nschedule: hourly\nsteps:\n  - {id: a, kind: bash, bash_command: echo}\n"
BAD = "id: bad\nsteps:\n  - id: a\n    kind: bash\n    bash_comand: echo\n"


def dagbag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), safe_mode=True)


def shipped_loader(folder: Path) -> None:
    for name in ("headrace_workflows.py", "headrace_workflow_errors.py"):
        shutil.copy(REPO / "dags" / name, folder / name)


def test_airflow_shows_a_bad_definition_as_an_import_error_and_loads_the_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflows = tmp_path / "workflows"
    monkeypatch.setenv("AIRFLOW__HEADRACE__WORKFLOWS_FOLDER", str(workflows))
    monkeypatch.setenv("AIRFLOW__HEADRACE__DEFINITIONS_FOLDER", str(tmp_path / "definitions"))
    shipped_loader(tmp_path)
    write(workflows, "good.yaml", GOOD)
    write(workflows, "bad.yaml", BAD)

    bag = dagbag(tmp_path)

    assert list(bag.dags) == ["good"]
    assert bag.dags["good"].fileloc == str(tmp_path / "headrace_workflows.py")
    assert list(bag.import_errors) == [str(tmp_path / "headrace_workflow_errors.py")]
    error = bag.import_errors[str(tmp_path / "headrace_workflow_errors.py")]
    assert f"{workflows / 'bad.yaml'}:5: steps.0.bash_comand: unknown key 'bash_comand'" in error
    assert "did you mean 'bash_command'?" in error


def test_all_good_definitions_give_no_import_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__HEADRACE__WORKFLOWS_FOLDER", str(tmp_path / "workflows"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__DEFINITIONS_FOLDER", str(tmp_path / "definitions"))
    shipped_loader(tmp_path)
    write(tmp_path / "workflows", "good.yaml", GOOD)
    bag = dagbag(tmp_path)
    assert list(bag.dags) == ["good"] and not bag.import_errors


def _comparable(dag) -> dict:
    from airflow.serialization.serialized_objects import DagSerialization

    data = DagSerialization.to_dict(dag)["dag"]
    for key in ("fileloc", "relative_fileloc", "_processor_dags_folder"):
        data.pop(key, None)
    return data


def test_render_gives_a_dag_file_airflow_parses_to_the_same_dag(tmp_path: Path) -> None:
    plan = plan_file(write(tmp_path / "workflows", "every.yaml", EVERY_KIND))
    from_loader = build_dag(plan)
    rendered = tmp_path / "dags" / "every_kind.py"
    rendered.parent.mkdir()
    rendered.write_text(render(plan))

    bag = dagbag(rendered.parent)

    assert not bag.import_errors, bag.import_errors
    from_file = bag.dags["every_kind"]
    assert sorted(t.task_id for t in from_file.tasks) == sorted(t.task_id for t in from_loader.tasks)
    assert _comparable(from_file) == _comparable(from_loader)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line, in this process (``python -m`` itself is run once, below)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_python_dash_m_runs_the_command_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", BAD)
    command = [sys.executable, "-m", "headrace.workflows", "validate", str(tmp_path / "bad.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "bad.yaml:5: steps.0.bash_comand" in result.stderr


def test_validate_reports_each_bad_file_and_fails(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "bad.yaml", BAD)
    result = cli("validate", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:5: steps.0.bash_comand: unknown key" in result.stderr
    assert "good.yaml: ok: DAG good with 1 task(s)" in result.stdout
    assert "1 valid, 1 invalid" in result.stderr


def test_validate_passes_the_shipped_examples() -> None:
    result = cli("validate", str(REPO / "dags" / "workflows"))
    assert result.returncode == 0, result.stderr
    assert "0 invalid" in result.stderr


def test_validate_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert cli("validate", str(tmp_path / "nope.yaml")).returncode == 2


def test_schema_validates_definitions_for_editors() -> None:
    import yaml

    result = cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    example = yaml.safe_load((REPO / "dags" / "workflows" / "example_orders_elt.yaml").read_text())
    example["start_date"] = str(example["start_date"])
    assert not list(validator.iter_errors(example))
    assert list(validator.iter_errors({**example, "schedul": "daily"}))


def test_render_by_id_from_the_workflows_folder(tmp_path: Path) -> None:
    write(tmp_path, "some-file.yaml", GOOD)
    result = cli("render", "good", "--folder", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "dag_id='good'" in result.stdout
    compile(result.stdout, "good.py", "exec")
    assert cli("render", "nope", "--folder", str(tmp_path)).returncode == 2
