"""Apache Iceberg tables through pyiceberg's SQL catalog (SQLite by default, PostgreSQL in production).

Every Headrace catalog of type ``iceberg`` is one pyiceberg catalog name inside the shared catalog
database, with its own warehouse folder; pyiceberg, Spark or Trino can open the same tables from
the same database.
"""

from __future__ import annotations

import contextlib
import functools

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchNamespaceError, NoSuchTableError
from pyiceberg.table import Table

from headrace.lakehouse.catalogs.base import FormatCatalog, WriteMode
from headrace.lakehouse.models import ColumnInfo, PartitionField, TableMetadata
from headrace.lakehouse.types import sql_type


class IcebergCatalog(FormatCatalog):
    @functools.cached_property
    def sql_catalog(self) -> SqlCatalog:
        return SqlCatalog(
            self.info.name,
            uri=self.catalog_uri,
            warehouse=self.location.iceberg_warehouse,
            **self.location.iceberg_properties(),
        )

    def list_schemas(self) -> list[str]:
        return sorted(".".join(ns) for ns in self.sql_catalog.list_namespaces())

    def list_tables(self, schema: str) -> list[str]:
        self._require_schema(schema)
        return sorted(identifier[-1] for identifier in self.sql_catalog.list_tables(schema))

    def create_schema(self, schema: str) -> None:
        with contextlib.suppress(NamespaceAlreadyExistsError):
            self.sql_catalog.create_namespace(schema)

    def load(self, schema: str, table: str) -> Table:
        try:
            return self.sql_catalog.load_table((schema, table))
        except (NoSuchTableError, NoSuchNamespaceError):
            self._require_schema(schema)
            raise self._missing_table(schema, table) from None

    def read(self, schema: str, table: str) -> pa.Table:
        return self.load(schema, table).scan().to_arrow()

    def table_metadata(self, schema: str, table: str) -> TableMetadata:
        iceberg = self.load(schema, table)
        iceberg_schema = iceberg.schema()
        arrow_schema = iceberg_schema.as_arrow()
        snapshot = iceberg.current_snapshot()
        summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
        return TableMetadata(
            name=table,
            schema=schema,
            catalog=self.info.name,
            format="iceberg",
            location=iceberg.location(),
            columns=[
                ColumnInfo(f.name, sql_type(a.type), not f.required)
                for f, a in zip(iceberg_schema.fields, arrow_schema, strict=True)
            ],
            partitioning=[
                PartitionField(iceberg_schema.find_column_name(f.source_id), str(f.transform))
                for f in iceberg.spec().fields
            ],
            version=str(snapshot.snapshot_id) if snapshot else None,
            row_count=int(summary.get("total-records", 0)),
            size_bytes=int(summary.get("total-files-size", 0)),
            file_count=int(summary.get("total-data-files", 0)),
            extra={"format_version": iceberg.format_version, "file_format": "parquet"},
        )

    def write(self, schema: str, table: str, data: pa.Table, mode: WriteMode = "append") -> None:
        self.create_schema(schema)
        iceberg = self.sql_catalog.create_table_if_not_exists((schema, table), schema=data.schema)
        if mode == "overwrite":
            iceberg.overwrite(data)
        else:
            iceberg.append(data)

    def drop_table(self, schema: str, table: str) -> None:
        self.load(schema, table)
        self.sql_catalog.purge_table((schema, table))

    def drop_all(self) -> None:
        super().drop_all()
        for schema in self.list_schemas():
            self.sql_catalog.drop_namespace(schema)
