"""Workflow definitions → DAGs: every step kind, schedules, templates, and bad files located by line."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from headrace.workflows.builder import build_dag
from headrace.workflows.loader import InvalidWorkflows, load_folder, raise_invalid_workflows
from headrace.workflows.plan import plan_data, plan_file
from headrace.workflows.source import DefinitionError

EVERY_KIND = """\
id: every_kind
name: Every kind
description: One step of each kind.
owner: data-team
project: sales
tags: [demo]
schedule: "0 2 * * *"
start_date: 2026-01-01
params:
  day: {type: string, default: "2026-01-01", description: Day to load}
  limit: {type: integer, default: 10}
priority: high
configuration: {max_retries: 3, timeout: 600, retry_delay: 30, batch_size: 5000}
steps:
  - id: load
    kind: ingest
    group: extract
    source: {file_paths: "s3://raw/orders/*.csv", file_type: csv}
    target: {table: lake.sales.orders, write_mode: append}
  - id: model
    kind: transform
    depends_on: [load]
    sql: SELECT day, count(*) AS n FROM lake.sales.orders GROUP BY day
    target: lake.sales.daily
  - id: quality
    kind: check
    depends_on: [model]
    table: lake.sales.daily
    checks:
      - {type: unique, columns: [day]}
      - {type: row_count, min: 1}
  - id: announce
    kind: bash
    depends_on: [quality]
    bash_command: echo {{ params.day }}
    configuration: {max_retries: 0}
  - id: summarise
    kind: python
    depends_on: [quality]
    callable: json:dumps
    op_args: [[1, 2]]
  - id: done
    kind: operator
    depends_on: [announce, summarise]
    operator: airflow.providers.standard.operators.empty.EmptyOperator
    arguments: {trigger_rule: all_done}
  - id: events
    kind: template
    template: file_to_table
    depends_on: [done]
    parameters: {source: "s3://raw/events/*.json", file_type: json, target: lake.raw.events}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def build(path: Path):
    return build_dag(plan_file(path))


def test_every_step_kind_becomes_its_operator(tmp_path: Path) -> None:
    dag = build(write(tmp_path, "every.yaml", EVERY_KIND))

    kinds = {t.task_id: type(t).__name__ for t in dag.tasks}
    assert kinds == {
        "extract.load": "IngestionOperator",
        "model": "SqlTransformOperator",
        "quality": "TableCheckOperator",
        "announce": "BashOperator",
        "summarise": "PythonOperator",
        "done": "EmptyOperator",
        "events.load": "IngestionOperator",
        "events.not_empty": "TableCheckOperator",
    }
    upstream = {t.task_id: t.upstream_task_ids for t in dag.tasks}
    assert upstream["model"] == {"extract.load"}
    assert upstream["done"] == {"announce", "summarise"}
    assert upstream["events.load"] == {"done"}  # the template's group follows its dependency
    assert upstream["events.not_empty"] == {"events.load"}
    assert set(dag.task_group.children) >= {"extract", "events"}

    load = dag.get_task("extract.load")
    assert load.target == {"catalog": "lake", "schema": "sales", "table": "orders", "write_mode": "append"}
    assert load.batch_size == 5000
    assert (load.retries, load.execution_timeout, load.retry_delay) == (
        3,
        timedelta(seconds=600),
        timedelta(seconds=30),
    )
    assert load.priority_weight == 10  # priority high
    assert dag.get_task("announce").retries == 0  # the step's own configuration wins
    assert dag.get_task("done").trigger_rule == "all_done"
    assert dag.get_task("events.load").source == {"file_paths": "s3://raw/events/*.json", "file_type": "json"}

    assert dag.dag_id == "every_kind" and dag.owner == "data-team"
    assert set(dag.tags) >= {"demo", "priority:high", "project:sales", "headrace-workflow"}
    assert dag.params["limit"] == 10
    assert dag.timetable.expression == "0 2 * * *"


@pytest.mark.parametrize(
    ("schedule", "timetable", "value"),
    [
        ('"@hourly"', "CronTriggerTimetable", "0 * * * *"),
        ("daily", "CronTriggerTimetable", "0 0 * * *"),
        ('"*/5 * * * *"', "CronTriggerTimetable", "*/5 * * * *"),
        ("every 15 minutes", "DeltaTriggerTimetable", timedelta(minutes=15)),
        ("every 2 hours", "DeltaTriggerTimetable", timedelta(hours=2)),
        ("null", "NullTimetable", None),
        ("{assets: [s3://raw/orders, s3://raw/customers], match: all}", "AssetTriggeredTimetable", None),
    ],
)
def test_schedules(tmp_path: Path, schedule: str, timetable: str, value: object) -> None:
    text = f"id: s\nschedule: {schedule}\nsteps:\n  - {{id: a, kind: bash, bash_command: echo}}\n"
    dag = build(write(tmp_path, "s.yaml", text))
    assert type(dag.timetable).__name__ == timetable
    if isinstance(value, str):
        assert dag.timetable.expression == value
    elif isinstance(value, timedelta):
        assert dag.timetable.delta == value
    elif timetable == "AssetTriggeredTimetable":
        assert type(dag.timetable.asset_condition).__name__ == "AssetAll"
        assert {a.uri for a in dag.timetable.asset_condition.objects} == {
            "s3://raw/orders",
            "s3://raw/customers",
        }


