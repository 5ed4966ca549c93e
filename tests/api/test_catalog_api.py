"""Catalog API over the real Flask app: the lakehouse-api envelope, status codes and fields."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.conftest import BASE


@pytest.fixture
def lakehouse(app, tmp_path, monkeypatch):
    """A fresh catalog database and warehouse for each test."""
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "warehouse"))
    from headrace.api.services.lakehouse import lakehouse as current

    return current()


def test_create_list_get_update_delete(client, admin_headers, lakehouse):
    created = client.post(
        f"{BASE}/catalog",
        headers=admin_headers,
        json={"name": "iceberg_data", "type": "iceberg", "description": "Iceberg catalog", "properties": {}},
    )
    assert created.status_code == 201
    assert created.json == {
        "success": True,
        "data": {"name": "iceberg_data", "type": "iceberg", "message": "Catalog created successfully"},
    }

    listed = client.get(f"{BASE}/catalog", headers=admin_headers).json
    assert listed == {
        "success": True,
        "data": [{"name": "iceberg_data", "type": "iceberg", "description": "Iceberg catalog"}],
    }

    patched = client.patch(
        f"{BASE}/catalog/iceberg_data",
        headers=admin_headers,
        json={"description": "Updated", "properties": {"k": "v"}},
    )
    assert patched.json == {"success": True, "data": {"message": "Catalog updated successfully"}}
    detail = client.get(f"{BASE}/catalog/iceberg_data", headers=admin_headers).json["data"]
    assert (detail["description"], detail["properties"]) == ("Updated", {"k": "v"})
    assert detail["location"] == "warehouse/iceberg_data"  # a storage URI, not the server's path

    deleted = client.delete(f"{BASE}/catalog/iceberg_data", headers=admin_headers)
    assert deleted.json == {
        "success": True,
        "data": {"success": True, "message": "Catalog deleted successfully", "tables_dropped": 0},
    }
    assert client.get(f"{BASE}/catalog/iceberg_data", headers=admin_headers).status_code == 404


def test_tree_stats_and_metadata_of_a_written_table(client, admin_headers, lakehouse):
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "dl", "type": "delta"})
    lakehouse.write(
        "dl", "sales", "orders", pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", None]})
    )

    tree = client.get(f"{BASE}/catalog/dl/tree", headers=admin_headers).json
    assert tree == {
        "success": True,
        "data": [{"name": "sales", "type": "schema", "tables": [{"name": "orders", "type": "TABLE"}]}],
    }
    stats = client.get(f"{BASE}/catalog/dl/stats", headers=admin_headers).json["data"]
    assert stats == {"catalogName": "dl", "schemaCount": 1, "tableCount": 1}
    meta = client.get(f"{BASE}/catalog/dl/schema/sales/table/orders/metadata", headers=admin_headers).json[
        "data"
    ]
    assert meta["name"] == "orders" and meta["type"] == "TABLE" and meta["schema"] == "sales"
    assert meta["columns"] == [
        {"name": "id", "type": "bigint", "nullable": True},
        {"name": "name", "type": "varchar", "nullable": True},
    ]
    assert meta["properties"]["format"] == "delta"
    assert meta["properties"]["row_count"] == 2
    assert meta["properties"]["version"] == "0"
    assert meta["properties"]["location"] == "warehouse/dl/sales/orders"


def test_delete_with_tables_needs_force(client, admin_headers, lakehouse):
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "hv", "type": "hive"})
    lakehouse.write("hv", "s", "t", pa.table({"x": [1]}))

    refused = client.delete(f"{BASE}/catalog/hv", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json["code"] == "CATALOG_NOT_EMPTY"
    assert client.get(f"{BASE}/catalog/hv/stats", headers=admin_headers).json["data"]["tableCount"] == 1

    forced = client.delete(f"{BASE}/catalog/hv?force=true", headers=admin_headers)
    assert forced.status_code == 200 and forced.json["data"]["tables_dropped"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "bad name", "type": "iceberg"}, "name"),
        ({"name": "x" * 65, "type": "iceberg"}, "name"),
        ({"name": "ok", "type": "mysql"}, "type"),
        ({"type": "iceberg"}, "name"),
        ({"name": "ok", "type": "hive", "colour": "red"}, "colour"),
        ({"name": "ok", "type": "hive", "properties": {"a": 1}}, "properties.a"),
    ],
)
def test_bad_catalog_requests_name_the_field(client, admin_headers, lakehouse, body, field):
    response = client.post(f"{BASE}/catalog", headers=admin_headers, json=body)

    assert response.status_code == 400
    assert response.json["success"] is False
    assert [d["field"] for d in response.json["details"]] == [field]
    assert lakehouse.list_catalogs() == []


@pytest.mark.parametrize("body", [None, {}, {"description": None}, {"description": None, "properties": None}])
def test_patch_with_nothing_to_update_is_400(client, admin_headers, lakehouse, body):
    client.post(
        f"{BASE}/catalog", headers=admin_headers, json={"name": "c", "type": "hive", "description": "d"}
    )
    before = lakehouse.get_catalog("c")

    response = client.patch(f"{BASE}/catalog/c", headers=admin_headers, json=body)

    assert response.status_code == 400, response.json
    assert response.json["success"] is False and response.json["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in response.json["details"]] == ["body"]
    assert lakehouse.get_catalog("c") == before


def test_patch_with_empty_properties_is_an_update(client, admin_headers, lakehouse):
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "c", "type": "hive"})

    response = client.patch(f"{BASE}/catalog/c", headers=admin_headers, json={"properties": {}})

    assert response.status_code == 200


def test_duplicate_catalog_is_409(client, admin_headers, lakehouse):
    body = {"name": "dup", "type": "hive"}
    assert client.post(f"{BASE}/catalog", headers=admin_headers, json=body).status_code == 201

    response = client.post(f"{BASE}/catalog", headers=admin_headers, json=body)

    assert response.status_code == 409
    assert response.json["code"] == "CATALOG_EXISTS"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/catalog/nope", "CATALOG_NOT_FOUND"),
        ("/catalog/nope/stats", "CATALOG_NOT_FOUND"),
        ("/catalog/nope/tree", "CATALOG_NOT_FOUND"),
        ("/catalog/known/schema/nope/table/t/metadata", "SCHEMA_NOT_FOUND"),
        ("/catalog/known/schema/s/table/nope/metadata", "TABLE_NOT_FOUND"),
    ],
)
def test_unknown_names_are_404(client, admin_headers, lakehouse, path, code):
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "known", "type": "iceberg"})
    lakehouse.write("known", "s", "t", pa.table({"x": [1]}))

    response = client.get(f"{BASE}{path}", headers=admin_headers)

    assert response.status_code == 404
    assert response.json["code"] == code


def test_bad_names_in_the_path_are_400(client, admin_headers, lakehouse):
    response = client.get(f"{BASE}/catalog/known/schema/s..x/table/t/metadata", headers=admin_headers)
    assert response.status_code in (400, 404)
    assert response.json["success"] is False


def test_viewers_read_but_do_not_write(client, admin_headers, viewer_headers, lakehouse):
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "c", "type": "hive"})

    assert client.get(f"{BASE}/catalog", headers=viewer_headers).status_code == 200
    for method, path, body in [
        ("post", "/catalog", {"name": "d", "type": "hive"}),
        ("patch", "/catalog/c", {"description": "x"}),
        ("delete", "/catalog/c", None),
    ]:
        response = getattr(client, method)(f"{BASE}{path}", headers=viewer_headers, json=body)
        assert response.status_code == 403, (method, path)
    assert [c.name for c in lakehouse.list_catalogs()] == ["c"]
