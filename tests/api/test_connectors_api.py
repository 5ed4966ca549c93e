"""GET /connectors and POST /connectors-ai/configure over the real app, against the local PostgreSQL."""

from __future__ import annotations

import uuid

from tests.conftest import BASE, token_for
from tests.postgres import temporary_database


def test_connectors_list_installed_types_and_masks_secrets(client, admin_headers, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_UNUSED_X",
        '{"conn_type": "http", "host": "example.com", "password": "pw-hidden-1", "extra": {"api_token": "tok-hidden-2"}}',  # noqa: E501
    )
    response = client.get(f"{BASE}/connectors", headers=admin_headers)
    assert response.status_code == 200, response.json
    types = {c["type"]: c for c in response.json["connectors"]}
    assert {"postgres", "mysql", "http", "aws"} <= set(types)
    assert types["postgres"]["profilable"] is True and types["postgres"]["testable"] is True
    assert types["http"]["profilable"] is False
    fields = {f["name"]: f for f in types["postgres"]["fields"]}
    assert fields["password"]["secret"] is True and fields["schema"]["label"] == "Database"
    assert "pw-hidden-1" not in response.get_data(as_text=True)
    viewer = {"Authorization": f"Bearer {token_for('vic')}"}
    assert client.get(f"{BASE}/connectors", headers=viewer).status_code == 403


def test_configure_recognises_fills_defaults_creates_and_tests(client, admin_headers) -> None:
    with temporary_database("hr_conf") as url:
        database = url.rsplit("/", 1)[1]
        name = f"analytics {uuid.uuid4().hex[:6]}"
        response = client.post(
            f"{BASE}/connectors-ai/configure",
            headers=admin_headers,
            json={
                "description": "Connect to our production PostgreSQL database",
                "type": "source",
                "hints": {"host": "127.0.0.1", "database": database, "username": "postgres", "name": name},
            },
        )
        assert response.status_code == 201, response.json
        body = response.json
        try:
            assert body["type"] == "postgresql" and body["conn_type"] == "postgres"
            assert body["configuration"] == {
                "host": "127.0.0.1", "port": 5432, "database": database, "schema": "public", "ssl_mode": "prefer",  # noqa: E501
                "username": "postgres",
            }  # fmt: skip
            assert set(body["defaults_applied"]) == {"port", "schema", "ssl_mode"}
            assert any(u.startswith("password") for u in body["undecided"])
            assert body["test_status"] == "success", body
            listed = client.get(f"{BASE}/data-sources/{body['connector_id']}", headers=admin_headers).json
            assert listed["type"] == "postgres" and listed["extra"]["sslmode"] == "prefer"
        finally:
            client.delete(f"{BASE}/data-sources/{body['connector_id']}", headers=admin_headers)


def test_configure_remote_host_requires_tls_and_unknown_systems_are_400(client, admin_headers) -> None:
    response = client.post(
        f"{BASE}/connectors-ai/configure",
        headers=admin_headers,
        json={
            "description": "our MariaDB warehouse",
            "hints": {"host": "db.invalid", "name": f"w {uuid.uuid4().hex[:6]}"},
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    try:
        assert body["conn_type"] == "mysql" and body["configuration"]["port"] == 3306
        assert body["configuration"]["ssl_mode"] == "REQUIRED" and body["test_status"] == "failed"
        assert any(u.startswith("username") for u in body["undecided"])
    finally:
        client.delete(f"{BASE}/data-sources/{body['connector_id']}", headers=admin_headers)
    unknown = client.post(
        f"{BASE}/connectors-ai/configure", headers=admin_headers, json={"description": "our mainframe thing"}
    )
    assert unknown.status_code == 400 and unknown.json["error"]["details"][0]["field"] == "description"