BAD_FILES = {
    "syntax.yaml": ("id: broken\nsteps: [\n  - id: a\n", 3, "invalid YAML"),
    "unknown_key.yaml": (
        "id: u\nsteps:\n  - id: a\n    kind: bash\n    bash_command: echo\n    colour: red\n",
        6,
        "steps.0.colour: unknown key 'colour'\n",
    ),
    "typo.yaml": (
        "id: t\nschedul: daily\nsteps:\n  - {id: a, kind: bash, bash_command: echo}\n",
        2,
        "schedul: unknown key 'schedul' (did you mean 'schedule'?)",
    ),
    "cycle.yaml": (
        "id: c\nsteps:\n  - id: a\n    kind: bash\n    bash_command: echo\n    depends_on: [b]\n"
        "  - id: b\n    kind: bash\n    bash_command: echo\n    depends_on: [a]\n",
        6,
        "steps.0.depends_on.0: dependency cycle: a -> b -> a",
    ),
    "missing_dependency.yaml": (
        "id: m\nsteps:\n  - id: load\n    kind: bash\n    bash_command: echo\n"
        "  - id: b\n    kind: bash\n    bash_command: echo\n    depends_on:\n      - laod\n",
        10,
        "steps.1.depends_on.0: unknown step 'laod' (did you mean 'load'?)",
    ),
    "bad_cron.yaml": (
        'id: b\nschedule: "0 25 * * *"\nsteps:\n  - {id: a, kind: bash, bash_command: echo}\n',
        2,
        "schedule: '0 25 * * *' is not a valid cron expression",
    ),
    "bad_argument.yaml": (
        "id: o\nsteps:\n  - id: a\n    kind: operator\n"
        "    operator: airflow.providers.standard.operators.bash.BashOperator\n"
        "    arguments:\n      bash_command: echo\n      retrys: 3\n",
        8,
        "steps.0.arguments.retrys: airflow.providers.standard.operators.bash.BashOperator takes no argument "
        "'retrys' (did you mean 'retries'?)",
    ),
    "bad_json.json": ('{"id": "j",\n "steps": [}\n', 2, "invalid JSON"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_reported_at_its_line_and_a_good_file_still_loads(tmp_path: Path, name: str) -> None:
    text, line, message = BAD_FILES[name]
    write(tmp_path, name, text)
    write(tmp_path, "good.yaml", "id: good\nsteps:\n  - {id: a, kind: bash, bash_command: echo}\n")

    result = load_folder(tmp_path)

    assert list(result.dags) == ["good"]
    assert len(result.problems) == 1
    assert (str(result.problems[0]) + "\n").startswith(f"{tmp_path / name}:{line}: {message}")
    with pytest.raises(InvalidWorkflows, match=f"{name}:{line}: "):
        raise_invalid_workflows(tmp_path)


def test_duplicate_ids_across_files_keep_the_first(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: same\nsteps:\n  - {id: a, kind: bash, bash_command: echo}\n")
    write(tmp_path, "b.yaml", "id: same\nsteps:\n  - {id: b, kind: bash, bash_command: echo}\n")
    result = load_folder(tmp_path)
    assert [t.task_id for t in result.dags["same"].tasks] == ["a"]
    assert "already defined by a.yaml" in str(result.problems[0])


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    data = {
        "id": "x",
        "priority": "urgent",
        "steps": [{"id": "a", "kind": "sql"}, {"id": "b", "kind": "check", "table": "c.s.t", "checks": []}],
    }
    with pytest.raises(DefinitionError) as caught:
        plan_data(data, "inline")
    fields = {p.field for p in caught.value.problems}
    assert fields == {"priority", "steps.0.kind", "steps.1.checks"}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"source": "s3://r/x.csv", "file_type": "csv"}, "parameters.target: Field required"),
        (
            {"source": "s3://r/x.csv", "file_type": "csv", "target": "c.s.t", "min_row": 3},
            "unknown key 'min_row' \\(did you mean 'min_rows'\\?\\)",
        ),
        ({"source": "s3://r/x.csv", "file_type": "xls", "target": "c.s.t"}, "must be one of"),
        ({"source": "s3://r/x.csv", "file_type": "csv", "target": "c.s.t", "min_rows": "many"}, "integer"),
    ],
)
def test_template_parameters_are_typed(parameters: dict, message: str) -> None:
    step = {"id": "files", "kind": "template", "template": "file_to_table", "parameters": parameters}
    with pytest.raises(DefinitionError, match=message):
        plan_data({"id": "t", "steps": [step]}, "inline")


def test_unknown_template_names_the_known_ones() -> None:
    step = {"id": "files", "kind": "template", "template": "file_to_tabel"}
    with pytest.raises(
        DefinitionError, match="unknown template 'file_to_tabel' \\(did you mean 'file_to_table'"
    ):
        plan_data({"id": "t", "steps": [step]}, "inline")


def test_a_deployment_template_is_used_from_the_templates_folder(tmp_path: Path) -> None:
    write(
        tmp_path / "templates",
        "greet.yaml",
        """\
        template: greet
        parameters: {who: {type: string}, times: {type: integer, default: 2}}
        steps:
          - {id: hello, kind: bash, bash_command: "echo hello ${who} x${times}"}
          - {id: bye, kind: bash, bash_command: "echo bye", depends_on: [hello]}
        """,
    )
    write(
        tmp_path,
        "w.yaml",
        "id: w\nsteps:\n  - {id: g, kind: template, template: greet, parameters: {who: ann}}\n",
    )
    dag = load_folder(tmp_path).dags["w"]
    assert dag.get_task("g.hello").bash_command == "echo hello ann x2"
    assert dag.get_task("g.bye").upstream_task_ids == {"g.hello"}


def test_python_callable_must_import(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "id: p\nsteps:\n  - id: a\n    kind: python\n    callable: json:dumpz\n")
    with pytest.raises(DefinitionError, match=r"p.yaml:5: steps.0.callable: cannot import 'json:dumpz'"):
        build(path)
