"""A failed run says why: ``error`` on GET /pipelines/<id>/status and GET /workflows/<id>.

Runs, task instances and XComs are rows in the real metadata DB, as the scheduler and the operators
leave them (the operators push their failure to XCom under their ``ERROR_XCOM_KEY`` before failing,
see headrace.operators.failures); no scheduler runs here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import BASE

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PIPELINE = "Ingest s3://landing/orders/*.csv into status_lake.sales.orders, then check order_id is unique"


def _run(dag_id: str, state: str, *, note: str | None = None, minutes: int = 0) -> str:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    run_id = f"manual__{uuid.uuid4().hex[:8]}"
    start = T0 + timedelta(minutes=minutes)
    with create_session() as session:
        run = DagRun(dag_id=dag_id, run_id=run_id, run_type="manual", run_after=start, start_date=start)
        run.state = state
        run.end_date = None if state in ("queued", "running") else start + timedelta(seconds=3)
        if note:
            run.note = note
        session.add(run)
    return run_id


def _task(
    dag_id: str, run_id: str, task_id: str, state: str | None, *, tries: int = 1, second: int = 1
) -> None:
    from airflow import settings
    from airflow.models.taskinstance import TaskInstance

    values = {
        "id": uuid.uuid4(),
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "pool": "default_pool",
        "try_number": tries,
        "operator": "IngestionOperator",
        "state": state,
        "start_date": T0 if state else None,
        "end_date": T0 + timedelta(seconds=second) if state in ("failed", "success") else None,
    }
    with settings.engine.begin() as connection:
        connection.execute(sa.insert(TaskInstance.__table__).values(values))


def _xcom(dag_id: str, run_id: str, task_id: str, key: str, value) -> None:
    """What ``fail_task`` pushes: ``context["ti"].xcom_push(key=key, value=value)``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        XComModel.set(key, value, dag_id=dag_id, task_id=task_id, run_id=run_id, session=session)


@pytest.fixture
def pipeline(client, admin_headers) -> tuple[str, list[str]]:
    """A generated and deployed pipeline: its id and its step ids (ingest, then check)."""
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "status_lake", "type": "iceberg"})
    generated = client.post(
        f"{BASE}/pipelines:generate", headers=admin_headers, json={"description": PIPELINE}
    )
    assert generated.status_code == 201, generated.json
    pipeline_id = generated.json["pipeline_id"]
    deployed = client.post(f"{BASE}/pipelines/{pipeline_id}:deploy", headers=admin_headers, json={})
    assert deployed.status_code == 200, deployed.json
    return pipeline_id, [step["id"] for step in generated.json["dag_definition"]["steps"]]


@pytest.fixture
def workflow(airflow_home: Path) -> str:
    """A hand-written definition of three steps: load -> quality -> notify."""
    workflow_id = f"status_{uuid.uuid4().hex[:8]}"
    folder = airflow_home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{workflow_id}.yaml").write_text(
        f"id: {workflow_id}\nsteps:\n"
        "  - {id: load, kind: bash, bash_command: 'echo load'}\n"
        "  - {id: quality, kind: bash, bash_command: 'echo check', depends_on: [load]}\n"
        "  - {id: notify, kind: bash, bash_command: 'echo done', depends_on: [quality]}\n"
    )
    return workflow_id


