"""The central job-monitoring API on a real deployment: a site that is the cluster itself (reached
over HTTP with an API key) and a site on a closed port; forwarding, fan-out and health."""

from __future__ import annotations

import socket
import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_sites_forwarding_fan_out_and_health(airflow_cluster):
    cluster = airflow_cluster
    base = f"{cluster.url}/pluginsv2/headrace/job-monitoring"
    admin = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    created = requests.post(
        f"{cluster.api}/auth/api-keys",
        headers=admin,
        json={"name": "e2e-site", "scopes": ["read"]},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    key = created.json()["data"]["key"]
    for body in (
        {"id": "self", "endpoint": base, "api_key": key},
        {"id": "down", "endpoint": _closed_port()},
    ):
        response = requests.post(f"{base}/v1/sites", headers=admin, json=body, timeout=30)
        assert response.status_code == 201, response.text
        assert key not in response.text
    try:
        listing = requests.get(f"{base}/v1/sites", headers=admin, timeout=30).json()
        assert {s["id"] for s in listing["sites"]} >= {"self", "down"} and key not in str(listing)

        down = requests.get(f"{base}/v1/jobs", params={"site": "down"}, headers=admin, timeout=60)
        if down.status_code == 404 and down.json().get("context", {}).get("site") != "down":
            pytest.skip("GET /v1/jobs is not served yet (routes/events.py): forwarding pending")
        assert down.status_code == 502 and down.json()["context"]["site"] == "down", down.text

        # A job of its own, so that runs tracked meanwhile by other tests cannot differ between reads.
        app = f"e2e-sites-{uuid.uuid4().hex[:8]}"
        event = {
            "idempotency_key": f"{app}-started",
            "site_id": "local",
            "app": {"name": app},
            "entity": {"type": "job", "id": f"{app}-job"},
            "event": {"kind": "started", "at": "2026-12-01T12:00:00Z", "status": "running"},
        }
        ingested = requests.post(f"{base}/v1/ingest/events", headers=admin, json=event, timeout=30)
        assert ingested.status_code == 200, ingested.text
        local = requests.get(f"{base}/v1/jobs", params={"app_name": app}, headers=admin, timeout=60)
        forwarded = requests.get(
            f"{base}/v1/jobs", params={"site": "self", "app_name": app}, headers=admin, timeout=60
        )
        assert forwarded.status_code == 200, forwarded.text
        assert [i["job_id"] for i in forwarded.json()["items"]] == [f"{app}-job"]
        assert forwarded.json()["items"] == local.json()["items"]

        everywhere = requests.get(f"{base}/v1/jobs", params={"site": "*"}, headers=admin, timeout=60).json()
        assert everywhere["sites"]["self"]["status"] == "ok"
        assert everywhere["sites"]["down"]["status"] == "error"
        assert any(w.startswith("site down: ") for w in everywhere["warnings"])

        health = requests.get(f"{base}/v1/healthz", headers=admin, timeout=60).json()
        assert health["sites"]["self"]["status"] == "ok"
        assert health["sites"]["down"]["status"] == "degraded" and health["sites"]["down"]["error"]
        anonymous = requests.get(f"{base}/v1/healthz", timeout=60).json()
        assert "error" not in anonymous["sites"]["down"]
    finally:
        for site_id in ("self", "down"):
            requests.delete(f"{base}/v1/sites/{site_id}", headers=admin, timeout=30)
