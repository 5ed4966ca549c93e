"""The lakehouse's reserved locations (warehouse, catalogs, staging) and how locations are shown."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from headrace.lakehouse.location import (
    STAGING_FOLDER,
    display_location,
    parent_folder,
    reserved_locations,
    staging_location,
)
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import LocalObjectStore, find_reserved


@pytest.mark.parametrize(
    "location",
    ["/srv/storage/warehouse/sales", "s3://landing/wh/sales", "s3://landing/sales", "s3://landing", "/sales"],
)
def test_the_staging_location_holds_the_spark_staging_folders(location):
    """Spark ingestion and transforms stage Delta/Hive-style files where staging_location says."""
    from headrace.ingestion.spark import staging as spark

    assert STAGING_FOLDER == spark.STAGING_FOLDER
    table = SimpleNamespace(  # a Delta/Hive-style table: no folder whose files the commit adopts
        token="job1", target=SimpleNamespace(schema_name="s", table="t"), adoption_folder=lambda: None
    )
    catalog = SimpleNamespace(location=SimpleNamespace(uri=location), info=SimpleNamespace(name="sales"))

    staged = spark.staging_uri(table, catalog)

    assert staged.startswith(staging_location(location) + "/")


def test_reserved_locations_are_the_warehouse_each_catalog_and_its_staging(tmp_path: Path):
    house = Lakehouse(LakehouseSettings(f"sqlite:///{tmp_path / 'catalog.db'}", str(tmp_path / "wh")))
    house.create_catalog("ice", CatalogType.ICEBERG)
    elsewhere = Lakehouse(LakehouseSettings(f"sqlite:///{tmp_path / 'catalog.db'}", str(tmp_path / "other")))
    elsewhere.create_catalog("own", CatalogType.HIVE)

    uris = [r.uri for r in house.reserved_locations()]

    assert uris == [
        str(tmp_path / "wh"),
        str(tmp_path / "wh" / "ice"),
        str(tmp_path / "wh" / STAGING_FOLDER),
        str(tmp_path / "other" / "own"),
        str(tmp_path / "other" / STAGING_FOLDER),
    ]
    assert {r.reason for r in house.reserved_locations()} == {"reserved for table data"}


def test_reserved_locations_in_a_local_store(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "storage")
    reserved = reserved_locations(
        str(tmp_path / "storage" / "warehouse"), [str(tmp_path / "storage" / "bkt" / "x" / "c")]
    )

    assert find_reserved(store, "warehouse", "", reserved).field == "bucket"
    assert find_reserved(store, "bkt", "x/c/t/data", reserved).field == "path"
    assert find_reserved(store, "bkt", f"x/{STAGING_FOLDER}/c/s/t/spark-1", reserved).field == "path"
    assert find_reserved(store, "bkt", "x/free", reserved) is None
    assert find_reserved(store, "bkt", "", reserved) is None


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/srv/storage/warehouse/ice", "warehouse/ice"),
        ("file:///srv/storage/warehouse/ice/sales/orders", "warehouse/ice/sales/orders"),
        ("/srv/storage/landing/wh/ice", "landing/wh/ice"),
        ("/srv/lake/ice/sales/orders", "lake/ice/sales/orders"),
        ("/opt/secret/place/ice", "ice"),
        ("s3://bucket/prefix/ice", "s3://bucket/prefix/ice"),
        ("/srv/storage", "storage"),
    ],
)
def test_display_location(uri, expected):
    assert display_location(uri, ["/srv/storage", "/srv"]) == expected


def test_display_location_follows_symlinks(tmp_path: Path):
    (tmp_path / "real" / "warehouse").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")

    assert display_location(str(tmp_path / "real" / "warehouse" / "c"), [tmp_path / "link"]) == "warehouse/c"
    assert display_location(str(tmp_path / "link" / "warehouse" / "c"), [tmp_path / "real"]) == "warehouse/c"


def test_parent_folder():
    assert parent_folder("/srv/storage/warehouse") == "/srv/storage"
    assert parent_folder("file:///srv/storage/warehouse/") == "/srv/storage"
    assert parent_folder("s3://bucket/wh") is None
    assert parent_folder("") is None
