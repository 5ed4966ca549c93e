"""Catalogs of every type on a local warehouse; tables read back with their own libraries."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable
from pyiceberg.catalog.sql import SqlCatalog

from headrace.lakehouse.errors import (
    CatalogAlreadyExists,
    CatalogNotEmpty,
    NoSuchCatalog,
    NoSuchSchema,
    NoSuchTable,
)
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.names import InvalidName
from headrace.lakehouse.service import Lakehouse, LakehouseSettings

ORDERS = pa.table(
    {
        "order_id": pa.array([1, 2, 3], pa.int64()),
        "customer": ["ann", "bob", None],
        "amount": pa.array([9.5, 20.0, 3.25], pa.float64()),
    }
)


@pytest.fixture
def lakehouse(tmp_path) -> Lakehouse:
    return Lakehouse(
        LakehouseSettings(catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "wh"))
    )


@pytest.mark.parametrize("catalog_type", list(CatalogType))
def test_write_then_tree_stats_and_metadata(lakehouse, catalog_type):
    lakehouse.create_catalog("cat", catalog_type, "demo", {"owner": "data-team"})
    lakehouse.write("cat", "sales", "orders", ORDERS)
    lakehouse.write("cat", "sales", "orders", ORDERS)

    assert [(node.name, node.tables) for node in lakehouse.tree("cat")] == [("sales", ["orders"])]
    stats = lakehouse.stats("cat")
    assert (stats.schema_count, stats.table_count) == (1, 1)
    meta = lakehouse.table_metadata("cat", "sales", "orders")
    assert [(c.name, c.type) for c in meta.columns] == [
        ("order_id", "bigint"),
        ("customer", "varchar"),
        ("amount", "double"),
    ]
    assert meta.row_count == 6
    assert meta.size_bytes > 0 and meta.file_count >= 2
    assert meta.format == {"iceberg": "iceberg", "delta": "delta", "hive": "parquet"}[catalog_type]
    assert meta.location.endswith("cat/sales/orders") or "cat" in meta.location


def test_iceberg_tables_open_in_a_separate_pyiceberg_catalog(lakehouse, tmp_path):
    lakehouse.create_catalog("ice", CatalogType.ICEBERG)
    lakehouse.write("ice", "sales", "orders", ORDERS)
    snapshot = lakehouse.table_metadata("ice", "sales", "orders").version

    other = SqlCatalog(
        "ice", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "wh" / "ice").as_uri()
    )
    table = other.load_table(("sales", "orders"))

    assert table.scan().to_arrow().sort_by("order_id").equals(ORDERS)
    assert str(table.current_snapshot().snapshot_id) == snapshot


def test_delta_tables_open_with_deltalake(lakehouse, tmp_path):
    lakehouse.create_catalog("dl", CatalogType.DELTA)
    lakehouse.write("dl", "sales", "orders", ORDERS)

    table = DeltaTable(str(tmp_path / "wh" / "dl" / "sales" / "orders"))

    assert table.to_pyarrow_dataset().to_table().sort_by("order_id").equals(ORDERS)
    assert table.version() == 0


def test_hive_tables_open_with_pyarrow_and_duckdb(lakehouse, tmp_path):
    lakehouse.create_catalog("hv", CatalogType.HIVE)
    lakehouse.write("hv", "sales", "orders", ORDERS)
    folder = tmp_path / "wh" / "hv" / "sales" / "orders"

    assert ds.dataset(folder, format="parquet").to_table().sort_by("order_id").equals(ORDERS)
    assert duckdb.sql(f"select sum(amount) from read_parquet('{folder}/*.parquet')").fetchall() == [(32.75,)]


def test_query_joins_tables_of_different_catalogs(lakehouse):
    lakehouse.create_catalog("ice", CatalogType.ICEBERG)
    lakehouse.create_catalog("dl", CatalogType.DELTA)
    lakehouse.write("ice", "sales", "orders", ORDERS)
    lakehouse.write("dl", "crm", "customers", pa.table({"name": ["ann", "bob"], "tier": ["gold", "silver"]}))

    result = lakehouse.query(
        "select c.tier, sum(o.amount) as total from ice.sales.orders o "
        "join dl.crm.customers c on c.name = o.customer group by c.tier order by c.tier"
    )

    assert [c.name for c in result.columns] == ["tier", "total"]
    assert result.rows == [["gold", 9.5], ["silver", 20.0]]


def test_registry_create_get_update_and_duplicates(lakehouse):
    created = lakehouse.create_catalog("my-cat_1", CatalogType.DELTA, "first", {"a": "1"})
    assert created.location.endswith("my-cat_1")

    with pytest.raises(CatalogAlreadyExists):
        lakehouse.create_catalog("my-cat_1", CatalogType.HIVE)
    updated = lakehouse.update_catalog("my-cat_1", description="second", properties={"b": "2", "a": None})
    assert (updated.description, updated.properties) == ("second", {"b": "2"})
    assert updated.updated_at >= created.updated_at
    assert [c.name for c in lakehouse.list_catalogs()] == ["my-cat_1"]


@pytest.mark.parametrize("name", ["", "has space", "dots.not.allowed", "../up", "x" * 65, "semi;colon"])
def test_bad_catalog_names_are_refused_before_anything_is_created(lakehouse, tmp_path, name):
    with pytest.raises(InvalidName) as error:
        lakehouse.create_catalog(name, CatalogType.ICEBERG)

    assert error.value.field == "name"
    assert lakehouse.list_catalogs() == []
    assert not (tmp_path / "wh").exists() or list((tmp_path / "wh").iterdir()) == []


def test_unknown_names_raise_not_found(lakehouse):
    lakehouse.create_catalog("cat", CatalogType.HIVE)
    lakehouse.write("cat", "sales", "orders", ORDERS)

    with pytest.raises(NoSuchCatalog):
        lakehouse.stats("nope")
    with pytest.raises(NoSuchSchema):
        lakehouse.table_metadata("cat", "nope", "orders")
    with pytest.raises(NoSuchTable):
        lakehouse.table_metadata("cat", "sales", "nope")
    with pytest.raises(InvalidName):
        lakehouse.table_metadata("cat", "sales", "../../etc")


@pytest.mark.parametrize("catalog_type", list(CatalogType))
def test_delete_refuses_a_catalog_with_tables_unless_forced(lakehouse, tmp_path, catalog_type):
    lakehouse.create_catalog("cat", catalog_type)
    lakehouse.write("cat", "sales", "orders", ORDERS)

    with pytest.raises(CatalogNotEmpty):
        lakehouse.delete_catalog("cat")
    assert lakehouse.table_metadata("cat", "sales", "orders").row_count == 3

    assert lakehouse.delete_catalog("cat", force=True) == 1
    assert lakehouse.list_catalogs() == []
    assert not (tmp_path / "wh" / "cat").exists()
    # The name is free again, and a new catalog of that name starts empty.
    lakehouse.create_catalog("cat", catalog_type)
    assert lakehouse.tree("cat") == []


def test_hive_tables_show_columns_added_by_later_files(lakehouse):
    lakehouse.create_catalog("hv", CatalogType.HIVE)
    lakehouse.write("hv", "s", "t", pa.table({"a": [1]}))
    lakehouse.write("hv", "s", "t", pa.table({"a": [2], "b": ["x"]}))

    assert [c.name for c in lakehouse.table_metadata("hv", "s", "t").columns] == ["a", "b"]
    assert lakehouse.query("select a, b from hv.s.t order by a").rows == [[1, None], [2, "x"]]
