"""Hive-style tables: folders of Parquet files, partitioned by ``column=value`` sub-folders."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from headrace.lakehouse.catalogs.base import WriteMode
from headrace.lakehouse.catalogs.folders import FolderCatalog
from headrace.lakehouse.models import ColumnInfo, PartitionField, TableMetadata
from headrace.lakehouse.types import sql_type


class HiveCatalog(FolderCatalog):
    def _is_table(self, schema: str, table: str) -> bool:
        fs, path = self.location.child(schema, table).filesystem()
        return fs.get_file_info(path).type == pafs.FileType.Directory

    def _dataset(self, schema: str, table: str) -> ds.Dataset:
        """The table with the union of its files' columns: files written before a column was added
        read it as null (pyarrow alone would take the schema of the first file)."""
        fs, path = self.table_location(schema, table).filesystem()
        found = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")
        schemas = [fragment.physical_schema for fragment in found.get_fragments()]
        if len(schemas) < 2:
            return found
        partition_fields = list(found.partitioning.schema) if found.partitioning else []
        unified = pa.unify_schemas(schemas, promote_options="permissive")
        full = pa.schema([*unified, *(f for f in partition_fields if f.name not in unified.names)])
        partitioning = (
            ds.partitioning(pa.schema(partition_fields), flavor="hive") if partition_fields else None
        )
        return ds.dataset(path, schema=full, filesystem=fs, format="parquet", partitioning=partitioning)

    def read(self, schema: str, table: str) -> ds.Dataset:
        return self._dataset(schema, table)

    def table_metadata(self, schema: str, table: str) -> TableMetadata:
        dataset = self._dataset(schema, table)
        partition_names = set(dataset.partitioning.schema.names) if dataset.partitioning else set()
        fragments = list(dataset.get_fragments())
        files = self.table_location(schema, table).files()
        return TableMetadata(
            name=table,
            schema=schema,
            catalog=self.info.name,
            format="parquet",
            location=self.location.child(schema, table).uri,
            columns=[ColumnInfo(f.name, sql_type(f.type), f.nullable) for f in dataset.schema],
            partitioning=[PartitionField(name, "identity") for name in sorted(partition_names)],
            row_count=sum(fragment.metadata.num_rows for fragment in fragments),
            size_bytes=sum(info.size for info in files if info.base_name.endswith(".parquet")),
            file_count=len(fragments),
        )

    def write(self, schema: str, table: str, data: pa.Table, mode: WriteMode = "append") -> None:
        self.create_schema(schema)
        location = self.location.child(schema, table)
        if mode == "overwrite":
            location.delete()
        fs, path = location.filesystem()
        ds.write_dataset(
            data,
            path,
            filesystem=fs,
            format="parquet",
            basename_template=f"part-{uuid.uuid4().hex}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
