"""The data files of a table's current version, for engines that read tables without their library.

Spark has no Iceberg or Delta reader here, so a SQL transform on Spark reads each table as the
Parquet files of its current version; this is where a format says which files those are.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from deltalake import DeltaTable

from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.catalogs.delta import DeltaCatalog
from headrace.lakehouse.catalogs.iceberg import IcebergCatalog
from headrace.lakehouse.tables.hive import HiveTable


@dataclass(frozen=True)
class TableFiles:
    """``paths``: URIs of the data files; ``base``: the folder below which partition values live in
    ``col=value`` folder names (None for Iceberg, whose files carry them); ``schema``: the columns,
    also for a table without files; ``has_deletes``: Iceberg delete files (merge-on-read) apply to
    ``paths``, so reading the files alone would return deleted rows."""

    paths: list[str]
    schema: pa.Schema
    base: str | None
    has_deletes: bool = False


def table_files(catalog: FormatCatalog, schema: str, table: str) -> TableFiles:
    """The files of ``schema.table``'s current version in ``catalog`` (the table must exist)."""
    if isinstance(catalog, IcebergCatalog):
        iceberg = catalog.load(schema, table)
        tasks = list(iceberg.scan().plan_files())
        return TableFiles(
            paths=[task.file.file_path for task in tasks],
            schema=iceberg.schema().as_arrow(),
            base=None,
            has_deletes=any(task.delete_files for task in tasks),
        )
    location = catalog.location.child(schema, table)
    if isinstance(catalog, DeltaCatalog):
        delta = DeltaTable(location.uri, storage_options=location.storage_options())
        return TableFiles(delta.file_uris(), pa.schema(delta.schema().to_arrow()), location.uri)
    fs, path = location.filesystem()
    hive = HiveTable(fs, path)
    files = [f"{location.uri}/{relative}" for relative in hive.data_files()]
    return TableFiles(files, hive.schema_and_partitions()[0] or pa.schema([]), location.uri)
