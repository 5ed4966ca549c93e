"""Defence in depth: the locked DuckDB connection refuses files, writes and settings without the guard."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from headrace.lakehouse.sql import (
    QueryError,
    run_sql,
)


# -------------------------------------------------------------------- defence in depth (DuckDB itself)
def _raw(sql: str, tables: dict | None = None) -> list[list]:
    """Run SQL on the locked connection, skipping every parse check."""
    _, table = run_sql(sql, tables or {}, limit=10, timeout_seconds=10)
    return [list(row.values()) for row in table.to_pylist()]


def test_locked_connection_still_reads_registered_arrow_data(tmp_path):
    ds.write_dataset(pa.table({"v": [1, 2]}), tmp_path / "d", format="parquet")
    tables = {
        "t_0": pa.table({"v": [1]}),
        "t_1": ds.dataset(tmp_path / "d", format="parquet"),
        "t_2": pa.RecordBatchReader.from_batches(
            pa.schema([("v", pa.int64())]), [pa.record_batch([[4]], ["v"])]
        ),
    }
    rows = _raw("SELECT sum(v) FROM (FROM t_0 UNION ALL FROM t_1 UNION ALL FROM t_2)", tables)
    assert rows == [[Decimal(8)]]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM '/etc/hostname.csv'",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_duckdb_refuses_file_reads_even_without_parse_checks(sql):
    with pytest.raises(QueryError) as info:
        _raw(sql)
    assert info.value.code == "QUERY_FAILED"
    assert "disabled by configuration" in info.value.message or "Permission" in info.value.message


def test_duckdb_refuses_writes_extensions_and_setting_changes(tmp_path):
    target = tmp_path / "out.csv"
    for sql in (
        f"COPY (SELECT 1) TO '{target}'",
        f"ATTACH '{tmp_path / 'x.duckdb'}' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET autoload_known_extensions = true",
    ):
        with pytest.raises(QueryError) as info:
            _raw(sql)
        assert info.value.code == "QUERY_FAILED", sql
    assert not target.exists() and not (tmp_path / "x.duckdb").exists()


def test_duckdb_does_not_scan_python_variables():
    secret_rows = pa.table({"secret": ["hunter2"]})  # noqa: F841 - a replacement scan would find it
    with pytest.raises(QueryError) as info:
        _raw("SELECT * FROM secret_rows")
    assert "secret_rows" in info.value.message
