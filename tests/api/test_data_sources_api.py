"""Data sources over the real Flask app: Airflow connections to real PostgreSQL and MariaDB shops."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tests.api import sources_helpers
from tests.api.sources_helpers import PASSWORDS, closed_port, register
from tests.conftest import BASE, token_for

shop_db = sources_helpers.shop_db  # the module-scoped shops, one per database


@pytest.fixture
def cleanup(client, admin_headers):
    made: list[str] = []
    yield made
    for source_id in made:
        client.delete(f"{BASE}/data-sources/{source_id}", headers=admin_headers)


def _name() -> str:
    return f"Shop {uuid.uuid4().hex[:8]}"


def test_register_answers_real_catalog_figures(client, admin_headers, shop_db, cleanup) -> None:
    kind, engine, database = shop_db
    response = register(client, admin_headers, kind, database, _name())
    assert response.status_code == 201, response.json
    body = response.json
    cleanup.append(body["source_id"])
    assert body["status"] == "registered"
    assert body["connection_test"]["status"] == "success", body
    assert isinstance(body["connection_test"]["response_time"], int)
    assert body["connection_test"]["tested_at"].endswith("Z")
    info = body["schema_info"]
    assert (info["tables"], info["views"]) == (4, 1)
    with engine.connect() as c:  # the size the database itself reports
        if kind == "postgres":
            size = c.execute(
                sa.text(
                    "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r','m','p')"
                )
            ).scalar()
        else:
            size = c.execute(
                sa.text(
                    "SELECT SUM(data_length + index_length) FROM information_schema.tables "
                    "WHERE table_schema = DATABASE()"
                )
            ).scalar()
    assert info["estimated_size_mb"] == pytest.approx(int(size) / 1024 / 1024, abs=0.01)
    assert info["estimated_size_mb"] > 0

    # It is an Airflow connection: listed, readable, never with the password.
    listed = client.get(f"{BASE}/data-sources", headers=admin_headers)
    assert body["source_id"] in [s["source_id"] for s in listed.json]
    assert "not-needed-here" not in listed.get_data(as_text=True)
    one = client.get(f"{BASE}/data-sources/{body['source_id']}", headers=admin_headers).json
    assert one["database"] == database and one["sql_capable"] is True and one["managed_by_headrace"]
    assert one["metadata"] == {"business_owner": "tests"}
    from airflow.models.connection import Connection

    stored = Connection.get_connection_from_secrets(body["source_id"])
    assert stored.password == PASSWORDS[kind] and stored.conn_type == (
        "postgres" if kind == "postgres" else "mysql"
    )

    duplicate = register(client, admin_headers, kind, database, one["name"])
    assert duplicate.status_code == 409
    assert duplicate.json["error"]["code"] == "DATA_SOURCE_EXISTS"


def test_test_reports_each_step_and_real_grants(client, admin_headers, shop_db, cleanup) -> None:
    kind, engine, database = shop_db
    source_id = register(client, admin_headers, kind, database, _name()).json["source_id"]
    cleanup.append(source_id)
    result = client.post(f"{BASE}/data-sources/{source_id}/test", headers=admin_headers)
    assert result.status_code == 200, result.json
    test = result.json["connection_test"]
    assert test["status"] == "success"
    assert test["details"] == {
        "host_reachable": True,
        "authentication": "success",
        "permissions": "read_write",  # superusers
        "schema_accessible": True,
    }

    # A login that may only read: the database's own grants say read_only.
    reader, secret = f"reader_{uuid.uuid4().hex[:8]}", "Reader-pw-123"
    with engine.begin() as c:
        if kind == "postgres":
            c.execute(sa.text(f"CREATE ROLE {reader} LOGIN PASSWORD '{secret}'"))
            c.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}"))
            c.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        else:
            c.execute(sa.text(f"CREATE USER '{reader}'@'%' IDENTIFIED BY '{secret}'"))
            c.execute(sa.text(f"CREATE USER '{reader}'@'localhost' IDENTIFIED BY '{secret}'"))
            c.execute(sa.text(f"GRANT SELECT ON `{database}`.* TO '{reader}'@'%'"))
            c.execute(sa.text(f"GRANT SELECT ON `{database}`.* TO '{reader}'@'localhost'"))
    try:
        body = {"credentials": {"username": reader, "password": secret}}
        ro = register(client, admin_headers, kind, database, _name(), **body).json
        cleanup.append(ro["source_id"])
        details = client.post(f"{BASE}/data-sources/{ro['source_id']}/test", headers=admin_headers).json
        assert details["connection_test"]["details"]["permissions"] == "read_only"
    finally:
        with engine.begin() as c:
            if kind == "postgres":
                c.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {reader}"))
                c.execute(sa.text(f"DROP ROLE {reader}"))
            else:
                c.execute(sa.text(f"DROP USER '{reader}'@'%'"))
                c.execute(sa.text(f"DROP USER '{reader}'@'localhost'"))


def test_wrong_password_and_closed_port_fail_clearly(client, admin_headers, shop_db, cleanup) -> None:
    kind, engine, database = shop_db
    if kind == "postgres":
        pytest.skip("the local PostgreSQL trusts every loopback login; MariaDB checks passwords")
    user, secret = f"u_{uuid.uuid4().hex[:8]}", "Right-pw-123"
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'"))
        c.execute(sa.text(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{secret}'"))
    try:
        wrong = register(
            client,
            admin_headers,
            kind,
            database,
            _name(),
            credentials={"username": user, "password": "wrong-pw-456"},
        )
        assert wrong.status_code == 201
        cleanup.append(wrong.json["source_id"])
        test = wrong.json["connection_test"]
        assert test["status"] == "failed" and "Access denied" in test["error"]
        assert "wrong-pw-456" not in wrong.get_data(as_text=True)
        details = client.post(
            f"{BASE}/data-sources/{wrong.json['source_id']}/test", headers=admin_headers
        ).json
        assert details["connection_test"]["details"]["host_reachable"] is True
        assert details["connection_test"]["details"]["authentication"] == "failed"
    finally:
        with engine.begin() as c:
            c.execute(sa.text(f"DROP USER '{user}'@'%'"))
            c.execute(sa.text(f"DROP USER '{user}'@'localhost'"))


def test_closed_port_is_registered_failed_and_data_calls_answer_502(client, admin_headers, cleanup) -> None:
    port = closed_port()
    response = client.post(
        f"{BASE}/data-sources",
        headers=admin_headers,
        json={
            "name": _name(),
            "type": "postgresql",
            "connection": {"host": "127.0.0.1", "port": port, "database": "nowhere"},
            "credentials": {"username": "postgres", "password": "x-secret-x"},
        },
    )
    assert response.status_code == 201, response.json
    source_id = response.json["source_id"]
    cleanup.append(source_id)
    assert response.json["connection_test"]["status"] == "failed"
    assert f"127.0.0.1:{port}" in response.json["connection_test"]["error"]
    assert response.json["schema_info"] is None
    details = client.post(f"{BASE}/data-sources/{source_id}/test", headers=admin_headers).json[
        "connection_test"
    ]
    assert (
        details["details"]["host_reachable"] is False and details["details"]["authentication"] == "not_tested"
    )
    profile = client.post(
        f"{BASE}/data/profile", headers=admin_headers, json={"source": source_id, "table": "x"}
    )
    assert profile.status_code == 502 and profile.json["error"]["code"] == "DATA_SOURCE_ERROR"
    assert "x-secret-x" not in profile.get_data(as_text=True)


def test_validation_unknown_and_permissions(client, admin_headers, cleanup) -> None:
    bad = client.post(
        f"{BASE}/data-sources",
        headers=admin_headers,
        json={"name": "", "type": "nosuchdb", "connection": {"host": "bad host!", "port": 0}},
    )
    assert bad.status_code == 400
    fields = {d["field"] for d in bad.json["error"]["details"]}
    assert {"name", "connection.host", "connection.port"} <= fields
    unknown_type = client.post(
        f"{BASE}/data-sources",
        headers=admin_headers,
        json={"name": _name(), "type": "nosuchdb", "connection": {"host": "h"}},
    )
    assert unknown_type.status_code == 400 and unknown_type.json["error"]["details"][0]["field"] == "type"
    assert client.get(f"{BASE}/data-sources/no_such_source", headers=admin_headers).status_code == 404
    assert client.delete(f"{BASE}/data-sources/no_such_source", headers=admin_headers).status_code == 404
    assert client.post(f"{BASE}/data-sources/no_such_source/test", headers=admin_headers).status_code == 404
    assert client.get(f"{BASE}/data-sources").status_code == 401
    viewer = {"Authorization": f"Bearer {token_for('vic')}"}
    assert client.get(f"{BASE}/data-sources", headers=viewer).status_code == 403
    body = {"name": _name(), "type": "postgresql", "connection": {"host": "127.0.0.1"}}
    assert client.post(f"{BASE}/data-sources", headers=viewer, json=body).status_code == 403


def test_an_inline_password_is_stored_encrypted_with_airflows_fernet_key(
    client, admin_headers, shop_db, cleanup
) -> None:
    kind, _, database = shop_db
    if PASSWORDS[kind] is None:
        pytest.skip("MariaDB's root has no password here")
    source_id = register(client, admin_headers, kind, database, _name()).json["source_id"]
    cleanup.append(source_id)
    from airflow import settings

    with settings.engine.connect() as c:  # the metadata database's own row
        stored, encrypted = c.execute(
            sa.text("SELECT password, is_encrypted FROM connection WHERE conn_id = :id"), {"id": source_id}
        ).one()
    assert encrypted and stored and PASSWORDS[kind] not in stored


def test_a_secret_in_aws_secrets_manager_is_resolved(
    client, admin_headers, shop_db, cleanup, s3_endpoint, monkeypatch
) -> None:
    """Secrets Manager on moto's server (the same loopback server as S3), through the amazon provider."""
    import json

    import boto3

    kind, _, database = shop_db
    if kind != "postgres":
        pytest.skip("one database is enough for the secrets path")
    extra = {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}
    aws = {"login": "testing", "password": "testing", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_TEST_SECRETS", json.dumps({"conn_type": "aws", **aws}))
    monkeypatch.setenv("AIRFLOW__HEADRACE__DATA_SOURCES_AWS_CONN_ID", "test_secrets")
    name = f"shop/{uuid.uuid4().hex[:8]}"
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    secrets.create_secret(
        Name=name, SecretString=json.dumps({"username": "postgres", "password": "from-aws"})
    )

    reference = {"secret_name": name, "secret_provider": "aws_secrets_manager"}
    response = register(client, admin_headers, kind, database, _name(), credentials=reference)
    assert response.status_code == 201, response.json
    cleanup.append(response.json["source_id"])
    assert response.json["connection_test"]["status"] == "success"
    from airflow.models.connection import Connection

    stored = Connection.get_connection_from_secrets(response.json["source_id"])
    assert (stored.login, stored.password) == ("postgres", "from-aws")

    missing = register(
        client, admin_headers, kind, database, _name(), credentials={**reference, "secret_name": "nope"}
    )
    assert missing.status_code == 400 and "credentials.secret_name" in str(missing.json)


def test_a_hook_that_cannot_build_an_engine_is_a_failed_test_and_a_502(
    client, admin_headers, cleanup
) -> None:
    """Found by schemathesis: Athena's hook cannot open a source without a region (it was a 500)."""
    body = {"name": _name(), "type": "athena", "connection": {"host": "0"}}
    created = client.post(f"{BASE}/data-sources", headers=admin_headers, json=body)
    assert created.status_code == 201, created.json
    source_id = created.json["source_id"]
    cleanup.append(source_id)
    assert created.json["connection_test"]["status"] == "failed"
    assert "athena hook cannot open" in created.json["connection_test"]["error"]

    tested = client.post(f"{BASE}/data-sources/{source_id}/test", headers=admin_headers)
    assert tested.status_code == 200 and tested.json["connection_test"]["status"] == "failed"
    profile = client.post(
        f"{BASE}/data/profile", headers=admin_headers, json={"source": source_id, "table": "t"}
    )
    preview = client.get(f"{BASE}/data/preview?source={source_id}&table=t", headers=admin_headers)
    for answer in (profile, preview):
        assert answer.status_code == 502 and answer.json["error"]["code"] == "DATA_SOURCE_ERROR", answer.json