def _status(client, headers, pipeline_id: str) -> dict:
    response = client.get(f"{BASE}/pipelines/{pipeline_id}/status", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def _workflow(client, headers, workflow_id: str) -> dict:
    response = client.get(f"{BASE}/workflows/{workflow_id}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_a_failed_ingestion_is_named_with_its_message(client, admin_headers, pipeline) -> None:
    from headrace.ingestion.results import ERROR_XCOM_KEY

    pipeline_id, (ingest, check) = pipeline
    assert _status(client, admin_headers, pipeline_id)["error"] is None  # deployed, never run

    run_id = _run(pipeline_id, "failed")
    _task(pipeline_id, run_id, ingest, "failed")
    _task(pipeline_id, run_id, check, "upstream_failed")
    _xcom(pipeline_id, run_id, ingest, ERROR_XCOM_KEY, "No file matches s3://landing/orders/*.csv")

    status = _status(client, admin_headers, pipeline_id)
    assert status["status"] == "failed" and status["run_id"] == run_id
    assert status["error"] == {
        "step": ingest,
        "message": "No file matches s3://landing/orders/*.csv",
        "state": "failed",
        "try_number": 1,
    }
    # every field of the contract is still there
    assert set(status) >= {
        "pipeline_id",
        "status",
        "current_task",
        "progress",
        "started_at",
        "estimated_completion",
    }


def test_a_later_successful_run_clears_the_error(client, admin_headers, pipeline) -> None:
    pipeline_id, (ingest, check) = pipeline
    failed = _run(pipeline_id, "failed")
    _task(pipeline_id, failed, ingest, "failed")
    assert _status(client, admin_headers, pipeline_id)["error"]["step"] == ingest

    ok = _run(pipeline_id, "success", minutes=5)
    _task(pipeline_id, ok, ingest, "success")
    _task(pipeline_id, ok, check, "success")
    status = _status(client, admin_headers, pipeline_id)
    assert status["status"] == "completed" and status["error"] is None


def test_a_failed_check_reports_its_failed_checks(client, admin_headers, workflow) -> None:
    from headrace.lakehouse.checks import REPORT_XCOM_KEY, CheckReport, CheckResult

    report = CheckReport(
        table="lake.sales.orders",
        row_count=200,
        results=[
            CheckResult(type="unique", passed=False, failing_rows=3, message="order_id has 3 duplicate rows"),
            CheckResult(type="not_null", passed=True, failing_rows=0, message="no nulls"),
        ],
    )
    run_id = _run(workflow, "failed")
    _task(workflow, run_id, "load", "success")
    _task(workflow, run_id, "quality", "failed", second=2)
    _task(workflow, run_id, "notify", "upstream_failed")
    _xcom(workflow, run_id, "quality", REPORT_XCOM_KEY, report.as_dict())

    body = _workflow(client, admin_headers, workflow)
    assert body["status"] == "failed"
    assert body["error"]["step"] == "quality"
    assert body["error"]["message"] == (
        "1 of 2 check(s) failed on lake.sales.orders: "
        "unique (3 failing row(s)): order_id has 3 duplicate rows"
    )
    assert [s["status"] for s in body["execution_plan"]["steps"]] == ["completed", "failed", "skipped"]


def test_a_task_without_a_message_gives_its_state_and_try_not_a_trace(
    client, admin_headers, workflow
) -> None:
    run_id = _run(workflow, "failed")
    _task(workflow, run_id, "load", "failed", tries=3)
    _task(workflow, run_id, "quality", "upstream_failed")
    _task(workflow, run_id, "notify", "upstream_failed")

    error = _workflow(client, admin_headers, workflow)["error"]
    assert error["step"] == "load" and error["state"] == "failed" and error["try_number"] == 3
    assert "Task 'load' failed on try 3" in error["message"]
    assert "Traceback" not in error["message"] and "/" not in error["message"]


def test_the_first_failure_is_named_when_two_steps_fail(client, admin_headers, workflow) -> None:
    run_id = _run(workflow, "failed")
    _task(workflow, run_id, "quality", "failed", second=9)
    _task(workflow, run_id, "load", "failed", second=4)
    _task(workflow, run_id, "notify", "upstream_failed")
    assert _workflow(client, admin_headers, workflow)["error"]["step"] == "load"


def test_a_run_that_failed_without_a_failed_task(client, admin_headers, workflow) -> None:
    run_id = _run(workflow, "failed")  # e.g. its dagrun_timeout passed before any task started
    _task(workflow, run_id, "load", None)
    error = _workflow(client, admin_headers, workflow)["error"]
    assert error["step"] is None and "without a failed task" in error["message"]


@pytest.mark.parametrize(
    ("state", "note"),
    [("running", None), ("queued", None), ("success", None), ("failed", "Cancelled by admin: enough")],
)
def test_no_error_unless_the_run_failed(
    client, admin_headers, workflow, state: str, note: str | None
) -> None:
    run_id = _run(workflow, state, note=note)
    _task(workflow, run_id, "load", "failed" if note else "success")

    body = _workflow(client, admin_headers, workflow)
    assert body["error"] is None
    if note:
        assert body["status"] == "cancelled"  # a forced cancel fails the run; it is not an error
