"""Pipelines and workflows end to end: definitions deployed over HTTP, parsed by the real dag-processor,
run by the real scheduler, tables read back with their own libraries."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from deltalake import DeltaTable
from pyiceberg.catalog.sql import SqlCatalog

pytestmark = pytest.mark.e2e
ORDERS = "order_id,amount,city\n" + "".join(f"{i},{i}.5,c{i % 3}\n" for i in range(1, 201))


def _admin(cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}


def _catalog(cluster, headers, name: str, kind: str = "iceberg") -> None:
    response = requests.post(f"{cluster.api}/catalog", headers=headers, json={"name": name, "type": kind})
    assert response.status_code in (201, 409), response.text


def _orders_file(cluster, folder: str) -> str:
    path = cluster.home / "storage" / "landing" / folder / "orders.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ORDERS)
    return f"s3://landing/{folder}/*.csv"


def _wait_status(cluster, headers, pipeline_id: str, until: set[str], timeout: float = 180) -> list[dict]:
    """Poll the status endpoint; every answer seen, the last one in ``until``."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(f"{cluster.api}/pipelines/{pipeline_id}/status", headers=headers, timeout=30)
        assert status.status_code == 200, status.text
        seen.append(status.json())
        if seen[-1]["status"] in until:
            return seen
        time.sleep(1)
    pytest.fail(f"{pipeline_id} still {seen[-1]} after {timeout}s")


def _visible_in_airflow(cluster, headers, dag_id: str, timeout: float) -> float:
    """Seconds until Airflow's own REST API knows the DAG (what its UI shows)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        response = requests.get(f"{cluster.url}/api/v2/dags/{dag_id}", headers=headers, timeout=30)
        if response.status_code == 200 and not response.json()["is_paused"]:
            return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"DAG {dag_id} not in Airflow (unpaused) within {timeout}s")


def _deploy(cluster, headers, pipeline_id: str, **body) -> float:
    deployed = requests.post(f"{cluster.api}/pipelines/{pipeline_id}:deploy", headers=headers, json=body)
    assert deployed.status_code == 200, deployed.text
    return _visible_in_airflow(cluster, headers, pipeline_id, timeout=30)


def test_generate_deploy_run_and_follow_a_pipeline(airflow_cluster):
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")
    table = f"orders_{uuid.uuid4().hex[:6]}"
    source = _orders_file(airflow_cluster, f"gen-{table}")
    description = f"Ingest {source} into iceberg_data.e2e.{table}, then check order_id is unique"

    generated = requests.post(
        f"{airflow_cluster.api}/pipelines:generate", headers=headers, json={"description": description}
    )
    assert generated.status_code == 201, generated.text
    assert generated.json()["validation"] == {"status": "passed", "warnings": []}
    pipeline_id = generated.json()["pipeline_id"]

    seconds = _deploy(airflow_cluster, headers, pipeline_id, environment="e2e")
    assert seconds <= 10, f"the deployed DAG took {seconds:.1f}s to appear"

    wrong = requests.post(
        f"{airflow_cluster.api}/pipelines/{pipeline_id}:run", headers=headers, json={"params": {"day": "x"}}
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["field"] == "params.day"
    run = requests.post(f"{airflow_cluster.api}/pipelines/{pipeline_id}:run", headers=headers, json={})
    assert run.status_code == 202, run.text

    seen = _wait_status(airflow_cluster, headers, pipeline_id, {"completed", "failed"})
    final = seen[-1]
    assert final["status"] == "completed", final
    assert final["run_id"] == run.json()["run_id"] and final["progress"] == 100
    assert final["current_task"] is None and final["started_at"]
    assert all(0 <= s["progress"] <= 100 for s in seen)

    catalog = SqlCatalog("iceberg_data", uri=f"sqlite:///{airflow_cluster.home / 'headrace' / 'catalog.db'}")
    rows = catalog.load_table(f"e2e.{table}").scan().to_arrow()
    assert rows.num_rows == 200 and sorted(rows["order_id"].to_pylist()) == list(range(1, 201))

    listed = requests.get(f"{airflow_cluster.api}/pipelines?per_page=1", headers=headers)
    assert listed.status_code == 200 and int(listed.headers["X-Total-Count"]) >= 1
    assert listed.headers["X-Per-Page"] == "1" and "rel=" in listed.headers["Link"]


ELT = """\
id: {id}
name: Orders ELT {id}
schedule: null
params:
  min_amount: {{type: number, default: 0}}
configuration: {{max_retries: 0}}
steps:
  - id: load
    kind: ingest
    source: {{file_paths: "{source}", file_type: csv}}
    target: iceberg_data.e2e.{id}_raw
  - id: big_orders
    kind: transform
    depends_on: [load]
    sql: >
      SELECT city, count(*) AS orders, sum(amount) AS revenue
      FROM iceberg_data.e2e.{id}_raw WHERE amount >= {{{{ params.min_amount }}}} GROUP BY city
    target: delta_data.e2e.{id}_by_city
  - id: quality
    kind: check
    depends_on: [big_orders]
    table: delta_data.e2e.{id}_by_city
    checks:
      - {{type: unique, columns: [city]}}
      - {{type: not_null, columns: [city, orders]}}
      - {{type: row_count, min: 1, max: 3}}
