"""Ingestion API over the real Flask app: jobs are DagRuns of the shipped DAG (no scheduler here)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BASE, airflow_cli

SPEC = {
    "target": {"catalog": "iceberg_data", "schema": "sales", "table": "transactions"},
    "source": {
        "file_paths": "s3://my-bucket/data/transactions.json",
        "file_type": "json",
        "bucket_details": {"bucket_name": "my-bucket", "bucket_type": "minio"},
    },
}


@pytest.fixture(scope="module")
def ingestion_dag(migrated_db):
    """The shipped DAG parsed from dags/ and serialized into the metadata DB, as the dag-processor does."""
    airflow_cli("dags", "reserialize")


@pytest.fixture
def jobs(client, admin_headers, ingestion_dag):
    def create(**overrides):
        return client.post(f"{BASE}/ingestion/jobs", headers=admin_headers, json={**SPEC, **overrides})

    return create


def test_create_answers_the_contract_fields(jobs):
    response = jobs(job_id="ingestion-001")

    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert set(data) == {
        "instance_id",
        "job_id",
        "application_id",
        "username",
        "start_timestamp",
        "status",
        "source_data_files",
        "target_table",
    }
    assert data["job_id"] == "ingestion-001" and data["status"] == "starting"
    assert data["username"] == "admin"
    assert data["source_data_files"] == "s3://my-bucket/data/transactions.json"
    assert data["target_table"] == "iceberg_data.sales.transactions"
    assert data["start_timestamp"].isdigit() and len(data["start_timestamp"]) >= 19


def test_the_job_is_a_dag_run_with_the_spec_as_conf(app, jobs):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    jobs(job_id="as-dag-run")
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.run_id == "as-dag-run"))
        assert run.dag_id == "headrace_ingestion"
        assert run.conf["target"]["table"] == "transactions" and run.conf["job_id"] == "as-dag-run"


def test_job_id_is_generated_and_duplicates_are_409(jobs):
    generated = jobs().json["data"]["job_id"]
    assert generated.startswith("ingestion-")

    duplicate = jobs(job_id=generated)
    assert duplicate.status_code == 409 and duplicate.json["code"] == "JOB_EXISTS"


def test_idempotency_key_replays_the_first_answer(client, admin_headers, ingestion_dag):
    headers = {**admin_headers, "Idempotency-Key": "abc-123"}

    first = client.post(f"{BASE}/ingestion/jobs", headers=headers, json=SPEC)
    again = client.post(f"{BASE}/ingestion/jobs", headers=headers, json=SPEC)
    other = client.post(f"{BASE}/ingestion/jobs", headers=headers, json={**SPEC, "engine_id": "arrow"})

    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_get_list_and_cancel(client, admin_headers, jobs):
    for n in range(3):
        jobs(job_id=f"page-{n}")

    got = client.get(f"{BASE}/ingestion/jobs/page-1", headers=admin_headers).json["data"]
    assert got["status"] == "starting" and got["end_timestamp"] is None and got["details"]

    listed = client.get(f"{BASE}/ingestion/jobs?limit=2&offset=0", headers=admin_headers).json["data"]
    assert len(listed) == 2
    rest = client.get(f"{BASE}/ingestion/jobs?limit=1000&offset=2", headers=admin_headers).json["data"]
    assert not {j["job_id"] for j in listed} & {j["job_id"] for j in rest}

    cancelled = client.delete(f"{BASE}/ingestion/jobs/page-1", headers=admin_headers)
    assert cancelled.json == {
        "success": True,
        "data": {"job_id": "page-1", "status": "cancelled", "message": "Job cancelled successfully"},
    }
    after = client.get(f"{BASE}/ingestion/jobs/page-1", headers=admin_headers).json["data"]
    assert after["status"] == "cancelled" and after["end_timestamp"]
    only_cancelled = client.get(f"{BASE}/ingestion/jobs?status=cancelled", headers=admin_headers).json["data"]
    assert "page-1" in {j["job_id"] for j in only_cancelled}
    assert all(j["status"] == "cancelled" for j in only_cancelled)
    again = client.delete(f"{BASE}/ingestion/jobs/page-1", headers=admin_headers)
    assert again.status_code == 409


def test_unknown_job_is_404_in_contract_wording(client, admin_headers, ingestion_dag):
    response = client.get(f"{BASE}/ingestion/jobs/nope", headers=admin_headers)

    assert response.status_code == 404
    assert response.json["error"] == "Failed to get job status: Job not found"


def test_bad_specs_get_every_error_in_contract_wording(client, admin_headers, ingestion_dag):
    response = client.post(
        f"{BASE}/ingestion/jobs",
        headers=admin_headers,
        json={"target": {"schema": "s", "table": "t"}, "source": {"file_paths": "", "file_type": "xml"}},
    )

    assert response.status_code == 400
    assert response.json["errors"] == [
        "Target catalog is required",
        "Source file paths are required",
        "Invalid file type. Must be one of: json, csv, parquet, avro, orc",
    ]
    assert [d["field"] for d in response.json["details"]] == [
        "target.catalog",
        "source.file_paths",
        "source.file_type",
    ]


def test_validate_creates_nothing(client, admin_headers, ingestion_dag, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'c.db'}")
    before = client.get(f"{BASE}/ingestion/jobs?limit=1000", headers=admin_headers).json["data"]

    bad = client.post(f"{BASE}/ingestion/validate", headers=admin_headers, json={"target": {}, "source": {}})
    unknown_catalog = client.post(f"{BASE}/ingestion/validate", headers=admin_headers, json=SPEC)

    assert bad.json["data"]["valid"] is False and "Target catalog is required" in bad.json["data"]["errors"]
    assert unknown_catalog.json["data"] == {"valid": False, "errors": ["Catalog 'iceberg_data' not found"]}
    after = client.get(f"{BASE}/ingestion/jobs?limit=1000", headers=admin_headers).json["data"]
    assert len(after) == len(before)


def test_config_default_and_file_types(client, viewer_headers):
    config = client.get(f"{BASE}/ingestion/config/default", headers=viewer_headers).json["data"]
    assert config["engine_id"] == "arrow"
    assert config["execute_config"]["driver_memory"] == "4G"
    assert config["bucket_details"] == {"bucket_name": "landing", "bucket_type": "local"}

    types = client.get(f"{BASE}/ingestion/file-types", headers=viewer_headers).json
    assert types == {"success": True, "data": ["json", "csv", "parquet", "avro", "orc"]}


def test_viewers_cannot_create_or_cancel(client, viewer_headers, jobs):
    jobs(job_id="viewer-target")

    assert client.post(f"{BASE}/ingestion/jobs", headers=viewer_headers, json=SPEC).status_code == 403
    assert client.delete(f"{BASE}/ingestion/jobs/viewer-target", headers=viewer_headers).status_code == 403
    assert client.get(f"{BASE}/ingestion/jobs/viewer-target", headers=viewer_headers).status_code == 200


def test_an_unknown_engine_is_refused_and_known_ones_accepted(client, admin_headers, jobs):
    refused = jobs(engine_id="spark158")
    assert refused.status_code == 400
    assert refused.json["details"] == [
        {"field": "engine_id", "message": "Unknown engine_id 'spark158'. Known engines: arrow, spark"}
    ]
    assert jobs(engine_id="spark").status_code == 201


def test_validate_parses_its_body_like_every_json_route(client, admin_headers, ingestion_dag):
    """Malformed JSON is a 400 there too (it was read as no spec at all); an empty body is no spec."""
    malformed = client.post(
        f"{BASE}/ingestion/validate", headers={**admin_headers, "Content-Type": "application/json"}, data="{"
    )
    empty = client.post(f"{BASE}/ingestion/validate", headers=admin_headers)

    assert malformed.status_code == 400 and malformed.json["code"] == "INVALID_JSON"
    assert empty.status_code == 200 and empty.json["data"]["errors"] == [
        "Target is required",
        "Source is required",
    ]


def test_a_repeat_while_the_first_request_runs_is_409_in_progress(app, client, admin_headers, ingestion_dag):
    """The key is reserved before the job is created; a twin arriving meanwhile never creates one."""
    from headrace.api.registry import ENDPOINTS, request_fingerprint
    from headrace.api.security import require_principal
    from headrace.api.services.idempotency import IdempotencyStore

    [create] = [e for e in ENDPOINTS if (e.method, e.rule) == ("POST", "/ingestion/jobs")]
    key = "held-by-a-running-request"
    request = {
        "path": f"{BASE}/ingestion/jobs",
        "method": "POST",
        "headers": {**admin_headers, "Idempotency-Key": key, "Content-Type": "application/json"},
        "data": json.dumps({**SPEC, "job_id": "held-job"}),
    }
    with app.test_request_context(**request):  # what the first request, still running, reserved
        held = {"client": require_principal().rate_limit_key, "hashed": request_fingerprint()}
    IdempotencyStore().reserve(scope=create.name, key=key, **held)

    twin = client.open(**request)

    assert twin.status_code == 409 and twin.json["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert client.get(f"{BASE}/ingestion/jobs/held-job", headers=admin_headers).status_code == 404
