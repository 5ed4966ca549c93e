"""The foundation over real HTTP against real Airflow processes on a PostgreSQL metadata DB."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import airflow_cli

pytestmark = pytest.mark.e2e


def test_health_is_healthy_with_a_running_scheduler(airflow_cluster):
    # The heartbeat is a detail: anonymous callers get statuses only.
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    response = requests.get(f"{airflow_cluster.api}/health", headers=admin, timeout=30)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["components"]["scheduler"]["latest_heartbeat"]
    assert requests.get(f"{airflow_cluster.api}/healthz", timeout=30).json()["status"] == "ok"


def test_airflow_token_works_and_no_credentials_is_401(airflow_cluster):
    token = airflow_cluster.airflow_token("admin")

    ok = requests.get(f"{airflow_cluster.api}/auth/status", headers={"Authorization": f"Bearer {token}"})
    anonymous = requests.get(f"{airflow_cluster.api}/auth/status")

    assert ok.status_code == 200 and ok.json()["data"]["user"]["username"] == "admin"
    assert anonymous.status_code == 401
    body = anonymous.json()
    assert body["success"] is False and body["code"] == "AUTHENTICATION_REQUIRED"
    assert body["request_id"] == anonymous.headers["X-Request-ID"]


def test_login_status_logout_and_the_token_is_refused_afterwards(airflow_cluster):
    login = requests.post(
        f"{airflow_cluster.api}/auth/login",
        json={"username": "admin", "password": airflow_cluster.passwords["admin"]},
        timeout=30,
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert requests.get(f"{airflow_cluster.api}/auth/status", headers=headers).status_code == 200

    logout = requests.post(f"{airflow_cluster.api}/auth/logout", headers=headers)
    assert logout.json() == {"success": True, "message": "Logged out successfully"}

    assert requests.get(f"{airflow_cluster.api}/auth/status", headers=headers).status_code == 401
    # Airflow's own REST API refuses the revoked token as well (it answers 403 for invalid tokens).
    assert requests.get(f"{airflow_cluster.url}/api/v2/dags", headers=headers).status_code in (401, 403)


def test_api_key_create_use_revoke(airflow_cluster):
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    created = requests.post(
        f"{airflow_cluster.api}/auth/api-keys", headers=admin, json={"name": "e2e", "scopes": ["read"]}
    )
    assert created.status_code == 201
    key = created.json()["data"]

    use = requests.get(f"{airflow_cluster.api}/auth/status", headers={"X-API-Key": key["key"]})
    assert use.status_code == 200 and use.json()["data"]["user"]["authenticated_by"] == "api_key"

    revoke = requests.delete(f"{airflow_cluster.api}/auth/api-keys/{key['id']}", headers=admin)
    assert revoke.status_code == 200
    assert (
        requests.get(f"{airflow_cluster.api}/auth/status", headers={"X-API-Key": key["key"]}).status_code
        == 401
    )


def test_a_viewer_gets_403_on_a_write(airflow_cluster):
    viewer = {"Authorization": f"Bearer {airflow_cluster.airflow_token('vic')}"}

    response = requests.post(
        f"{airflow_cluster.api}/auth/api-keys", headers=viewer, json={"name": "nope", "scopes": ["read"]}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_404_and_405_are_json(airflow_cluster):
    headers = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}

    missing = requests.get(f"{airflow_cluster.api}/no-such-thing", headers=headers)
    wrong_method = requests.put(f"{airflow_cluster.api}/auth/status", headers=headers)

    assert missing.status_code == 404 and missing.json()["code"] == "RESOURCE_NOT_FOUND"
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_request_101_within_the_window_gets_429(airflow_cluster):
    # A user of its own: budgets are per user, so no other test shares (or spends) this one.
    headers = {"Authorization": f"Bearer {airflow_cluster.airflow_token('burst')}"}

    with requests.Session() as session:
        statuses = [
            session.get(f"{airflow_cluster.api}/auth/status", headers=headers).status_code for _ in range(100)
        ]
        last = session.get(f"{airflow_cluster.api}/auth/status", headers=headers)

    assert statuses == [200] * 100
    assert last.status_code == 429
    assert {
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
    } <= last.headers.keys()
    assert last.json()["code"] == "RATE_LIMIT_EXCEEDED"


def test_openapi_lists_the_routes_on_the_real_server(airflow_cluster):
    headers = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}

    document = requests.get(f"{airflow_cluster.api}/openapi.json", headers=headers).json()

    assert document["servers"] == [{"url": "/pluginsv2/headrace/api/v1"}]
    assert {"/health", "/auth/login", "/auth/status", "/auth/api-keys"} <= document["paths"].keys()


def test_the_plugin_and_provider_are_registered_once(airflow_cluster):
    providers = airflow_cli("providers", "list", "-o", "json", env=airflow_cluster.env)
    plugins = airflow_cli("plugins", "-o", "json", env=airflow_cluster.env)

    assert "headrace" in [provider["package_name"] for provider in json.loads(providers)]
    names = [plugin["name"] for plugin in json.loads(plugins)]
    assert names.count("headrace") == 1
