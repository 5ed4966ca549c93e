"""The commit protocol every format shares: an earlier commit of the job id, staging, one commit.

A caller (an ingestion engine, a SQL transform) opens the target table with a job id, asks for the
job's earlier commit (:func:`previous_result`: a retry returns it instead of writing twice), checks
the target (:meth:`~.base.TableCommitter.check_target`), then either hands in row streams
(:func:`stage_and_commit`) or Parquet files it wrote itself (:func:`commit_parquet_files`). Either
way everything is staged first and committed once in the table's format; any failure leaves the
table as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.catalogs.delta import DeltaCatalog
from headrace.lakehouse.catalogs.hive import HiveCatalog
from headrace.lakehouse.catalogs.iceberg import IcebergCatalog
from headrace.lakehouse.tables.base import DEFAULT_BATCH_ROWS, TableCommitter, filesystem_for
from headrace.lakehouse.tables.delta import DeltaCommitter
from headrace.lakehouse.tables.hive import HiveCommitter
from headrace.lakehouse.tables.iceberg import IcebergCommitter
from headrace.lakehouse.tables.records import (
    CommitFailed,
    CommitResult,
    LoadRecord,
    RowStream,
    SourceFile,
    reading,
)
from headrace.lakehouse.tables.target import TableTarget
from headrace.storage.filetypes import FileType, FileTypeMismatch, check_content

__all__ = ["commit_parquet_files", "open_table", "parquet_stream", "previous_result", "stage_and_commit"]


def open_table(
    catalog: FormatCatalog, target: TableTarget, job_id: str, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> TableCommitter:
    """The job's target table in its catalog's format (it may not exist yet)."""
    if isinstance(catalog, IcebergCatalog):
        return IcebergCommitter(catalog, target, job_id, batch_rows)
    if isinstance(catalog, DeltaCatalog):
        return DeltaCommitter(catalog, target, job_id, batch_rows)
    if isinstance(catalog, HiveCatalog):
        return HiveCommitter(catalog, target, job_id, batch_rows)
    raise CommitFailed(f"Catalog '{catalog.info.name}' has an unsupported type {catalog.info.type}")


def previous_result(table: TableCommitter) -> CommitResult | None:
    """The result of this job id's earlier commit to the table, marked ``already_committed``."""
    found = table.ledger().find(table.job_id)
    if found is None:
        return None
    version, record = found
    return record.result(table.name, version, already_committed=True)


def stage_and_commit(
    table: TableCommitter,
    streams: Iterable[Callable[[], RowStream]],
    to_load: Sequence[SourceFile],
    skipped: Sequence[SourceFile],
    started: float,
) -> CommitResult:
    """Stage every stream, then commit once; any failure leaves the table as it was.

    ``to_load`` and ``skipped`` are the source files the load record names (loaded, and skipped as
    loaded before). On failure the staging folder and whatever the format wrote are deleted before
    re-raising.
    """
    return _stage_and_commit(table, streams, [], to_load, skipped, started)[0]


def _stage_and_commit(
    table: TableCommitter,
    streams: Iterable[Callable[[], RowStream]],
    register: list[tuple[pafs.FileSystem, str, str]],
    to_load: Sequence[SourceFile],
    skipped: Sequence[SourceFile],
    started: float,
) -> tuple[CommitResult, set[str]]:
    """As stage_and_commit; also returns the ``register``-ed files the table adopted as data files."""
    stager = table.stager()
    registered: set[str] = set()
    try:
        for fs, path, uri in register:
            if stager.register(fs, path, uri):
                registered.add(uri)
            else:
                stager.add(parquet_stream(fs, path, uri, stager.batch_rows))
        for open_stream in streams:
            stager.add(open_stream())
        record = LoadRecord.build(
            table.target.write_mode, table.job_id, to_load, skipped, stager.rows, time.monotonic() - started
        )
        try:
            version = table.commit(stager, record)
        except CommitFailed:
            raise
        except Exception as exc:
            raise CommitFailed(f"Commit to {table.name} failed: {exc}") from exc
    except BaseException:
        stager.discard()
        table.after_failure()
        raise
    stager.discard()
    duration = round(time.monotonic() - started, 3)
    result = replace(record.result(table.name, version), duration_seconds=duration)
    return result, registered if stager.adopted else set()


def commit_parquet_files(
    target: TableTarget,
    job_id: str,
    catalog: FormatCatalog,
    staged: list[str],
    source_files: Sequence[SourceFile],
    *,
    skipped_files: Sequence[SourceFile] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    started: float | None = None,
) -> CommitResult:
    """Commit Parquet files another engine wrote (``staged``: URIs on the catalog's storage).

    The function owns the staged files. Iceberg, unpartitioned table (any write mode): files whose
    column types need no conversion become table data files where they are (``add_files``; so write
    them under the table's ``data/`` folder); every other case rewrites them through the format's
    normal path. Files not adopted are deleted afterwards, on failure too. ``source_files`` are
    recorded as loaded by ``job_id`` (skipping loaded files is the caller's job, before it writes:
    ``table.ledger().loaded()`` names them); a job id that already committed returns its earlier result
    (``already_committed``), deleting only staged files that are not the table's data files.
    """
    started = time.monotonic() if started is None else started
    table = open_table(catalog, target, job_id, batch_rows=batch_rows)
    located = [(*filesystem_for(uri, catalog.location.s3), uri) for uri in staged]
    adopted: set[str] = set()
    try:
        earlier = previous_result(table)
        if earlier is not None:
            adopted = _referenced(table, staged)  # a retry may hand in the files its commit adopted
            return earlier
        table.check_target()
        if _may_adopt(table):
            streams: list[Callable[[], RowStream]] = []
            register = located
        else:
            streams = [_parquet_stream(fs, path, uri, batch_rows) for fs, path, uri in located]
            register = []
        result, adopted = _stage_and_commit(
            table, streams, register, source_files, skipped_files or [], started
        )
        return result
    finally:
        for fs, path, uri in located:
            if uri not in adopted and fs.get_file_info(path).type == pafs.FileType.File:
                fs.delete_file(path)


def _may_adopt(table: TableCommitter) -> bool:
    if not isinstance(table, IcebergCommitter):
        return False
    if table.table is not None:
        return table.table.spec().is_unpartitioned()
    return not table.target.partition_by


def _referenced(table: TableCommitter, uris: list[str]) -> set[str]:
    """Which of ``uris`` are data files of the (Iceberg) table now."""
    if not isinstance(table, IcebergCommitter) or table.table is None:
        return set()
    wanted = set(uris)
    return {task.file.file_path for task in table.table.scan().plan_files()} & wanted


def _parquet_stream(fs: pafs.FileSystem, path: str, uri: str, batch_rows: int) -> Callable[[], RowStream]:
    return lambda: parquet_stream(fs, path, uri, batch_rows)


@dataclass
class _ParquetStream:
    uri: str
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        with reading(self.uri):
            yield from self.batches


def parquet_stream(
    fs: pafs.FileSystem, path: str, uri: str, batch_rows: int = DEFAULT_BATCH_ROWS
) -> RowStream:
    """A staged Parquet file's rows, ``batch_rows`` at a time; CommitFailed naming it if it is not Parquet."""
    with reading(uri):
        with fs.open_input_file(path) as handle:
            try:
                check_content(handle, FileType.PARQUET)
            except FileTypeMismatch as exc:
                raise CommitFailed(f"{uri}: {exc}", file=uri) from None
        parquet = pq.ParquetFile(fs.open_input_file(path))
        return _ParquetStream(uri, parquet.schema_arrow, parquet.iter_batches(batch_size=batch_rows))
