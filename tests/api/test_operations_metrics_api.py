"""``GET /metrics``: the workflows-api JSON by default, Prometheus text or OpenMetrics by ``Accept``,
read back with prometheus_client's own parsers."""

from __future__ import annotations

import re

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BASE


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_json_is_the_workflows_api_shape(client, admin_headers):
    answer = client.get(f"{BASE}/metrics", headers=admin_headers)

    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = answer.json
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", body["timestamp"])
    assert body["system_health"]["status"] in ("healthy", "degraded") and body["system_health"]["version"]
    assert body["system_health"]["uptime_seconds"] > 0
    assert set(body["workflow_metrics"]) == {
        "active_workflows",
        "completed_today",
        "failed_today",
        "success_rate",
        "average_duration",
    }
    agents = body["agent_metrics"]
    assert agents["total_agents"] >= 1  # this api-server at least
    assert agents["total_agents"] == sum(
        agents[f"{s}_agents"] for s in ("healthy", "busy", "unhealthy", "offline")
    )
    assert agents["average_memory_usage"] > 0  # the api-server is measured with psutil
    data = body["data_metrics"]
    assert data["records_processed_today"] >= 0 and data["data_volume_mb_today"] >= 0
    infra = body["infrastructure_metrics"]
    # The API tests run on SQLite: no server to count connections or a buffer cache.
    assert infra["database_connections"] is None and infra["cache_hit_rate"] is None
    assert infra["network_latency_ms"] >= 0 and 0 <= infra["disk_usage_percent"] <= 100


def test_prometheus_text_parses_and_counts_requests(client, admin_headers):
    client.get(f"{BASE}/auth/status", headers=admin_headers)
    text = client.get(f"{BASE}/metrics", headers={**admin_headers, "Accept": "text/plain"})

    assert text.status_code == 200 and text.mimetype == "text/plain"
    families = _families(text.get_data(as_text=True))
    requests = families["headrace_api_requests"]
    counted = [
        s
        for s in requests.samples
        if s.labels == {"route": "/api/v1/auth/status", "method": "GET", "status": "200"}
    ]
    assert counted and counted[0].value >= 1
    latency = families["headrace_api_request_duration_seconds"]
    buckets = [
        s
        for s in latency.samples
        if s.name.endswith("_bucket") and s.labels["route"] == "/api/v1/auth/status"
    ]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value >= 1
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative
    for name in (
        "headrace_ingestion_jobs",
        "headrace_ingestion_rows_written",
        "headrace_workflow_runs",
        "headrace_agents",
        "headrace_jobs",
        "headrace_job_claims",
        "headrace_job_duration_seconds",
        "headrace_executors_active",
        "headrace_api_server_uptime_seconds",
    ):
        assert name in families, name
    statuses = {s.labels["status"] for s in families["headrace_ingestion_jobs"].samples}
    assert statuses == {"queued", "running", "success", "failed"}


def test_openmetrics_when_asked(client, admin_headers):
    answer = client.get(
        f"{BASE}/metrics", headers={**admin_headers, "Accept": "application/openmetrics-text; version=1.0.0"}
    )

    assert answer.mimetype == "application/openmetrics-text"
    families = {f.name: f for f in parse_openmetrics(answer.get_data(as_text=True))}
    assert "headrace_api_requests" in families and "headrace_jobs" in families


def test_event_metrics_are_in_the_exposition(client, admin_headers):
    from headrace.events.metrics import INGESTED

    INGESTED.labels("ingest", "metrics-test").inc()  # the event log's own registry, in this process
    text = client.get(f"{BASE}/metrics", headers={**admin_headers, "Accept": "text/plain"}).get_data(
        as_text=True
    )

    samples = _families(text)["headrace_events_ingested"].samples
    assert any(s.labels == {"source": "ingest", "kind": "metrics-test"} and s.value >= 1 for s in samples)


def test_metrics_need_credentials(client):
    assert client.get(f"{BASE}/metrics", headers={"Accept": "text/plain"}).status_code == 401
