"""What every table format's commit shares: the committer interface, file helpers, merge-key checks.

A :class:`TableCommitter` is one job's view of its target table; a format (Iceberg, Delta,
Hive-style) implements its ledger, staging area and commit. The ledger and load record it stores are
in :mod:`.records`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.tables.records import CommitFailed, Ledger, LoadRecord, path_token
from headrace.lakehouse.tables.schema import normalize_schema
from headrace.lakehouse.tables.target import TableTarget
from headrace.storage import S3Settings

if TYPE_CHECKING:
    from headrace.lakehouse.tables.staging import Stager

DEFAULT_BATCH_ROWS = 65536  # rows per batch that a commit reads or rewrites at a time


def filesystem_for(uri: str, s3: S3Settings | None) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and path for ``s3://``, ``file://`` or plain local locations."""
    if uri.startswith(("s3://", "s3a://")):
        if s3 is None:
            raise CommitFailed(f"{uri} needs S3 settings")
        return s3.pyarrow_filesystem(), uri.split("://", 1)[1]
    if uri.startswith("file:"):
        return pafs.LocalFileSystem(), unquote(urlsplit(uri).path)
    return pafs.LocalFileSystem(), uri


def list_files(fs: pafs.FileSystem, root: str) -> list[pafs.FileInfo]:
    """Every file below ``root`` (none when it does not exist)."""
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return []
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    return [info for info in infos if info.type == pafs.FileType.File]


def make_dirs(fs: pafs.FileSystem, path: str) -> None:
    """Create a local folder; nothing on S3, where folders are key prefixes and markers are litter.

    (pyarrow's S3 filesystem still leaves empty ``folder/`` marker keys behind when it deletes or
    moves the last object of a prefix; no table reader takes them for data.)
    """
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(path, recursive=True)


def delete_dir(fs: pafs.FileSystem, path: str) -> None:
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)


def before_commit(table: TableCommitter) -> None:
    """Called by every format right before its atomic commit step, after all data files exist.

    Does nothing; tests replace it to inject a failure at the worst moment.
    """


class TableCommitter(abc.ABC):
    """One job's view of its target table: state, ledger, staging area and the commit itself.

    Formats whose library hands out a table object (Delta, Iceberg) keep it in ``table`` (None while
    the table does not exist) and implement :meth:`_load` and :meth:`_stored_schema`; ``exists`` and
    ``table_schema`` follow from them. Hive-style tables have no such object and override both.
    """

    format: str
    widen: bool  # whether the format can widen a stored column's type (see schema.Evolution)
    table: Any = None  # the format library's table object, None while the table does not exist

    def __init__(self, catalog: FormatCatalog, target: TableTarget, job_id: str, batch_rows: int) -> None:
        self.catalog = catalog
        self.target = target
        self.job_id = job_id
        self.batch_rows = batch_rows  # rows per batch when a commit rewrites staged data
        self.token = path_token(job_id)
        self.name = target.full_name

    def _load(self) -> Any:
        """The format library's table object, None when the table does not exist."""
        return None

    def _stored_schema(self) -> pa.Schema:
        """The columns of ``table`` as the library reports them (called only when it exists)."""
        raise NotImplementedError

    @property
    def exists(self) -> bool:
        return self.table is not None

    @property
    def table_schema(self) -> pa.Schema | None:
        """The table's columns, normalized (None when the table does not exist yet)."""
        if self.table is None:
            return None
        return normalize_schema(self._stored_schema(), table_format=self.format, source=self.name)

    @abc.abstractmethod
    def ledger(self) -> Ledger: ...

    @abc.abstractmethod
    def version(self) -> str | None:
        """The current snapshot / version / commit id."""

    @abc.abstractmethod
    def stager(self) -> Stager:
        """An empty staging area for this job's data files."""

    @abc.abstractmethod
    def commit(self, stager: Stager, record: LoadRecord) -> str | None:
        """Commit everything staged in one table commit and return the new version.

        Raises CommitFailed, leaving the table unchanged, on failure; the caller discards the
        staging area afterwards either way (unless the format adopted the staged files).
        """

    def adoption_folder(self) -> str | None:
        """A folder whose Parquet files a commit can make table data as they are (no rewrite).

        Engines that write their own Parquet files stage them there; None when the format rewrites
        staged files anyway (they may then be staged anywhere on the catalog's storage).
        """
        return None

    def check_target(self) -> None:
        """Refuse what the format cannot do, before anything is read."""
        target = self.target
        if not self.exists and not target.create_if_missing:
            raise CommitFailed(f"Table {self.name} does not exist")
        for key in target.merge_keys if target.write_mode == "merge" else []:
            if self.table_schema is not None and key not in self.table_schema.names:
                raise CommitFailed(f"Merge key '{key}' is not a column of table {self.name}")

    def after_failure(self) -> None:  # noqa: B027 - an optional hook, most formats need nothing
        """Undo side effects of a failed job beyond its staging folder (e.g. folders it created)."""

    def identity_partitions(self) -> list[str]:
        """``target.partition_by`` for formats with identity partitioning only."""
        columns = []
        for part in self.target.partition_by:
            if part.transform != "identity":
                raise CommitFailed(
                    f"target.partition_by: {self.format} tables support identity partitioning only, "
                    f"not {part.transform} (column '{part.column}')"
                )
            columns.append(part.column)
        return columns


def check_merge_keys(stager: Stager, keys: list[str], table: str) -> None:
    """Merge keys must be present, non-null and unique across the job's files (memory: keys only)."""
    missing = [key for key in keys if key not in stager.target.names]
    if missing:
        raise CommitFailed(f"Merge key '{missing[0]}' is not a column of the files loaded into {table}")
    parts = [
        batch.select(keys) for batch in stager.batches(pa.schema([stager.target.field(k) for k in keys]))
    ]
    if not parts:
        return
    key_table = pa.Table.from_batches(parts)
    for key in keys:
        if key_table.column(key).null_count:
            raise CommitFailed(f"Merge key '{key}' is null in {key_table.column(key).null_count} row(s)")
    counts = key_table.group_by(keys).aggregate([([], "count_all")])
    duplicates = counts.filter(pc.greater(counts.column("count_all"), 1))
    if duplicates.num_rows:
        example = {key: duplicates.column(key)[0].as_py() for key in keys}
        raise CommitFailed(
            f"Merge keys are not unique in the job's files: {duplicates.num_rows} key(s) repeat, "
            f"e.g. {example}"
        )


def chunks(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of about ``rows`` rows from a batch stream (for writers that take tables)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)
