"""GET /health and /healthz answer without credentials, with each component's status; callers with
credentials also get the details (errors, heartbeat, version)."""

from __future__ import annotations

from tests.conftest import BASE


def test_health_reports_every_component_without_credentials(client):
    response = client.get(f"{BASE}/health")

    # No scheduler runs in API tests: degraded, but still 200 because the scheduler is not required.
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "degraded"
    assert body["database"] == "connected"
    assert body["service"] == "headrace"
    assert body["uptime"] >= 0
    assert body["timestamp"].endswith("Z") and body["environment"]
    components = body["components"]
    assert {name: c["status"] for name, c in components.items()} == {
        "metadata_db": "ok",
        "scheduler": "down",
        "storage": "ok",
        "catalog_db": "ok",
    }
    assert components["scheduler"]["required"] is False
    assert "version" not in body and "error" not in components["scheduler"]


def test_health_details_need_credentials(client, admin_headers):
    body = client.get(f"{BASE}/health", headers=admin_headers).json

    assert body["version"]
    assert "no scheduler" in body["components"]["scheduler"]["error"]
    assert body["components"]["metadata_db"]["latency_ms"] >= 0


def test_healthz_uses_the_job_monitoring_words(client):
    body = client.get(f"{BASE}/healthz").json
    assert body["status"] == "degraded"
    assert body["components"]["metadata_db"]["status"] == "ok"


def test_a_required_component_down_answers_503(client, admin_headers, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage root should be")
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(blocker / "storage"))

    response = client.get(f"{BASE}/health", headers=admin_headers)

    assert response.status_code == 503
    assert response.json["status"] == "unhealthy"
    components = response.json["components"]
    assert {name: c["status"] for name, c in components.items() if c["required"]} == {
        "metadata_db": "ok",
        "storage": "down",
        "catalog_db": "ok",
    }
    # What the operator reads: the error of the storage root itself, naming the path that failed.
    root = blocker / "storage"
    assert components["storage"]["error"] == f"NotADirectoryError: [Errno 20] Not a directory: '{root}'"
    assert components["metadata_db"].get("error") is None and components["catalog_db"].get("error") is None


def test_catalog_db_that_cannot_open_is_down(client, admin_headers, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", "postgresql+psycopg2://nobody@127.0.0.1:1/none")

    response = client.get(f"{BASE}/healthz", headers=admin_headers)

    assert response.status_code == 503
    assert response.json["status"] == "down"
    assert response.json["components"]["catalog_db"]["status"] == "down"
    assert response.json["components"]["catalog_db"]["error"]
