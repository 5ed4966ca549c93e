"""The commit half of ingestion, shared by every engine: ledger checks, staging, one table commit.

An engine resolves and reads the files; this package decides what to load (a retried job returns
its earlier result, files loaded before are skipped), stages, and commits in the table's format.
An engine that writes its own Parquet files (e.g. Spark) hands them to :func:`commit_parquet_files`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace

import pyarrow.fs as pafs

from headrace.ingestion.commit.base import LoadRecord, TableCommitter, filesystem_for
from headrace.ingestion.commit.delta import DeltaCommitter
from headrace.ingestion.commit.hive import HiveCommitter, hive_dataset
from headrace.ingestion.commit.iceberg import IcebergCommitter
from headrace.ingestion.files import ResolvedFile
from headrace.ingestion.readers import DEFAULT_BATCH_ROWS, BatchStream, open_batches
from headrace.ingestion.results import IngestionFailed, IngestionResult
from headrace.ingestion.spec import IngestionSpec
from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.catalogs.delta import DeltaCatalog
from headrace.lakehouse.catalogs.hive import HiveCatalog
from headrace.lakehouse.catalogs.iceberg import IcebergCatalog
from headrace.storage.filetypes import FileType

__all__ = [
    "TableCommitter",
    "commit_parquet_files",
    "hive_dataset",
    "nothing_to_load",
    "open_table",
    "previous_result",
    "split_loaded",
    "stage_and_commit",
]


def open_table(
    catalog: FormatCatalog, spec: IngestionSpec, job_id: str, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> TableCommitter:
    """The job's target table in its catalog's format (it may not exist yet)."""
    if isinstance(catalog, IcebergCatalog):
        return IcebergCommitter(catalog, spec, job_id, batch_rows)
    if isinstance(catalog, DeltaCatalog):
        return DeltaCommitter(catalog, spec, job_id, batch_rows)
    if isinstance(catalog, HiveCatalog):
        return HiveCommitter(catalog, spec, job_id, batch_rows)
    raise IngestionFailed(f"Catalog '{catalog.info.name}' has an unsupported type {catalog.info.type}")


def previous_result(table: TableCommitter) -> IngestionResult | None:
    """The result of this job id's earlier commit to the table, marked ``already_committed``."""
    found = table.ledger().find(table.job_id)
    if found is None:
        return None
    version, record = found
    return record.result(table.name, version, already_committed=True)


def split_loaded(
    table: TableCommitter, files: list[ResolvedFile]
) -> tuple[list[ResolvedFile], list[ResolvedFile]]:
    """``(to_load, skipped)``: with ``skip_loaded_files``, files whose rows the table already has.

    Overwrite never skips: it replaces the table with exactly the job's files.
    """
    spec = table.spec
    if not spec.source.skip_loaded_files or spec.target.write_mode == "overwrite":
        return files, []
    loaded = table.ledger().loaded()
    to_load = [f for f in files if f.identity not in loaded]
    skipped = [f for f in files if f.identity in loaded]
    return to_load, skipped


def nothing_to_load(table: TableCommitter, skipped: list[ResolvedFile], started: float) -> IngestionResult:
    """Every file was loaded before: no commit, the table stays at its version."""
    return IngestionResult(
        job_id=table.job_id,
        target=table.name,
        rows_written=0,
        bytes_read=0,
        files=[],
        skipped_files=[f.uri for f in skipped],
        duration_seconds=round(time.monotonic() - started, 3),
        version=table.version(),
        committed=False,
    )


def stage_and_commit(
    table: TableCommitter,
    streams: Iterable[Callable[[], BatchStream]],
    to_load: list[ResolvedFile],
    skipped: list[ResolvedFile],
    started: float,
) -> IngestionResult:
    """Stage every stream, then commit once; any failure leaves the table as it was.

    On failure the staging folder and whatever the format wrote are deleted before re-raising.
    """
    return _stage_and_commit(table, streams, [], to_load, skipped, started)[0]


def _stage_and_commit(
    table: TableCommitter,
    streams: Iterable[Callable[[], BatchStream]],
    register: list[tuple[pafs.FileSystem, str, str]],
    to_load: list[ResolvedFile],
    skipped: list[ResolvedFile],
    started: float,
) -> tuple[IngestionResult, set[str]]:
    """As stage_and_commit; also returns the ``register``-ed files the table adopted as data files."""
    stager = table.stager()
    registered: set[str] = set()
    try:
        for fs, path, uri in register:
            if stager.register(fs, path, uri):
                registered.add(uri)
            else:
                stager.add(open_batches(fs, path, FileType.PARQUET, uri=uri, batch_rows=stager.batch_rows))
        for open_stream in streams:
            stager.add(open_stream())
        record = LoadRecord.build(
            table.spec, table.job_id, to_load, skipped, stager.rows, time.monotonic() - started
        )
        try:
            version = table.commit(stager, record)
        except IngestionFailed:
            raise
        except Exception as exc:
            raise IngestionFailed(f"Commit to {table.name} failed: {exc}") from exc
    except BaseException:
        stager.discard()
        table.after_failure()
        raise
    stager.discard()
    duration = round(time.monotonic() - started, 3)
    result = replace(record.result(table.name, version), duration_seconds=duration)
    return result, registered if stager.adopted else set()


def commit_parquet_files(
    spec: IngestionSpec,
    job_id: str,
    catalog: FormatCatalog,
    staged: list[str],
    source_files: list[ResolvedFile],
    *,
    skipped_files: list[ResolvedFile] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    started: float | None = None,
) -> IngestionResult:
    """Commit Parquet files another engine wrote (``staged``: URIs on the catalog's storage).

    The function owns the staged files. Iceberg, unpartitioned table (any write mode): files whose
    column types need no conversion become table data files where they are (``add_files``; so write
    them under the table's ``data/`` folder); every other case rewrites them through the format's
    normal path. Files not adopted are deleted afterwards, on failure too. ``source_files`` are
    recorded as loaded by ``job_id`` (skipping loaded files is the caller's job, before it writes:
    see :func:`split_loaded`); a job id that already committed returns its earlier result
    (``already_committed``), deleting only staged files that are not the table's data files.
    """
    started = time.monotonic() if started is None else started
    table = open_table(catalog, spec, job_id, batch_rows=batch_rows)
    located = [(*filesystem_for(uri, catalog.location.s3), uri) for uri in staged]
    adopted: set[str] = set()
    try:
        earlier = previous_result(table)
        if earlier is not None:
            adopted = _referenced(table, staged)  # a retry may hand in the files its commit adopted
            return earlier
        table.check_spec()
        if _may_adopt(table):
            streams: list[Callable[[], BatchStream]] = []
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
    return not table.spec.target.partition_by


def _referenced(table: TableCommitter, uris: list[str]) -> set[str]:
    """Which of ``uris`` are data files of the (Iceberg) table now."""
    if not isinstance(table, IcebergCommitter) or table.table is None:
        return set()
    wanted = set(uris)
    return {task.file.file_path for task in table.table.scan().plan_files()} & wanted


def _parquet_stream(fs: pafs.FileSystem, path: str, uri: str, batch_rows: int) -> Callable[[], BatchStream]:
    return lambda: open_batches(fs, path, FileType.PARQUET, uri=uri, batch_rows=batch_rows)
