"""``GET /observability/metrics`` (pipelines-api) against the real Flask app: validation naming the
field, and binary jobs of the real queue counted in their buckets. Pipeline runs are counted by the
end-to-end test with a real scheduler (tests/e2e/test_operations.py)."""

from __future__ import annotations

import uuid

from tests.conftest import BASE

SHA = "0" * 63 + "1"
URL = f"{BASE}/observability/metrics"


def _fields(answer) -> list[str]:
    return [d["field"] for d in answer.json["error"]["details"]]


def test_unknown_metric_is_a_400_naming_the_allowed_values(client, admin_headers):
    answer = client.get(f"{URL}?metric=cpu", headers=admin_headers)

    assert answer.status_code == 400 and answer.json["error"]["code"] == "VALIDATION_ERROR"
    assert _fields(answer) == ["metric"]
    message = answer.json["error"]["details"][0]["message"]
    for name in ("pipeline_executions", "pipeline_duration_seconds", "records_processed", "ingestion_jobs"):
        assert name in message


def test_window_and_step_are_checked(client, admin_headers):
    backwards = client.get(
        f"{URL}?start=2024-01-02T00:00:00Z&end=2024-01-01T00:00:00Z", headers=admin_headers
    )
    too_fine = client.get(
        f"{URL}?start=2024-01-01T00:00:00Z&end=2024-02-01T00:00:00Z&step=1s", headers=admin_headers
    )
    bad_step = client.get(f"{URL}?step=fortnight", headers=admin_headers)
    not_a_date = client.get(f"{URL}?start=yesterday", headers=admin_headers)

    assert backwards.status_code == 400 and _fields(backwards) == ["start"]
    assert too_fine.status_code == 400 and _fields(too_fine) == ["step"]
    assert "observability_max_buckets" in too_fine.json["error"]["details"][0]["message"]
    assert bad_step.status_code == 400 and _fields(bad_step) == ["step"]
    assert not_a_date.status_code == 400 and _fields(not_a_date) == ["start"]


def test_binary_jobs_are_counted_per_type_and_status(client, admin_headers):
    kind = f"obs-{uuid.uuid4().hex[:8]}"
    job = {
        "type": kind,
        "binary_url": "https://example.com/b",
        "binary_sha256": SHA,
        "priority": "background",
    }
    ids = [client.post(f"{BASE}/jobs", headers=admin_headers, json=job).json["id"] for _ in range(3)]
    assert client.delete(f"{BASE}/jobs/{ids[0]}", headers=admin_headers).status_code == 200

    answer = client.get(f"{URL}?metric=job_queue_jobs&step=1d&pipeline={kind}", headers=admin_headers)

    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["metric"] == "job_queue_jobs" and body["step_seconds"] == 86400
    by_status = {}
    for point in body["metrics"]:
        assert point["labels"]["pipeline"] == kind
        by_status[point["labels"]["status"]] = by_status.get(point["labels"]["status"], 0) + point["value"]
    assert by_status == {"queued": 2, "cancelled": 1}
    assert body["aggregates"] == {"total": 3, "success_rate": None, "avg_duration_seconds": None}


def test_an_empty_window_has_no_points(client, admin_headers):
    answer = client.get(
        f"{URL}?metric=pipeline_executions&start=2001-01-01T00:00:00Z&end=2001-01-02T00:00:00Z",
        headers=admin_headers,
    )

    assert answer.status_code == 200
    assert answer.json["metrics"] == []
    assert answer.json["aggregates"] == {"total": 0, "success_rate": None, "avg_duration_seconds": None}


def test_the_metric_names_are_in_the_openapi_document(client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    parameters = document["paths"]["/observability/metrics"]["get"]["parameters"]
    metric = next(p for p in parameters if p["name"] == "metric")

    assert set(metric["schema"]["enum"]) == {
        "pipeline_executions",
        "pipeline_duration_seconds",
        "records_processed",
        "ingestion_jobs",
        "job_queue_jobs",
    }


def test_observability_needs_credentials(client):
    assert client.get(URL).status_code == 401
