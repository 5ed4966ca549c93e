"""Staging: every source file read, typed and written as Parquet before the table is touched.

Two phases keep "one commit or none" simple: a file that cannot be read or does not fit the table
fails the job while the table is still untouched, and the commit step then only handles files that
are known to be good. Batches stream from the reader into a Parquet writer, so memory is one batch.

The staging folder belongs to one job (named by its job id) inside the table's location; the commit
either adopts the staged files as table data (Iceberg ``add_files``, Hive-style moves) or rewrites
them through the format's writer, and the folder is deleted afterwards or on failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pyarrow.types as pt

from headrace.lakehouse.tables.base import TableCommitter, delete_dir, make_dirs
from headrace.lakehouse.tables.records import CommitFailed, RowStream, reading
from headrace.lakehouse.tables.schema import Evolution, conform_batch, normalize_batch, normalize_schema

HIVE_PARTITION_TYPES = (pt.is_string, pt.is_integer, pt.is_date32, pt.is_boolean)
ROW_GROUP_ROWS = 1024 * 1024  # rows per row group at most (each staged batch is a row group of its own)
# Dictionary encoding is kept for a column whose first batch repeats values: at most this share of
# its values distinct (see dictionary_columns).
DICTIONARY_DISTINCT_SHARE = 0.5
_DICTIONARY_MIN_ROWS = 1024  # smaller first batches tell too little: dictionary for every column
_DICTIONARY_PROBE_ROWS = 65536  # rows of the first batch looked at (whatever batch_rows is)


def dictionary_columns(first: pa.Table) -> bool | list[str]:
    """Which columns of a staged file are dictionary-encoded, judged from its first batch.

    Parquet writers try a dictionary for every column of every row group and give it up once it
    passes 1 MiB: a file written as one row group (the raw bound) gives it up once for columns of
    mostly distinct values (ids, amounts), but a staged file of batch-sized row groups built a
    dictionary of every such value again in each of them (measured for 65,536-row groups: 1.7x the
    write time of one row group, files 40% larger). So a column keeps the dictionary when its first
    65,536 values repeat (at most ``DICTIONARY_DISTINCT_SHARE`` of them distinct), which is what one
    big row group ends up with too. Nested columns (pyarrow names them by leaf paths), names with
    dots and small files keep pyarrow's default, a dictionary for every column (``True``).
    """
    if first.num_rows < _DICTIONARY_MIN_ROWS:
        return True
    probe = first.slice(0, _DICTIONARY_PROBE_ROWS)
    keep: list[str] = []
    for field, column in zip(probe.schema, probe.columns, strict=True):
        if pt.is_nested(field.type) or "." in field.name or pt.is_dictionary(field.type):
            return True
        try:
            distinct = pc.count_distinct(column, mode="all").as_py()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            return True
        if distinct <= probe.num_rows * DICTIONARY_DISTINCT_SHARE:
            keep.append(field.name)
    return True if len(keep) == len(first.schema) else keep


def hive_partitioning(schema: pa.Schema, columns: list[str]) -> ds.Partitioning | None:
    """``col=value/`` folders of ``columns`` (typed as in ``schema``); None without columns."""
    if not columns:
        return None
    return ds.partitioning(pa.schema([schema.field(c) for c in columns]), flavor="hive")


def write_partitioned(
    data: Iterator[pa.RecordBatch] | pa.Table,
    fs: pafs.FileSystem,
    root: str,
    *,
    name: str,
    partitioning: ds.Partitioning | None,
    schema: pa.Schema | None = None,
) -> list[ds.WrittenFile]:
    """Write ``data`` as Parquet files ``<name>-<i>.parquet`` below ``root`` (in partition folders).

    The one way staged and merged Hive-style files are written; file names carry the job's token,
    so files of different jobs never clash and a retry overwrites its own.
    """
    written: list[ds.WrittenFile] = []
    ds.write_dataset(
        data,
        root,
        schema=schema,
        format="parquet",
        filesystem=fs,
        partitioning=partitioning,
        basename_template=f"{name}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        file_visitor=written.append,
    )
    return written


@dataclass(frozen=True)
class StagedFile:
    path: str  # inside the stager's filesystem
    uri: str  # the same file as a URI (s3://... or a local path)
    rows: int
    source: str


class Stager:
    """One job's staged Parquet files and the target schema they add up to.

    ``partition_columns`` with ``hive_layout`` writes ``col=value/`` folders (partition columns
    leave the files), the final layout of Hive-style tables; otherwise one file per source.
    """

    def __init__(
        self,
        *,
        fs: pafs.FileSystem,
        root: str,
        uri_prefix: str,
        token: str,
        evolution: Evolution,
        table_format: str,
        target: pa.Schema | None,
        partition_columns: list[str] | None = None,
        hive_layout: bool = False,
        batch_rows: int = 65536,
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.uri_prefix = uri_prefix.rstrip("/")
        self.token = token
        self.evolution = evolution
        self.table_format = table_format
        self.target = target if target is not None else pa.schema([])
        self.partition_columns = list(partition_columns or [])
        self.hive_layout = hive_layout
        self.batch_rows = batch_rows
        self.files: list[StagedFile] = []
        self.rows = 0
        self.adopted = False  # set by a commit that made the staged files table data
        self._sources = 0
        delete_dir(fs, self.root)  # leftovers of an earlier, crashed attempt of the same job
        make_dirs(fs, self.root)

    def add(self, stream: RowStream) -> int:
        """Stage one source file; returns its row count."""
        schema = normalize_schema(stream.schema, table_format=self.table_format, source=stream.uri)
        if not schema.names:
            raise CommitFailed(f"{stream.uri} has no column with a value", file=stream.uri)
        self.target = self.evolution.merge(self.target, schema, stream.uri)
        index = self._sources
        self._sources += 1
        with reading(stream.uri):
            if self.hive_layout:
                rows = self._write_partitioned(stream, schema, index)
            else:
                rows = self._write_file(stream, schema, index)
        self.rows += rows
        return rows

    def _write_file(self, stream: RowStream, schema: pa.Schema, index: int) -> int:
        name = f"part-{self.token}-{index:05d}.parquet"
        path = f"{self.root}/{name}"
        writer: pq.ParquetWriter | None = None
        rows = 0
        try:
            for batch in stream:
                if not batch.num_rows:
                    continue
                table = pa.Table.from_batches([normalize_batch(batch, schema)], schema)
                if writer is None:  # opened with the first rows, whose columns choose the dictionaries
                    writer = pq.ParquetWriter(
                        path, schema, filesystem=self.fs, use_dictionary=dictionary_columns(table)
                    )
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is not None:
            self.files.append(StagedFile(path, f"{self.uri_prefix}/{name}", rows, stream.uri))
        return rows

    def _write_partitioned(self, stream: RowStream, schema: pa.Schema, index: int) -> int:
        for column in self.partition_columns:
            if column not in self.target.names:
                raise CommitFailed(
                    f"target.partition_by: column '{column}' is not in {stream.uri}", file=stream.uri
                )
            column_type = self.target.field(column).type
            if not any(check(column_type) for check in HIVE_PARTITION_TYPES):
                raise CommitFailed(
                    f"target.partition_by: Hive-style tables partition by text, integer, date or boolean "
                    f"columns; '{column}' is {column_type}"
                )
        names = list(schema.names) + [c for c in self.partition_columns if c not in schema.names]
        file_schema = pa.schema([self.target.field(name) for name in names])

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in stream:
                yield conform_batch(normalize_batch(batch, schema), file_schema)

        written = write_partitioned(
            batches(),
            self.fs,
            self.root,
            name=f"part-{self.token}-{index:05d}",
            partitioning=hive_partitioning(self.target, self.partition_columns),
            schema=file_schema,
        )
        rows = 0
        for file in written:
            count = file.metadata.num_rows if file.metadata is not None else 0
            relative = file.path[len(self.root) + 1 :]
            self.files.append(StagedFile(file.path, f"{self.uri_prefix}/{relative}", count, stream.uri))
            rows += count
        return rows

    def register(self, fs: pafs.FileSystem, path: str, uri: str) -> bool:
        """Take an existing Parquet file as staged without copying it (Iceberg ``add_files``).

        Only when it needs no normalization and lives on the same kind of filesystem; returns False
        otherwise (the caller then stages a copy with :meth:`add`).
        """
        if self.hive_layout or type(fs) is not type(self.fs):
            return False
        with reading(uri):
            metadata = pq.read_metadata(fs.open_input_file(path))
            physical = metadata.schema.to_arrow_schema()
        schema = normalize_schema(physical, table_format=self.table_format, source=uri)
        if [(f.name, f.type) for f in schema] != [(f.name, f.type) for f in physical]:
            return False
        self.target = self.evolution.merge(self.target, schema, uri)
        self.files.append(StagedFile(path, uri, metadata.num_rows, uri))
        self.rows += metadata.num_rows
        return True

    def relative(self, file: StagedFile) -> str:
        return file.path[len(self.root) + 1 :]

    def dataset(self) -> ds.Dataset:
        """Every staged row under the target schema (missing columns null, narrower types widened)."""
        partitioning = hive_partitioning(self.target, self.partition_columns) if self.hive_layout else None
        return ds.dataset(
            [f.path for f in self.files],
            schema=self.target,
            format="parquet",
            filesystem=self.fs,
            partitioning=partitioning,
            partition_base_dir=self.root if partitioning else None,
        )

    def batches(self, schema: pa.Schema | None = None) -> Iterator[pa.RecordBatch]:
        """Staged rows in ``schema`` (default: the target), ``batch_rows`` at a time."""
        schema = schema or self.target
        if not self.files:
            return
        for batch in self.dataset().to_batches(columns=schema.names, batch_size=self.batch_rows):
            yield conform_batch(batch, schema)

    def reader(self, schema: pa.Schema | None = None) -> pa.RecordBatchReader:
        schema = schema or self.target
        target = pa.schema([pa.field(f.name, f.type) for f in schema])
        return pa.RecordBatchReader.from_batches(target, self.batches(target))

    def discard(self) -> None:
        """Delete the staging folder (not when its files became table data)."""
        if not self.adopted:
            delete_dir(self.fs, self.root)


def stager_for(
    table: TableCommitter, fs: pafs.FileSystem, root: str, *, uri_prefix: str | None = None, **layout: Any
) -> Stager:
    """An empty staging area at ``root`` whose files are checked against ``table``'s columns."""
    target = table.table_schema
    return Stager(
        fs=fs,
        root=root,
        uri_prefix=uri_prefix or root,
        token=table.token,
        evolution=Evolution.for_table(
            table.name, target, allow_new=table.target.schema_evolution, widen=table.widen
        ),
        table_format=table.format,
        target=target,
        batch_rows=table.batch_rows,
        **layout,
    )
