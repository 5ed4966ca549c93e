"""POST /query: read-only SQL over catalog tables, in the lakehouse envelope."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from tests.conftest import BASE


@pytest.fixture
def lakehouse(app, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "warehouse"))
    from headrace.api.services.lakehouse import lakehouse as current
    from headrace.lakehouse.models import CatalogType

    house = current()
    house.create_catalog("ice", CatalogType.ICEBERG)
    house.write(
        "ice", "sales", "orders", pa.table({"id": pa.array([1, 2, 3], pa.int64()), "amount": [5.0, 7.5, 1.0]})
    )
    return house


def test_select_over_an_iceberg_table(client, viewer_headers, lakehouse):
    response = client.post(
        f"{BASE}/query",
        headers=viewer_headers,
        json={"sql": "select id, amount from ice.sales.orders where amount > 2 order by id"},
    )

    assert response.status_code == 200
    data = response.json["data"]
    assert [c["name"] for c in data["columns"]] == ["id", "amount"]
    assert data["rows"] == [[1, 5.0], [2, 7.5]]
    assert data["truncated"] is False


def test_default_catalog_and_limit(client, viewer_headers, lakehouse):
    data = client.post(
        f"{BASE}/query",
        headers=viewer_headers,
        json={"sql": "select id from sales.orders order by id", "catalog": "ice", "limit": 2},
    ).json["data"]

    assert data["rows"] == [[1], [2]] and data["truncated"] is True


@pytest.mark.parametrize(
    "sql",
    [
        "drop table ice.sales.orders",
        "insert into ice.sales.orders values (9, 9.0)",
        "select 1; select 2",
        "select * from read_csv('/etc/passwd')",
        "copy (select 1) to '/tmp/x.csv'",
    ],
)
def test_anything_but_one_select_is_400(client, admin_headers, lakehouse, sql):
    response = client.post(f"{BASE}/query", headers=admin_headers, json={"sql": sql})

    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "sql"
    assert lakehouse.table_metadata("ice", "sales", "orders").row_count == 3


def test_missing_table_is_a_clear_400(client, admin_headers, lakehouse):
    response = client.post(
        f"{BASE}/query", headers=admin_headers, json={"sql": "select * from ice.sales.nope"}
    )

    assert response.status_code == 400
    assert response.json["code"] == "TABLE_NOT_FOUND"
    assert "ice.sales.nope" in response.json["error"]


def test_a_query_past_the_memory_limit_is_a_400_query_memory_limit(
    client, viewer_headers, lakehouse, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__HEADRACE__QUERY_MEMORY_LIMIT", "256MB")
    monkeypatch.setenv("AIRFLOW__HEADRACE__QUERY_THREADS", "1")

    response = client.post(
        f"{BASE}/query", headers=viewer_headers, json={"sql": "select list_sum(range(300000000))"}
    )

    assert response.status_code == 400
    body = response.json
    assert body["code"] == "QUERY_MEMORY_LIMIT"
    assert "256MB" in body["error"] and "[headrace] query_memory_limit" in body["error"]
    assert body["errors"] == [f"sql: {body['error']}"]


def test_a_query_past_the_timeout_is_a_400_query_timeout(client, viewer_headers, lakehouse, monkeypatch):
    from headrace.api.routes import query as route

    monkeypatch.setattr(route, "QUERY_TIMEOUT_SECONDS", 1.5)  # the route's limit, shortened for the test
    sql = "select levenshtein(repeat('ab', 100000), repeat('ba', 100000))"

    started = time.monotonic()
    response = client.post(f"{BASE}/query", headers=viewer_headers, json={"sql": sql})

    assert time.monotonic() - started < 4
    assert response.status_code == 400
    assert response.json["code"] == "QUERY_TIMEOUT" and "1.5 seconds" in response.json["error"]
    assert response.json["details"] == [{"field": "sql", "message": response.json["error"]}]
