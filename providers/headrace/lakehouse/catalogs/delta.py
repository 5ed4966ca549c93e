"""Delta Lake tables through deltalake (delta-rs): a folder with a ``_delta_log``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake

from headrace.lakehouse.catalogs.base import WriteMode
from headrace.lakehouse.catalogs.folders import FolderCatalog
from headrace.lakehouse.models import ColumnInfo, PartitionField, TableMetadata
from headrace.lakehouse.types import sql_type


class DeltaCatalog(FolderCatalog):
    def _is_table(self, schema: str, table: str) -> bool:
        fs, path = self.location.child(schema, table, "_delta_log").filesystem()
        return fs.get_file_info(path).type == pafs.FileType.Directory

    def _delta(self, schema: str, table: str) -> DeltaTable:
        location = self.table_location(schema, table)
        return DeltaTable(location.uri, storage_options=location.storage_options())

    def read(self, schema: str, table: str) -> ds.Dataset:
        # A dataset, not to_pyarrow_table(): lazy, and see the deltalake exit-crash note in issue 4.
        return self._delta(schema, table).to_pyarrow_dataset()

    def table_metadata(self, schema: str, table: str) -> TableMetadata:
        delta = self._delta(schema, table)
        arrow_schema = pa.schema(delta.schema().to_arrow())
        actions = pa.table(delta.get_add_actions(flatten=True))
        metadata = delta.metadata()
        return TableMetadata(
            name=table,
            schema=schema,
            catalog=self.info.name,
            format="delta",
            location=self.location.child(schema, table).uri,
            columns=[ColumnInfo(f.name, sql_type(f.type), f.nullable) for f in arrow_schema],
            partitioning=[PartitionField(column, "identity") for column in metadata.partition_columns],
            version=str(delta.version()),
            row_count=sum(v or 0 for v in actions.column("num_records").to_pylist())
            if actions.num_rows
            else 0,
            size_bytes=sum(actions.column("size_bytes").to_pylist()) if actions.num_rows else 0,
            file_count=actions.num_rows,
            extra={"table_id": metadata.id},
        )

    def write(self, schema: str, table: str, data: pa.Table, mode: WriteMode = "append") -> None:
        self.create_schema(schema)
        location = self.location.child(schema, table)
        write_deltalake(location.uri, data, mode=mode, storage_options=location.storage_options())
