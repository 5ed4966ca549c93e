"""Source files of every type with the same rows, specs, and read-back through each format's library."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.orc as paorc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from pyiceberg.catalog.sql import SqlCatalog

from headrace.ingestion.spec import IngestionSpec
from headrace.storage import ObjectStore

BUCKET = "raw"
ROWS = [
    {"id": 1, "name": "ann", "amount": 1.5},
    {"id": 2, "name": None, "amount": 2.0},
    {"id": 3, "name": "cyd", "amount": None},
]
ARROW_SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.float64())])
AVRO_SCHEMA = {
    "type": "record",
    "name": "Row",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "amount", "type": ["null", "double"]},
    ],
}


def table_of(rows: list[dict[str, Any]], schema: pa.Schema = ARROW_SCHEMA) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def json_lines(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def json_array(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, indent=2).encode()


def csv_bytes(
    rows: list[dict[str, Any]], *, delimiter: str = ",", header: bool = True, null: str = ""
) -> bytes:
    lines = [delimiter.join(rows[0])] if header else []
    lines += [delimiter.join(null if v is None else str(v) for v in row.values()) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def orc_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    paorc.write_table(table, sink)
    return sink.getvalue()


def avro_bytes(rows: list[dict[str, Any]], schema: dict[str, Any] = AVRO_SCHEMA) -> bytes:
    sink = io.BytesIO()
    fastavro.writer(sink, fastavro.parse_schema(schema), rows)
    return sink.getvalue()


def put(store: ObjectStore, key: str, data: bytes, bucket: str = BUCKET) -> str:
    store.put(bucket, key, io.BytesIO(data))
    return f"s3://{bucket}/{key}"


def make_spec(
    catalog: str,
    table: str,
    paths: str | list[str],
    file_type: str,
    *,
    source: dict | None = None,
    **target: Any,
) -> IngestionSpec:
    return IngestionSpec.model_validate(
        {
            "target": {"catalog": catalog, "schema": "sales", "table": table, **target},
            "source": {"file_paths": paths, "file_type": file_type, **(source or {})},
        }
    )


def read_back(tmp_path: Path, catalog: str, catalog_type: str, table: str, schema: str = "sales") -> pa.Table:
    """The table as its own library reads it (a separate pyiceberg catalog, deltalake, pyarrow)."""
    warehouse = tmp_path / "wh" / catalog
    if catalog_type == "iceberg":
        other = SqlCatalog(catalog, uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=warehouse.as_uri())
        return other.load_table((schema, table)).scan().to_arrow()
    if catalog_type == "delta":
        return DeltaTable(str(warehouse / schema / table)).to_pyarrow_dataset().to_table()
    return ds.dataset(str(warehouse / schema / table), format="parquet", partitioning="hive").to_table()


def rows_of(table: pa.Table, key: str = "id", columns: list[str] | None = None) -> list[dict[str, Any]]:
    table = table.sort_by(key)
    return table.select(columns).to_pylist() if columns else table.to_pylist()


def tree(path: Path) -> list[str]:
    """Every file below ``path`` (relative), to compare a table folder before and after."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []
