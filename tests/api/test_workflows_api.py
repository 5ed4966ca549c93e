"""workflows-api over the real Flask app and metadata DB: create, follow, list, cancel (no scheduler)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE, airflow_cli


def request_body(name: str, **requirements) -> dict:
    return {
        "name": name,
        "description": "Load order files into the lakehouse",
        "requirements": {
            "data_source": "s3://landing/orders/*.csv",
            "target": "lake.sales.orders",
            "schedule": "0 2 * * *",
            "priority": "high",
            **requirements,
        },
        "configuration": {"batch_size": 1000, "max_retries": 3, "timeout": 3600},
    }


@pytest.fixture
def create(client, admin_headers):
    def call(name: str | None = None, **requirements):
        body = request_body(name or f"Orders {uuid.uuid4().hex[:8]}", **requirements)
        return client.post(f"{BASE}/workflows", headers=admin_headers, json=body)

    return call


def test_create_writes_a_definition_and_answers_the_contract(create, airflow_home: Path) -> None:
    response = create("Customer Data ETL")

    assert response.status_code == 201, response.json
    body = response.json
    assert body["workflow_id"] == "customer_data_etl" and body["status"] == "created"
    assert body["estimated_duration"] is None  # no history yet
    assert body["created_at"].startswith("20")
    [agent] = body["agents_assigned"]
    assert agent["role"] == "loader" and agent["step_id"] == "load"
    assert agent["pool"] == "default_pool" and agent["specialization"] == "arrow"
    assert agent["agent_id"] == f"{agent['executor']}:default_pool:{agent['queue']}"

    written = yaml.safe_load((airflow_home / "definitions" / "customer_data_etl.yaml").read_text())
    assert written["priority"] == "high" and written["schedule"] == "0 2 * * *"
    assert written["configuration"] == {"batch_size": 1000, "max_retries": 3, "timeout": 3600}
    assert written["steps"][0]["source"] == {"file_paths": "s3://landing/orders/*.csv", "file_type": "csv"}


def test_duplicate_name_is_409(create) -> None:
    assert create("Twice").status_code == 201
    again = create("Twice")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "WORKFLOW_EXISTS"


@pytest.mark.parametrize(
    ("requirements", "field"),
    [
        ({"data_source": "postgresql://crm.example.com/customers"}, "requirements.data_source"),
        ({"data_source": "s3://landing/orders/"}, "requirements.file_type"),
        ({"target": "data_warehouse"}, "requirements.target"),
        ({"schedule": "every fortnight"}, "requirements.schedule"),
        ({"priority": "urgent"}, "requirements.priority"),
    ],
)
def test_bad_requirements_name_their_field(create, requirements: dict, field: str) -> None:
    response = create(**requirements)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in response.json["error"]["details"]] == [field]


def test_unknown_workflow_is_404_with_the_contract_error(client, admin_headers) -> None:
    response = client.get(f"{BASE}/workflows/workflow_invalid", headers=admin_headers)
    assert response.status_code == 404
    error = response.json["error"]
    assert error["code"] == "WORKFLOW_NOT_FOUND"
    assert error["message"] == "Workflow with ID 'workflow_invalid' was not found"
    assert error["details"]["workflow_id"] == "workflow_invalid" and error["details"]["suggestion"]
    assert error["timestamp"] and error["request_id"] == response.headers["X-Request-ID"]


def test_get_before_any_run_shows_the_plan(client, admin_headers, create) -> None:
    workflow_id = create(data_source="lake.sales.raw_orders", write_mode="overwrite").json["workflow_id"]

    body = client.get(f"{BASE}/workflows/{workflow_id}", headers=admin_headers).json

    assert body["status"] == "created" and body["run_id"] is None
    assert body["progress"] == {"completed_tasks": 0, "total_tasks": 1, "percentage": 0}
    assert body["execution_plan"]["steps"] == [
        {
            "step_id": "transform",
            "name": "Data Transformation",
            "status": "pending",
            "started_at": None,
            "duration": None,
            "records_processed": None,
        }
    ]
    assert body["metrics"]["records_processed"] == 0


def test_cancel_gracefully_then_by_force(client, admin_headers, create) -> None:
    workflow_id = create().json["workflow_id"]
    nothing = client.delete(f"{BASE}/workflows/{workflow_id}", headers=admin_headers, json={})
    assert nothing.status_code == 409 and nothing.json["error"]["code"] == "WORKFLOW_NOT_RUNNING"

    airflow_cli("dags", "reserialize")
    airflow_cli("dags", "trigger", workflow_id)
    graceful = client.delete(
        f"{BASE}/workflows/{workflow_id}", headers=admin_headers, json={"reason": "Manual cancellation"}
    )
    assert graceful.status_code == 202, graceful.json
    assert graceful.json["status"] == "cancelling" and graceful.json["force"] is False
    body = client.get(f"{BASE}/workflows/{workflow_id}", headers=admin_headers).json
    assert body["status"] == "cancelling"
    assert [s["status"] for s in body["execution_plan"]["steps"]] == ["skipped"]  # it never starts

    forced = client.delete(f"{BASE}/workflows/{workflow_id}", headers=admin_headers, json={"force": True})
    assert forced.status_code == 409  # already cancelling: nothing is running that could be stopped


def test_list_filters_and_pages(client, admin_headers, create) -> None:
    tag = uuid.uuid4().hex[:6]
    for priority in ("low", "critical", "critical"):
        assert create(f"List {tag} {priority} {uuid.uuid4().hex[:4]}", priority=priority).status_code == 201

    critical = client.get(f"{BASE}/workflows?priority=critical&limit=100", headers=admin_headers).json
    names = [w["name"] for w in critical["workflows"] if tag in w["name"]]
    assert len(names) == 2 and all(w["priority"] == "critical" for w in critical["workflows"])

    page = client.get(f"{BASE}/workflows?limit=1&offset=1&status=created", headers=admin_headers).json
    assert len(page["workflows"]) == 1
    assert page["pagination"]["limit"] == 1 and page["pagination"]["offset"] == 1
    assert page["pagination"]["has_next"] == (page["pagination"]["total"] > 2)

    everything = client.get(f"{BASE}/workflows?limit=100", headers=admin_headers).json["workflows"]
    created = [w["created_at"] for w in everything]
    dated = [c for c in created if c is not None]  # hand-written definitions have no created_at
    assert created[: len(dated)] == sorted(dated, reverse=True)  # newest first, undated last
    newest = dated[0]
    later = client.get(
        f"{BASE}/workflows", headers=admin_headers, query_string={"created_after": newest}
    ).json
    assert later["workflows"] == []

    too_many = client.get(f"{BASE}/workflows?limit=101", headers=admin_headers)
    assert too_many.status_code == 400 and too_many.json["error"]["details"][0]["field"] == "limit"


def test_metrics_of_a_workflow_without_runs(client, admin_headers, create) -> None:
    workflow_id = create().json["workflow_id"]
    body = client.get(f"{BASE}/workflows/{workflow_id}/metrics", headers=admin_headers).json
    assert body["run_id"] is None
    assert body["step_metrics"][0]["step_name"] == "load" and body["step_metrics"][0]["status"] == "pending"
    assert body["quality_metrics"] == {"checks_run": 0, "checks_failed": 0, "failing_rows": 0}


def test_viewer_may_read_but_not_create_or_cancel(client, viewer_headers, create) -> None:
    workflow_id = create().json["workflow_id"]
    assert client.get(f"{BASE}/workflows/{workflow_id}", headers=viewer_headers).status_code == 200
    denied = client.post(f"{BASE}/workflows", headers=viewer_headers, json=request_body("Nope"))
    assert denied.status_code == 403
    assert (
        client.delete(f"{BASE}/workflows/{workflow_id}", headers=viewer_headers, json={}).status_code == 403
    )


def test_a_definition_file_broken_on_disk_is_reported_not_hidden(
    client, admin_headers, airflow_home: Path
) -> None:
    folder = airflow_home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken_on_disk.yaml").write_text("id: broken_on_disk\nsteps:\n  - {id: a, kind: bash}\n")
    response = client.get(f"{BASE}/workflows/broken_on_disk", headers=admin_headers)
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "INVALID_DEFINITION"
    assert error["details"][0]["field"] == "steps.0.bash_command" and error["details"][0]["line"] == 3


def test_ids_that_are_not_workflow_ids_name_no_file(client, admin_headers) -> None:
    response = client.get(f"{BASE}/workflows/..%2F..%2Fetc%2Fpasswd", headers=admin_headers)
    assert response.status_code == 404
    assert client.get(f"{BASE}/workflows/..", headers=admin_headers).status_code == 404
