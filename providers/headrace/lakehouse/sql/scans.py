"""What a query reads of an Iceberg table: its current data files, not the table read whole.

``scan().to_arrow()`` read every row and column of a table into the api-server's memory before DuckDB
looked at the query. Here an Iceberg table becomes :class:`ParquetFiles` over the data files of its
current snapshot (pyiceberg's ``plan_files``): the query process reads only the columns and row groups
the query needs, with DuckDB's own Parquet reader for local files or a ``pyarrow.dataset`` (projection
and filter pushdown) on S3. That is only the table when the files are all there is to it; a table with
delete files (merge-on-read) or whose schema changed since files were written (Iceberg matches columns
by field id, a plain Parquet reader by name) is streamed through pyiceberg's own reader instead, in
batches, never whole.

Planning reads the snapshot's manifest list and manifests (a tenth of a second for a table of ten
appends); a metadata file never changes once written (a commit writes a new one), so the plan of each
is kept, for the last :data:`_PLANS_KEPT` of them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.dataset as ds
from pyiceberg.table import Table

from headrace.lakehouse.location import Location
from headrace.lakehouse.sql.model import ArrowData, ParquetFiles

__all__ = ["iceberg_data", "native_types", "planned_files"]

_PLANS_KEPT = 256
_plans: OrderedDict[str, tuple[tuple[str, ...], bool]] = OrderedDict()
_plans_lock = threading.Lock()


def iceberg_data(table: Table, location: Location) -> ArrowData:
    """The current snapshot of ``table`` (stored under ``location``) as a query reads it."""
    files, has_deletes = planned_files(table)
    schema = table.schema().as_arrow()
    if has_deletes or not _one_schema(table):
        return table.scan().to_arrow_batch_reader()
    if not files:
        return schema.empty_table()
    fs, _ = location.filesystem()
    paths = [_path(uri) for uri in files]
    dataset = ds.dataset(paths, schema=schema, format="parquet", filesystem=fs)
    return ParquetFiles(dataset, native=native_types(schema))


def planned_files(table: Table) -> tuple[tuple[str, ...], bool]:
    """The data files of the table's current snapshot and whether delete files apply to them."""
    key = table.metadata_location
    with _plans_lock:
        if key in _plans:
            _plans.move_to_end(key)
            return _plans[key]
    tasks = list(table.scan().plan_files())
    plan = tuple(task.file.file_path for task in tasks), any(task.delete_files for task in tasks)
    with _plans_lock:
        _plans[key] = plan
        while len(_plans) > _PLANS_KEPT:
            _plans.popitem(last=False)
    return plan


def _one_schema(table: Table) -> bool:
    """Whether every schema the table ever had is the current one (ids, names and types)."""

    def fields(schema) -> list[tuple[int, str, str]]:
        return [(f.field_id, f.name, str(f.field_type)) for f in schema.fields]

    current = fields(table.schema())
    return all(fields(schema) == current for schema in table.metadata.schemas)


def _path(uri: str) -> str:
    """A data file's path inside the table location's filesystem (``s3://b/k`` -> ``b/k``)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("s3", "s3a", "s3n"):
        return f"{parsed.netloc}{parsed.path}"
    return parsed.path if parsed.scheme == "file" else uri


def native_types(schema: pa.Schema) -> bool:
    """Whether DuckDB's Parquet reader gives every column the type DuckDB gives its Arrow type:
    not for UUIDs (Parquet UUID, Arrow fixed binary), other fixed-size binary and extension types."""

    def plain(kind: pa.DataType) -> bool:
        if isinstance(kind, pa.ExtensionType) or pa.types.is_fixed_size_binary(kind):
            return False
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            return False  # Iceberg v3 nanoseconds: not compared, so kept to the Arrow path
        return all(plain(kind.field(i).type) for i in range(kind.num_fields))

    return all(plain(field.type) for field in schema)
