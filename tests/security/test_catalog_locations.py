"""Catalog answers show storage URIs, never the server's absolute paths; the lakehouse and the
LakehouseHook keep using absolute locations internally."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest

from headrace.lakehouse.models import CatalogType
from tests.conftest import BASE

ROWS = pa.table({"id": pa.array([1, 2], pa.int64())})


def _answers(client, headers, catalog: str) -> tuple[dict, dict, str]:
    """The catalog's detail, its table's metadata, and every catalog answer's raw text."""
    texts = []
    detail = client.get(f"{BASE}/catalog/{catalog}", headers=headers)
    meta = client.get(f"{BASE}/catalog/{catalog}/schema/sales/table/orders/metadata", headers=headers)
    for path in ["/catalog", f"/catalog/{catalog}/stats", f"/catalog/{catalog}/tree"]:
        texts.append(client.get(f"{BASE}{path}", headers=headers).get_data(as_text=True))
    assert detail.status_code == 200 and meta.status_code == 200, (detail.json, meta.json)
    texts += [detail.get_data(as_text=True), meta.get_data(as_text=True)]
    return detail.json["data"], meta.json["data"], "\n".join(texts)


def _create(client, headers, name: str, catalog_type: CatalogType) -> None:
    from headrace.api.services.lakehouse import lakehouse

    created = client.post(f"{BASE}/catalog", headers=headers, json={"name": name, "type": catalog_type.value})
    assert created.status_code == 201, created.json
    lakehouse().write(name, "sales", "orders", ROWS)


@pytest.fixture
def local(app, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(tmp_path / "storage"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    return tmp_path


@pytest.mark.parametrize("catalog_type", list(CatalogType))
def test_default_warehouse_locations_are_relative_to_the_storage_root(
    client, admin_headers, local, catalog_type
):
    name = f"c_{catalog_type.value}"
    _create(client, admin_headers, name, catalog_type)

    detail, meta, text = _answers(client, admin_headers, name)

    assert detail["location"] == f"warehouse/{name}"
    assert meta["properties"]["location"].startswith(f"warehouse/{name}/")
    assert meta["properties"]["location"].endswith("orders")
    assert str(local) not in text and "file:" not in text


def test_a_warehouse_inside_a_bucket_shows_as_that_bucket_and_prefix(
    client, admin_headers, local, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(local / "storage" / "landing" / "wh"))
    _create(client, admin_headers, "ice", CatalogType.ICEBERG)

    detail, meta, text = _answers(client, admin_headers, "ice")

    assert detail["location"] == "landing/wh/ice"
    assert meta["properties"]["location"] == "landing/wh/ice/sales/orders"
    assert str(local) not in text


def test_a_warehouse_outside_the_storage_root_shows_from_its_own_folder(
    client, admin_headers, local, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(local / "elsewhere" / "lake"))
    _create(client, admin_headers, "dl", CatalogType.DELTA)

    detail, meta, text = _answers(client, admin_headers, "dl")

    assert detail["location"] == "lake/dl"
    assert meta["properties"]["location"] == "lake/dl/sales/orders"
    assert str(local) not in text


def test_a_catalog_of_another_warehouse_shows_from_that_warehouse_folder(client, admin_headers, local):
    """A catalog created through a LakehouseHook connection with a warehouse of its own."""
    from headrace.lakehouse.service import Lakehouse, LakehouseSettings

    other = Lakehouse(
        LakehouseSettings(
            catalog_uri=f"sqlite:///{local / 'catalog.db'}", warehouse=str(local / "far" / "wh2")
        )
    )
    other.create_catalog("own", CatalogType.HIVE)
    other.write("own", "sales", "orders", ROWS)

    detail, meta, text = _answers(client, admin_headers, "own")

    assert detail["location"] == "wh2/own"
    assert meta["properties"]["location"] == "wh2/own/sales/orders"
    assert str(local) not in text


def test_the_hook_and_the_lakehouse_keep_absolute_locations(client, admin_headers, local):
    from headrace.hooks.lakehouse import LakehouseHook

    _create(client, admin_headers, "ice", CatalogType.ICEBERG)
    house = LakehouseHook().get_conn()

    location = house.get_catalog("ice").location
    assert location == str(local / "storage" / "warehouse" / "ice")
    assert house.table_metadata("ice", "sales", "orders").location.startswith(f"file://{location}")
    assert house.read("ice", "sales", "orders").num_rows == 2  # the engines still find the files


@pytest.mark.parametrize("catalog_type", list(CatalogType))
def test_s3_locations_are_s3_uris(
    client, admin_headers, app, tmp_path, monkeypatch, s3_conn_id, raw_s3, catalog_type
):
    bucket = f"wh-{uuid.uuid4().hex[:10]}"
    raw_s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", s3_conn_id)
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", f"s3://{bucket}/lake")
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    _create(client, admin_headers, "cat", catalog_type)

    detail, meta, text = _answers(client, admin_headers, "cat")

    assert detail["location"] == f"s3://{bucket}/lake/cat"
    assert meta["properties"]["location"].startswith(f"s3://{bucket}/lake/cat/")
    assert str(tmp_path) not in text
