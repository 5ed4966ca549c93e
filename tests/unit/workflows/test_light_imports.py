"""A DAG-parsing process imports the workflow loader: it must not pull in pyarrow, pandas or boto3.

Airflow parses DAG files again and again, each time in a fresh process, so every module the loader
imports is paid on every parse. The definition model validates ingest, transform and check steps
without the data libraries; they are imported only where data is read, written or queried (by the
tasks when they run). Each test runs in a fresh interpreter and reads its ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("pyarrow", "pandas", "boto3", "botocore", "duckdb", "sqlglot")

DEFINITIONS = {
    "good.yaml": """\
        id: light_flow
        schedule: "0 2 * * *"
        start_date: 2026-01-01
        steps:
          - id: load
            kind: ingest
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
        """,
    "bad.yaml": """\
        id: bad_flow
        steps:
          - id: quality
            kind: check
            table: lake.sales.daily
            checks:
              - {type: unique}
          - id: load
            kind: ingest
            source: {file_paths: "s3://raw/x.csv", file_type: xlsx}
            target: {table: lake.sales.orders}
        """,
}


def run_fresh(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a fresh interpreter (scratch AIRFLOW_HOME); it prints one JSON line last."""
    home = tmp_path / "airflow-home"
    home.mkdir(exist_ok=True)
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_loader_imports_no_data_library(tmp_path: Path) -> None:
    answer = run_fresh(
        f"""
        import json, sys
        import headrace.workflows.loader
        print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
        """,
        tmp_path,
    )
    assert answer == []


def test_definitions_validate_without_the_data_libraries(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    for name, text in DEFINITIONS.items():
        (folder / name).write_text(textwrap.dedent(text))
    answer = run_fresh(
        f"""
        import json, sys
        from pathlib import Path
        from headrace.workflows.loader import load_folder
        result = load_folder(Path({str(folder)!r}), build=False)
        print(json.dumps({{
            "heavy": [m for m in {HEAVY!r} if m in sys.modules],
            "steps": {{i: [t.task_id for t in p.tasks] for i, p in result.plans.items()}},
            "problems": [[Path(p.file).name, p.field] for p in result.problems],
        }}))
        """,
        tmp_path,
    )
    assert answer["heavy"] == []
    assert answer["steps"] == {"light_flow": ["load", "model", "quality"]}
    # the check and the ingestion spec models still refuse what is wrong, naming the field
    fields = {field for name, field in answer["problems"] if name == "bad.yaml"}
    assert any("checks" in field and "columns" in field for field in fields), answer["problems"]
    assert any("file_type" in field for field in fields), answer["problems"]


def test_building_the_dags_imports_no_data_library(tmp_path: Path) -> None:
    """What a parse loop really does: build the DAGs, operators included, and still no data library."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "good.yaml").write_text(textwrap.dedent(DEFINITIONS["good.yaml"]))
    answer = run_fresh(
        f"""
        import json, sys
        from pathlib import Path
        from headrace.workflows.loader import load_folder
        result = load_folder(Path({str(folder)!r}))
        dag = result.dags["light_flow"]
        print(json.dumps({{
            "heavy": [m for m in {HEAVY!r} if m in sys.modules],
            "tasks": sorted((t.task_id, type(t).__name__) for t in dag.tasks),
        }}))
        """,
        tmp_path,
    )
    assert answer["tasks"] == [
        ["load", "IngestionOperator"],
        ["model", "SqlTransformOperator"],
        ["quality", "TableCheckOperator"],
    ]
    assert answer["heavy"] == []
