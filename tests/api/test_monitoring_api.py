"""The lakehouse-api Monitoring API against the real Flask app: request statistics counted in the
metadata database, this host's figures checked against psutil, the lakehouse backend, and reset."""

from __future__ import annotations

import logging
import os
import platform
import re
import time

import psutil

from tests.conftest import BASE

TWO_DECIMALS = re.compile(r"^\d+\.\d{2}$")
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _reset(client, admin_headers) -> None:
    answer = client.post(f"{BASE}/monitoring/reset", headers=admin_headers)
    assert answer.status_code == 200, answer.json


def _endpoint(metrics: dict, route: str, method: str = "GET") -> dict:
    return next(e for e in metrics["endpoints"] if e["endpoint"] == route and e["method"] == method)


def test_requests_are_counted_per_route_with_success_rates(client, admin_headers):
    _reset(client, admin_headers)
    for _ in range(3):
        assert client.get(f"{BASE}/auth/status", headers=admin_headers).status_code == 200
    assert client.get(f"{BASE}/agents/no-such-agent", headers=admin_headers).status_code == 404
    assert client.get(f"{BASE}/no/such/route", headers=admin_headers).status_code == 404

    answer = client.get(f"{BASE}/monitoring/metrics", headers=admin_headers)

    assert answer.status_code == 200 and answer.json["success"] is True
    data = answer.json["data"]
    status = _endpoint(data, "/api/v1/auth/status")
    assert (status["total"], status["success"], status["failed"], status["successRate"]) == (
        3,
        3,
        0,
        "100.00",
    )
    assert TWO_DECIMALS.match(status["avgResponseTime"])
    agent = _endpoint(data, "/api/v1/agents/{agent_id}")
    assert (agent["total"], agent["failed"], agent["successRate"]) == (1, 1, "0.00")
    assert _endpoint(data, "<unmatched>")["failed"] == 1
    # the reset itself was answered after the counts were cleared, so it is counted too
    assert data["requests"]["total"] == 3 + 1 + 1 + 1
    assert data["requests"]["failed"] == 2
    assert data["requests"]["successRate"] == f"{4 / 6 * 100:.2f}"
    assert len(data["performance"]["recentResponseTimes"]) == 6
    assert all(ms >= 0 for ms in data["performance"]["recentResponseTimes"])
    assert ISO_MS.match(data["timestamp"]) and ISO_MS.match(data["since"])
    assert data["uptime"] > 0


def test_system_figures_are_this_hosts(client, admin_headers):
    data = client.get(f"{BASE}/monitoring/system", headers=admin_headers).json["data"]

    system = data["system"]
    assert system["memory"]["total"] == psutil.virtual_memory().total
    assert system["memory"]["used"] == system["memory"]["total"] - system["memory"]["free"]
    assert TWO_DECIMALS.match(system["memory"]["usagePercent"])
    assert system["cpu"]["cores"] == os.cpu_count()
    assert 0 <= system["cpu"]["usage"] <= 100
    assert len(system["cpu"]["loadAverage"]) == 3
    assert system["platform"]["type"] == platform.system()
    assert system["platform"]["release"] == platform.release()
    assert abs(system["uptime"] - (time.time() - psutil.boot_time())) < 60
    # the test app runs inside pytest: the "api-server" is this process
    assert abs(data["uptime"] - (time.time() - psutil.Process().create_time())) < 60


def test_realtime_is_in_milliseconds_and_matches_the_counts(client, admin_headers):
    _reset(client, admin_headers)
    client.get(f"{BASE}/auth/status", headers=admin_headers)

    data = client.get(f"{BASE}/monitoring/realtime", headers=admin_headers).json["data"]

    assert abs(data["timestamp"] - time.time() * 1000) < 60_000
    assert data["requests"] == {"total": 2, "success": 2, "failed": 0}  # the reset and the status
    assert 0 <= data["memory"] <= 100 and 0 <= data["cpu"] <= 100
    assert TWO_DECIMALS.match(data["performance"]["avgResponseTime"])


def test_dashboard_describes_the_lakehouse_backend(client, admin_headers):
    data = client.get(f"{BASE}/monitoring/dashboard", headers=admin_headers).json["data"]
    health = client.get(f"{BASE}/monitoring/health", headers=admin_headers).json["data"]

    backend = data["watsonx"]
    assert backend == health | {"details": backend["details"]}
    assert (backend["status"], backend["connected"]) == ("healthy", True)
    details = backend["details"]
    assert details["catalog_db"]["kind"] == "sqlite" and details["storage"]["kind"] == "local"
    assert details["engines"][0] == "arrow"
    assert {"catalog-db:sqlite", "object-storage:local", "engine:arrow"} <= set(details["services"])
    assert data["health"]["components"]["watsonx"] == "healthy"
    assert data["health"]["overall"] in ("healthy", "degraded")  # no scheduler runs here: degraded
    assert {"requests", "performance", "system", "endpoints"} <= data.keys()


def test_reset_needs_admin_and_is_logged_with_who(client, admin_headers, viewer_headers, caplog):
    client.get(f"{BASE}/auth/status", headers=admin_headers)
    refused = client.post(f"{BASE}/monitoring/reset", headers=viewer_headers)
    assert refused.status_code == 403
    assert refused.json["success"] is False and refused.json["code"] == "PERMISSION_DENIED"
    assert (
        client.get(f"{BASE}/monitoring/metrics", headers=viewer_headers).json["data"]["requests"]["total"] > 0
    )

    with caplog.at_level(logging.INFO, logger="headrace.api.services.monitoring"):
        answer = client.post(f"{BASE}/monitoring/reset", headers=admin_headers)

    assert answer.status_code == 200
    assert answer.json["success"] is True and answer.json["message"] == "Metrics reset successfully"
    assert answer.json["reset_requests"] >= 3
    assert any("reset by admin" in r.getMessage() for r in caplog.records)
    after = client.get(f"{BASE}/monitoring/metrics", headers=admin_headers).json["data"]
    assert after["requests"]["total"] == 1  # the reset; this read is counted once it is answered


def test_monitoring_needs_credentials(client):
    answer = client.get(f"{BASE}/monitoring/metrics")
    assert answer.status_code == 401 and answer.json["success"] is False
