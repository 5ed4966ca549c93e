"""What POST /query reads of a table (issue 16): only the files, columns and row groups the query needs.

Real tables written through the lakehouse core (pyiceberg, deltalake, pyarrow) in a temporary
warehouse, queried through ``Lakehouse.query`` (DuckDB in the sandbox's child process). The old path is
the table read whole (``read()``), as the Query API did before: the answers must not change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.lakehouse.sql import ParquetFiles, QueryLimits, TableRef, run_query, sandbox

ROWS_PER_APPEND = 1000
APPENDS = 3


def _rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "amount": pa.array([i * 0.5 if i % 7 else None for i in ids], pa.float64()),
            "city": pa.array([f"city-{i % 5}" if i % 11 else None for i in ids], pa.string()),
            "at": pa.array(
                [datetime(2024, 1, 1 + i % 28, tzinfo=UTC) for i in ids], pa.timestamp("us", "UTC")
            ),
            "local": pa.array([datetime(2024, 2, 1, i % 24) for i in ids], pa.timestamp("us")),
            "day": pa.array([date(2023, 1 + i % 12, 1) for i in ids], pa.date32()),
            "price": pa.array([Decimal(i) / 100 for i in ids], pa.decimal128(12, 2)),
            "paid": pa.array([i % 2 == 0 for i in ids], pa.bool_()),
            "tags": pa.array([[f"t{i % 3}"] if i % 4 else [] for i in ids], pa.list_(pa.string())),
        }
    )


@pytest.fixture(scope="module")
def house(tmp_path_factory) -> Lakehouse:
    """Built once for the module; tests that change a table make their own."""
    tmp_path = tmp_path_factory.mktemp("query-scans")
    house = Lakehouse(
        LakehouseSettings(catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "wh"))
    )
    for name, kind in (("ice", CatalogType.ICEBERG), ("dl", CatalogType.DELTA), ("pq", CatalogType.HIVE)):
        house.create_catalog(name, kind)
        for append in range(APPENDS):  # one data file per append
            house.write(name, "sales", "orders", _rows(append * ROWS_PER_APPEND, ROWS_PER_APPEND))
    return house


def _old_path(house: Lakehouse):
    """The tables as the Query API read them before: each read whole into this process."""

    def resolve(ref: TableRef):
        data = house.read(ref.catalog, ref.schema, ref.table)
        return data.to_table() if isinstance(data, ds.Dataset) else data

    return resolve


QUERIES = [
    "SELECT * FROM {t} ORDER BY id",
    "SELECT id, city, amount FROM {t} WHERE amount > 100 AND city = 'city-3' ORDER BY id",
    "SELECT city, count(*) AS n, sum(amount) AS total, min(at) AS first, max(price) AS top "
    "FROM {t} GROUP BY city ORDER BY city NULLS FIRST",
    "SELECT day, paid, count(*) AS n FROM {t} WHERE local >= TIMESTAMP '2024-02-01 12:00' "
    "GROUP BY ALL ORDER BY ALL",
    "SELECT a.id, b.tags FROM {t} a JOIN {t} b ON a.id = b.id + 1 WHERE a.id % 97 = 0 ORDER BY a.id",
]


@pytest.mark.parametrize("catalog", ["ice", "dl", "pq"])
@pytest.mark.parametrize("sql", QUERIES)
def test_results_equal_the_table_read_whole(house, catalog, sql):
    sql = sql.format(t=f"{catalog}.sales.orders")

    new = house.query(sql, limit=10_000)
    old = run_query(sql, _old_path(house), limit=10_000)

    assert new.columns == old.columns
    assert new.rows == old.rows and new.row_count == old.row_count > 0


def test_an_iceberg_table_is_its_data_files_not_a_table_in_memory(house):
    data = house._resolve(TableRef("ice", "sales", "orders"))

    assert isinstance(data, ParquetFiles) and data.native
    assert len(data.dataset.files) == APPENDS  # the current snapshot's files, from pyiceberg's plan
    assert data.dataset.schema.names == _rows(0, 1).schema.names


def test_duckdb_reads_only_the_columns_and_row_groups_the_query_needs(house):
    """The plan of the query process: one column read, the filter in the scan, one file of three."""
    data = house._resolve(TableRef("ice", "sales", "orders"))

    _, plan = sandbox.run(
        "EXPLAIN ANALYZE SELECT amount FROM t_0 WHERE id = 1500",
        {"t_0": data},
        uses={"t_0": 1},
        limit=10,
        timeout_seconds=60,
        limits=QueryLimits(),
    )

    text = plan.column("explain_value")[0].as_py()
    assert "PARQUET_SCAN" in text
    assert "Projections: amount" in text and "Filters: id = 1500" in text
    assert f"Row Groups Scanned: 1 / {APPENDS}" in text


def test_a_renamed_column_is_read_by_field_id_through_pyiceberg(house):
    """Files written before a rename hold the old name: matching by name would read nulls."""
    for append in range(APPENDS):
        house.write("ice", "evolved", "orders", _rows(append * ROWS_PER_APPEND, ROWS_PER_APPEND))
    table = house.open("ice").load("evolved", "orders")
    with table.update_schema() as update:
        update.rename_column("amount", "total")

    data = house._resolve(TableRef("ice", "evolved", "orders"))
    result = house.query("SELECT sum(total) AS s, count(total) AS n FROM ice.evolved.orders")

    assert isinstance(data, pa.RecordBatchReader)  # streamed in batches, never read whole
    ids = range(APPENDS * ROWS_PER_APPEND)
    assert result.rows == [[sum(i * 0.5 for i in ids if i % 7), sum(1 for i in ids if i % 7)]]


def test_an_empty_iceberg_table_has_its_columns(house):
    house.open("ice").sql_catalog.create_table(("sales", "empty"), schema=_rows(0, 1).schema)

    result = house.query("SELECT id, city FROM ice.sales.empty")

    assert [c.name for c in result.columns] == ["id", "city"] and result.rows == []


@pytest.mark.parametrize("catalog", ["ice", "dl", "pq"])
def test_a_result_stops_at_the_row_limit(house, catalog):
    result = house.query(f"SELECT id FROM {catalog}.sales.orders ORDER BY id", limit=7)

    assert result.rows == [[i] for i in range(7)]
    assert result.row_count == 7 and result.truncated is True


def test_the_limits_reach_duckdb_in_every_query_process():
    """Each query gets its own limits, also from a spare process started for another query's."""
    for limits in (QueryLimits("300MB", 1), QueryLimits("2GiB", 3), QueryLimits("300MB", 1)):
        _, table = sandbox.run(
            "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t",
            {},
            uses={},
            limit=1,
            timeout_seconds=30,
            limits=limits,
        )
        expected = "286.1 MiB" if limits.threads == 1 else "2.0 GiB"
        assert table.to_pylist() == [{"m": expected, "t": limits.threads}]


def test_the_query_process_may_read_no_file_but_its_tables(house, tmp_path):
    """DuckDB may read the table's own files (allowed_paths), nothing else, even past the guard."""
    secret = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1]}), secret)
    data = house._resolve(TableRef("ice", "sales", "orders"))

    with pytest.raises(sandbox.SandboxError, match="disabled by configuration"):
        sandbox.run(
            f"SELECT * FROM t_0, read_parquet('{secret}')",
            {"t_0": data},
            uses={"t_0": 1},
            limit=1,
            timeout_seconds=30,
            limits=QueryLimits(),
        )