"""


def _write(cluster, text: str, workflow_id: str) -> Path:
    folder = cluster.home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{workflow_id}.yaml"
    path.write_text(text)
    return path


def test_an_ingest_transform_check_workflow_writes_real_tables(airflow_cluster):
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")
    _catalog(airflow_cluster, headers, "delta_data", "delta")
    workflow_id = f"elt_{uuid.uuid4().hex[:6]}"
    source = _orders_file(airflow_cluster, workflow_id)
    _write(airflow_cluster, ELT.format(id=workflow_id, source=source), workflow_id)
    _deploy(airflow_cluster, headers, workflow_id)

    run = requests.post(
        f"{airflow_cluster.api}/pipelines/{workflow_id}:run",
        headers=headers,
        json={"params": {"min_amount": 100}, "async": False, "wait_seconds": 120},
    )
    assert run.status_code == 202, run.text
    assert run.json()["status"] == "completed", run.json()

    by_city = DeltaTable(
        str(airflow_cluster.home / "storage" / "warehouse" / "delta_data" / "e2e" / f"{workflow_id}_by_city")
    )
    rows = {r["city"]: r["orders"] for r in by_city.to_pyarrow_table().to_pylist()}
    assert rows == {f"c{k}": sum(1 for i in range(100, 201) if i % 3 == k) for k in range(3)}  # amount >= 100

    workflow = requests.get(f"{airflow_cluster.api}/workflows/{workflow_id}", headers=headers).json()
    assert workflow["status"] == "completed"
    assert workflow["progress"] == {"completed_tasks": 3, "total_tasks": 3, "percentage": 100}
    steps = {s["step_id"]: s for s in workflow["execution_plan"]["steps"]}
    assert steps["load"]["records_processed"] == 200 and steps["big_orders"]["records_processed"] == 3
    assert all(s["status"] == "completed" and s["duration"] is not None for s in steps.values())

    metrics = requests.get(f"{airflow_cluster.api}/workflows/{workflow_id}/metrics", headers=headers).json()
    assert metrics["quality_metrics"] == {"checks_run": 3, "checks_failed": 0, "failing_rows": 0}
    assert metrics["execution_metrics"]["records_processed"] == 200 + 3 + 3  # loaded, written, checked


LONG = """\
id: {id}
schedule: null
steps:
  - {{id: slow, kind: bash, bash_command: "sleep {seconds}"}}
  - {{id: after, kind: bash, bash_command: "echo after", depends_on: [slow]}}
"""


@pytest.mark.parametrize(("force", "seconds"), [(True, 300), (False, 6)])
def test_cancel_a_long_running_workflow(airflow_cluster, force: bool, seconds: int):
    headers = _admin(airflow_cluster)
    workflow_id = f"long_{uuid.uuid4().hex[:6]}"
    _write(airflow_cluster, LONG.format(id=workflow_id, seconds=seconds), workflow_id)
    _deploy(airflow_cluster, headers, workflow_id)
    requests.post(f"{airflow_cluster.api}/pipelines/{workflow_id}:run", headers=headers, json={})
    deadline = time.monotonic() + 120
    while (
        requests.get(f"{airflow_cluster.api}/workflows/{workflow_id}", headers=headers).json()["current_step"]
        is None
    ):
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.5)

    started = time.monotonic()
    cancelled = requests.delete(
        f"{airflow_cluster.api}/workflows/{workflow_id}",
        headers=headers,
        json={"reason": "e2e", "force": force},
    )
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelling"

    while (body := requests.get(f"{airflow_cluster.api}/workflows/{workflow_id}", headers=headers).json())[
        "status"
    ] != "cancelled":
        assert time.monotonic() - started < 90, body
        time.sleep(1)
    steps = {s["step_id"]: s["status"] for s in body["execution_plan"]["steps"]}
    assert steps["after"] == "skipped"  # no new step started
    if force:
        assert steps["slow"] == "failed" and time.monotonic() - started < 60  # stopped, not waited for
    else:
        assert steps["slow"] == "completed"  # the running step was allowed to finish


def test_workflows_api_creates_a_workflow_that_airflow_runs_once(airflow_cluster):
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")
    name = f"Orders once {uuid.uuid4().hex[:6]}"
    source = _orders_file(airflow_cluster, name.replace(" ", "_"))
    created = requests.post(
        f"{airflow_cluster.api}/workflows",
        headers=headers,
        json={
            "name": name,
            "requirements": {
                "data_source": source,
                "target": f"iceberg_data.e2e.{name.replace(' ', '_').lower()}",
                "priority": "critical",
            },
            "configuration": {"max_retries": 1, "timeout": 600},
        },
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["workflow_id"]

    deadline = time.monotonic() + 180
    while (body := requests.get(f"{airflow_cluster.api}/workflows/{workflow_id}", headers=headers).json())[
        "status"
    ] not in ("completed", "failed"):
        assert time.monotonic() < deadline, body
        time.sleep(1)
    assert body["status"] == "completed" and body["metrics"]["records_processed"] == 200

    listed = requests.get(
        f"{airflow_cluster.api}/workflows?priority=critical&status=completed", headers=headers
    ).json()
    assert workflow_id in [w["workflow_id"] for w in listed["workflows"]]
    assert listed["pagination"]["limit"] == 20 and listed["pagination"]["offset"] == 0
    definition = yaml.safe_load((airflow_cluster.home / "workflows" / f"{workflow_id}.yaml").read_text())
    assert definition["schedule"] == "@once"
