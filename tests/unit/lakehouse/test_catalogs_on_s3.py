"""Catalogs whose warehouse is in S3 (moto's server on loopback), read back with each format's library."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable
from pyiceberg.catalog.sql import SqlCatalog

from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import s3_settings_from_connection

ROWS = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "city": ["Oslo", "Lima", "Pune"]})


@pytest.fixture
def bucket(raw_s3) -> str:
    name = f"wh-{uuid.uuid4().hex[:10]}"
    raw_s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def lakehouse(tmp_path, s3_conn_id, bucket) -> Lakehouse:
    settings = LakehouseSettings(
        catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        warehouse=f"s3://{bucket}/lake",
        s3=s3_settings_from_connection(s3_conn_id),
    )
    return Lakehouse(settings)


def _keys(raw_s3, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for o in raw_s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


@pytest.mark.parametrize("catalog_type", list(CatalogType))
def test_write_read_and_force_delete_on_s3(lakehouse, raw_s3, bucket, catalog_type):
    lakehouse.create_catalog("cat", catalog_type)
    lakehouse.write("cat", "geo", "cities", ROWS)

    meta = lakehouse.table_metadata("cat", "geo", "cities")
    assert meta.row_count == 3
    assert meta.location.startswith(f"s3://{bucket}/lake/cat")
    assert [n.tables for n in lakehouse.tree("cat")] == [["cities"]]
    assert lakehouse.query("select count(*) as n from cat.geo.cities").rows == [[3]]
    assert _keys(raw_s3, bucket, "lake/cat/")

    lakehouse.delete_catalog("cat", force=True)

    assert _keys(raw_s3, bucket, "lake/cat/") == []
    assert lakehouse.list_catalogs() == []


def test_each_library_reads_the_s3_tables(lakehouse, tmp_path, bucket):
    s3 = lakehouse.settings.s3
    for catalog_type in CatalogType:
        lakehouse.create_catalog(catalog_type.value, catalog_type)
        lakehouse.write(catalog_type.value, "geo", "cities", ROWS)

    iceberg = SqlCatalog(
        "iceberg",
        uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        warehouse=f"s3://{bucket}/lake/iceberg",
        **s3.iceberg_properties(),
    )
    assert iceberg.load_table(("geo", "cities")).scan().to_arrow().sort_by("id").equals(ROWS)
    delta = DeltaTable(f"s3://{bucket}/lake/delta/geo/cities", storage_options=s3.deltalake_storage_options())
    assert delta.to_pyarrow_dataset().to_table().sort_by("id").equals(ROWS)
    hive = ds.dataset(f"{bucket}/lake/hive/geo/cities", filesystem=s3.pyarrow_filesystem(), format="parquet")
    assert hive.to_table().sort_by("id").equals(ROWS)
