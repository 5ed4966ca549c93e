"""What every table format's commit shares: the load record, the ledger of earlier loads, the interface.

Each commit stores a :class:`LoadRecord` beside the data, in the format's own commit metadata
(Iceberg snapshot summary, Delta commit info, Hive-style commit marker), so the table itself knows
which job loaded which files: a retried job finds its earlier commit instead of loading twice, and a
new job skips files already loaded, without any database of our own that could disagree with it.
"""

from __future__ import annotations

import abc
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from headrace.ingestion.files import ResolvedFile
from headrace.ingestion.results import IngestionFailed, IngestionResult
from headrace.ingestion.spec import IngestionSpec
from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.storage import S3Settings

if TYPE_CHECKING:
    from headrace.ingestion.commit.staging import Stager

JOB_ID_KEY = "headrace.job-id"  # Iceberg snapshot summary
RESULT_KEY = "headrace.result"


@dataclass(frozen=True)
class LoadRecord:
    """One job's load as stored in its commit; ``files`` are ResolvedFile dicts (uri, size, etag)."""

    job_id: str
    write_mode: str
    files: list[dict[str, Any]]
    skipped_files: list[str]
    rows_written: int
    bytes_read: int
    duration_seconds: float

    @classmethod
    def build(
        cls,
        spec: IngestionSpec,
        job_id: str,
        files: list[ResolvedFile],
        skipped: list[ResolvedFile],
        rows: int,
        duration: float,
    ) -> LoadRecord:
        return cls(
            job_id=job_id,
            write_mode=spec.target.write_mode,
            files=[{"uri": f.uri, "size": f.size, "etag_or_mtime": f.etag_or_mtime} for f in files],
            skipped_files=[f.uri for f in skipped],
            rows_written=rows,
            bytes_read=sum(f.size for f in files),
            duration_seconds=round(duration, 3),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> LoadRecord:
        values = json.loads(data) if isinstance(data, str) else data
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})

    def identities(self) -> set[tuple[str, int, str]]:
        return {(f["uri"], int(f["size"]), str(f["etag_or_mtime"])) for f in self.files}

    def result(self, target: str, version: str | None, *, already_committed: bool = False) -> IngestionResult:
        return IngestionResult(
            job_id=self.job_id,
            target=target,
            rows_written=self.rows_written,
            bytes_read=self.bytes_read,
            files=[f["uri"] for f in self.files],
            skipped_files=list(self.skipped_files),
            duration_seconds=self.duration_seconds,
            version=version,
            already_committed=already_committed,
        )


@dataclass(frozen=True)
class Ledger:
    """Headrace loads of a table, newest first, as ``(version, record)``."""

    entries: list[tuple[str | None, LoadRecord]] = field(default_factory=list)

    def find(self, job_id: str) -> tuple[str | None, LoadRecord] | None:
        return next((entry for entry in self.entries if entry[1].job_id == job_id), None)

    def loaded(self) -> set[tuple[str, int, str]]:
        """Files whose rows are in the table: loads since (and including) the last overwrite."""
        identities: set[tuple[str, int, str]] = set()
        for _, record in self.entries:
            identities |= record.identities()
            if record.write_mode == "overwrite":
                break
        return identities


def path_token(job_id: str) -> str:
    """The job id as a file or folder name (job ids may hold ':'), unique per job id."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)
    if safe == job_id:
        return safe
    return f"{safe}-{hashlib.sha1(job_id.encode()).hexdigest()[:8]}"


def filesystem_for(uri: str, s3: S3Settings | None) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and path for ``s3://``, ``file://`` or plain local locations."""
    if uri.startswith(("s3://", "s3a://")):
        if s3 is None:
            raise IngestionFailed(f"{uri} needs S3 settings")
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
    """One job's view of its target table: state, ledger, staging area and the commit itself."""

    format: str
    widen: bool  # whether the format can widen a stored column's type (see schema.Evolution)
    batch_rows: int  # rows per batch when a commit rewrites staged data

    def __init__(self, catalog: FormatCatalog, spec: IngestionSpec, job_id: str) -> None:
        self.catalog = catalog
        self.spec = spec
        self.job_id = job_id
        self.token = path_token(job_id)
        self.name = spec.target.full_name

    @property
    @abc.abstractmethod
    def exists(self) -> bool: ...

    @property
    @abc.abstractmethod
    def table_schema(self) -> pa.Schema | None:
        """The table's columns, normalized (None when the table does not exist yet)."""

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

        Raises IngestionFailed, leaving the table unchanged, on failure; the caller discards the
        staging area afterwards either way (unless the format adopted the staged files).
        """

    def check_spec(self) -> None:
        """Refuse what the format cannot do, before anything is read."""
        target = self.spec.target
        if not self.exists and not target.create_if_missing:
            raise IngestionFailed(f"Table {self.name} does not exist")
        for key in target.merge_keys if target.write_mode == "merge" else []:
            if self.table_schema is not None and key not in self.table_schema.names:
                raise IngestionFailed(f"Merge key '{key}' is not a column of table {self.name}")

    def after_failure(self) -> None:  # noqa: B027 - an optional hook, most formats need nothing
        """Undo side effects of a failed job beyond its staging folder (e.g. folders it created)."""

    def identity_partitions(self) -> list[str]:
        """``target.partition_by`` for formats with identity partitioning only."""
        columns = []
        for part in self.spec.target.partition_by:
            if part.transform != "identity":
                raise IngestionFailed(
                    f"target.partition_by: {self.format} tables support identity partitioning only, "
                    f"not {part.transform} (column '{part.column}')"
                )
            columns.append(part.column)
        return columns


def check_merge_keys(stager: Stager, keys: list[str], table: str) -> None:
    """Merge keys must be present, non-null and unique across the job's files (memory: keys only)."""
    missing = [key for key in keys if key not in stager.target.names]
    if missing:
        raise IngestionFailed(f"Merge key '{missing[0]}' is not a column of the files loaded into {table}")
    parts = [
        batch.select(keys) for batch in stager.batches(pa.schema([stager.target.field(k) for k in keys]))
    ]
    if not parts:
        return
    key_table = pa.Table.from_batches(parts)
    for key in keys:
        if key_table.column(key).null_count:
            raise IngestionFailed(f"Merge key '{key}' is null in {key_table.column(key).null_count} row(s)")
    counts = key_table.group_by(keys).aggregate([([], "count_all")])
    duplicates = counts.filter(pc.greater(counts.column("count_all"), 1))
    if duplicates.num_rows:
        example = {key: duplicates.column(key)[0].as_py() for key in keys}
        raise IngestionFailed(
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
