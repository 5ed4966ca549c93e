"""A request opens one database session (one pooled connection) for authentication, idempotency
and the API-key routes, not one per step: counted with SQLAlchemy's pool events on the real engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.conftest import BASE

SPEC = {
    "target": {"catalog": "iceberg_data", "schema": "sales", "table": "transactions"},
    "source": {
        "file_paths": "s3://my-bucket/data/transactions.json",
        "file_type": "json",
        "bucket_details": {"bucket_name": "my-bucket", "bucket_type": "minio"},
    },
}


@contextmanager
def checkouts() -> Iterator[list[object]]:
    """Every connection taken from the metadata DB's pool while the block runs."""
    from airflow import settings

    taken: list[object] = []

    def record(dbapi_connection, connection_record, connection_proxy) -> None:
        taken.append(connection_record)

    event.listen(settings.engine, "checkout", record)
    try:
        yield taken
    finally:
        event.remove(settings.engine, "checkout", record)


@pytest.fixture
def admin_key(client, admin_headers) -> str:
    body = {"name": "sessions", "scopes": ["admin"], "expires_in_days": 1}
    return client.post(f"{BASE}/auth/api-keys", headers=admin_headers, json=body).json["data"]["key"]


def test_an_api_key_request_opens_one_session(client, admin_key):
    with checkouts() as taken:
        response = client.get(f"{BASE}/auth/api-keys", headers={"X-API-Key": admin_key})

    assert response.status_code == 200 and response.json["data"]
    assert len(taken) == 1


def test_an_idempotent_request_shares_the_session_of_its_authentication(client, admin_key):
    headers = {"X-API-Key": admin_key, "Idempotency-Key": "sessions-1"}
    with checkouts() as taken:
        # The handler refuses the engine before it touches the database: what is left is
        # authentication, the sweep, the reservation and its release.
        response = client.post(f"{BASE}/ingestion/jobs", headers=headers, json={**SPEC, "engine_id": "nope"})

    assert response.status_code == 400, response.json
    assert len(taken) == 1
    retried = client.post(f"{BASE}/ingestion/jobs", headers=headers, json={**SPEC, "engine_id": "nope"})
    assert retried.status_code == 400  # released: the retry ran again instead of a replay or a 409


def test_a_refresh_redeems_and_issues_in_one_session(client, passwords):
    login = client.post(f"{BASE}/auth/login", json={"username": "admin", "password": passwords["admin"]})
    with checkouts() as taken:
        refreshed = client.post(f"{BASE}/auth/refresh", json={"refresh_token": login.json["refresh_token"]})

    assert refreshed.status_code == 200 and refreshed.json["refresh_token"] != login.json["refresh_token"]
    assert len(taken) == 1
