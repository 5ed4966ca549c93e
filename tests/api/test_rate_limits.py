"""Rate limits per client and namespace, with the X-RateLimit headers and a 429 in the contract shape."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask

from tests.conftest import BASE, token_for


def test_every_response_carries_the_rate_limit_headers(client, admin_headers):
    for response in (
        client.get(f"{BASE}/auth/status", headers=admin_headers),
        client.get(f"{BASE}/auth/status"),  # a 401 is counted too
    ):
        assert response.headers["X-RateLimit-Limit"] == "100"
        assert int(response.headers["X-RateLimit-Remaining"]) < 100
        assert int(response.headers["X-RateLimit-Reset"]) > 0
        assert "Retry-After" not in response.headers


def test_request_101_gets_429_with_retry_after(client, admin_headers):
    for number in range(1, 101):
        response = client.get(f"{BASE}/auth/status", headers=admin_headers)
        assert response.status_code == 200, number
    assert response.headers["X-RateLimit-Remaining"] == "0"

    response = client.get(f"{BASE}/auth/status", headers=admin_headers)

    assert response.status_code == 429
    assert response.json["success"] is False
    assert response.json["code"] == "RATE_LIMIT_EXCEEDED"
    assert response.json["error"] == "Too many requests from this client, please try again later."
    assert 0 < int(response.headers["Retry-After"]) <= 900
    assert response.headers["X-RateLimit-Limit"] == "100"
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_clients_are_counted_separately(client, admin_headers, viewer_headers, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMIT", "2 per minute")
    for _ in range(2):
        client.get(f"{BASE}/auth/status", headers=admin_headers)

    assert client.get(f"{BASE}/auth/status", headers=admin_headers).status_code == 429
    assert client.get(f"{BASE}/auth/status", headers=viewer_headers).status_code == 200


def test_namespaces_have_their_own_configurable_limits(client, admin_headers, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMITS", "auth=3 per minute; health=1 per minute")

    statuses = [client.get(f"{BASE}/auth/status", headers=admin_headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    health = [client.get(f"{BASE}/health").status_code for _ in range(2)]
    assert health == [200, 429]
    # The meta namespace still has the default budget.
    assert client.get(f"{BASE}/openapi.json", headers=admin_headers).status_code == 200


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.skipif(not _redis_available(), reason="no Redis answers on 127.0.0.1:6379")
def test_two_app_instances_share_counters_in_redis(app, monkeypatch):
    """Two api-servers (two Flask apps with their own limiter) share one budget through Redis."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from headrace.api.blueprint import create_blueprint

    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMIT", "4 per minute")
    clients = []
    for _ in range(2):
        instance = Flask(__name__)
        instance.register_blueprint(create_blueprint())
        clients.append(instance.test_client())
    # A user of its own, so that earlier runs within the same minute cannot have spent the budget.
    user = SimpleAuthManagerUser(username=f"redis-{uuid.uuid4().hex}", role="viewer")
    headers = {"Authorization": f"Bearer {get_auth_manager().generate_jwt(user)}"}

    statuses = [clients[i % 2].get(f"{BASE}/auth/status", headers=headers).status_code for i in range(5)]

    assert statuses == [200, 200, 200, 200, 429]
    remaining = clients[0].get(f"{BASE}/auth/status", headers={"Authorization": f"Bearer {token_for('vic')}"})
    assert remaining.status_code == 200
