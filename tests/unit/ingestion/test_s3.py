"""Sources and warehouse in S3 (the session's moto server): the same guarantees over HTTP."""

from __future__ import annotations

import uuid

import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable
from pyiceberg.catalog.sql import SqlCatalog

from headrace.ingestion.engine import run_ingestion
from headrace.ingestion.results import IngestionFailed
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.lakehouse.tables import base
from headrace.storage import S3ObjectStore, s3_settings_from_connection
from tests.unit.ingestion.helpers import ROWS, csv_bytes, json_lines, make_spec, put, rows_of


@pytest.fixture
def s3(s3_conn_id):
    return s3_settings_from_connection(s3_conn_id)


@pytest.fixture
def s3_store(s3_conn_id) -> S3ObjectStore:
    return S3ObjectStore.from_connection(s3_conn_id)


@pytest.fixture
def buckets(s3_store, raw_s3) -> tuple[str, str]:
    source, warehouse = f"src-{uuid.uuid4().hex[:10]}", f"wh-{uuid.uuid4().hex[:10]}"
    s3_store.create_bucket(source)
    raw_s3.create_bucket(Bucket=warehouse)
    return source, warehouse


@pytest.fixture
def s3_lakehouse(tmp_path, s3, buckets) -> Lakehouse:
    settings = LakehouseSettings(
        catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=f"s3://{buckets[1]}/lake", s3=s3
    )
    lakehouse = Lakehouse(settings)
    for catalog_type in CatalogType:
        lakehouse.create_catalog(catalog_type.value, catalog_type)
    return lakehouse


def keys(raw_s3, bucket: str) -> list[str]:
    """Object keys, without the empty ``folder/`` markers pyarrow's S3 filesystem leaves behind."""
    listing = raw_s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return [o["Key"] for o in listing if not (o["Key"].endswith("/") and o["Size"] == 0)]


def read_s3(tmp_path, s3, warehouse: str, catalog: str):
    location = f"{warehouse}/lake/{catalog}/sales/t"
    if catalog == "iceberg":
        other = SqlCatalog(
            "iceberg",
            uri=f"sqlite:///{tmp_path / 'catalog.db'}",
            warehouse=f"s3://{warehouse}/lake/iceberg",
            **s3.iceberg_properties(),
        )
        return other.load_table(("sales", "t")).scan().to_arrow()
    if catalog == "delta":
        return (
            DeltaTable(f"s3://{location}", storage_options=s3.deltalake_storage_options())
            .to_pyarrow_dataset()
            .to_table()
        )
    return ds.dataset(
        location, filesystem=s3.pyarrow_filesystem(), format="parquet", partitioning="hive"
    ).to_table()


@pytest.mark.parametrize("catalog", [t.value for t in CatalogType])
def test_s3_sources_into_an_s3_warehouse(tmp_path, s3, s3_store, s3_lakehouse, buckets, raw_s3, catalog):
    source, warehouse = buckets
    put(s3_store, "in/part-1.csv", csv_bytes(ROWS[:2]), bucket=source)
    put(s3_store, "in/part-2.csv", csv_bytes(ROWS[2:]), bucket=source)
    spec = make_spec(catalog, "t", f"s3://{source}/in/*.csv", "csv")

    result = run_ingestion(spec, job_id="s3-job", lakehouse=s3_lakehouse, store=s3_store, s3=s3)
    again = run_ingestion(spec, job_id="s3-job", lakehouse=s3_lakehouse, store=s3_store, s3=s3)

    assert result.rows_written == 3 and result.files == [
        f"s3://{source}/in/part-1.csv",
        f"s3://{source}/in/part-2.csv",
    ]
    assert again.already_committed and again.version == result.version
    assert rows_of(read_s3(tmp_path, s3, warehouse, catalog)) == ROWS
    assert not [k for k in keys(raw_s3, warehouse) if "_staging" in k or "pending" in k]


@pytest.mark.parametrize("catalog", [t.value for t in CatalogType])
def test_s3_failure_before_the_commit_leaves_nothing(
    tmp_path, s3, s3_store, s3_lakehouse, buckets, raw_s3, monkeypatch, catalog
):
    source, warehouse = buckets
    run_ingestion(
        make_spec(catalog, "t", put(s3_store, "a.jsonl", json_lines(ROWS), bucket=source), "json"),
        job_id="first",
        lakehouse=s3_lakehouse,
        store=s3_store,
        s3=s3,
    )
    before = (keys(raw_s3, warehouse), rows_of(read_s3(tmp_path, s3, warehouse, catalog)))
    monkeypatch.setattr(base, "before_commit", lambda table: (_ for _ in ()).throw(RuntimeError("injected")))

    with pytest.raises(IngestionFailed, match="injected"):
        run_ingestion(
            make_spec(catalog, "t", put(s3_store, "b.jsonl", json_lines([{"id": 9}]), bucket=source), "json"),
            job_id="second",
            lakehouse=s3_lakehouse,
            store=s3_store,
            s3=s3,
        )

    assert (keys(raw_s3, warehouse), rows_of(read_s3(tmp_path, s3, warehouse, catalog))) == before


def test_reading_s3_sources_needs_settings(s3_store, s3_lakehouse, buckets):
    uri = put(s3_store, "a.jsonl", json_lines(ROWS), bucket=buckets[0])
    with pytest.raises(IngestionFailed, match=f"Reading {uri} needs S3 settings"):
        run_ingestion(make_spec("hive", "t", uri, "json"), job_id="j", lakehouse=s3_lakehouse, store=s3_store)
