"""Ingestion engines and the Arrow engine: files in object storage to one lakehouse table commit.

An engine reads the job's files; the commit half (ledger, staging, one commit per format) is the
lakehouse's table-write protocol (:mod:`headrace.lakehouse.tables`), which every engine shares. The
Arrow engine runs in the calling process with bounded memory (``batch_rows`` rows per batch), which
suits the files an Airflow worker can reasonably move; a Spark engine hands its Parquet output to
:func:`~headrace.lakehouse.tables.commit_parquet_files`.

Order of a run: open the catalog and table; a job id that already committed returns its earlier
result (before looking at files, which may be gone by then); check the target (exists or may be
created, partitioning); resolve the files; skip files loaded before; stage; ask the job's
``before_commit`` gate (where a cancel stops it, see :mod:`headrace.ingestion.results`); commit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from headrace.ingestion.files import ResolvedFile, resolve_files
from headrace.ingestion.readers import (
    DEFAULT_BATCH_ROWS,
    BatchStream,
    TypesContradicted,
    open_batches,
    source_filesystem,
)
from headrace.ingestion.results import CommitGate, IngestionFailed, IngestionResult, ingestion_errors
from headrace.ingestion.spec import JOB_ID, IngestionSpec
from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.errors import NoSuchCatalog
from headrace.lakehouse.service import Lakehouse
from headrace.lakehouse.tables import (
    TableCommitter,
    commit_parquet_files,
    open_table,
    previous_result,
    stage_and_commit,
)
from headrace.storage import ObjectStore, S3Settings

__all__ = [
    "ArrowEngine",
    "Engine",
    "IngestionFailed",
    "IngestionResult",
    "ResolvedFile",
    "commit_parquet_files",
    "gated",
    "open_catalog",
    "run_ingestion",
    "split_loaded",
]


@runtime_checkable
class Engine(Protocol):
    name: str

    def run(
        self,
        spec: IngestionSpec,
        *,
        job_id: str,
        lakehouse: Lakehouse,
        store: ObjectStore,
        s3: S3Settings | None = None,
        **options: Any,
    ) -> IngestionResult: ...


class _GatedTable:
    """A job's table that asks ``gate`` right before its commit (every row is staged by then).

    Everything else is the table's own (the commit protocol sees the same committer).
    """

    def __init__(self, table: TableCommitter, gate: CommitGate) -> None:
        self._table = table
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def commit(self, stager: Any, record: Any) -> str | None:
        self._gate()
        return self._table.commit(stager, record)


def gated(table: TableCommitter, gate: CommitGate | None) -> TableCommitter:
    """``table``, asking ``gate`` (if any) before it commits: a cancel's last chance to stop the job."""
    return table if gate is None else _GatedTable(table, gate)  # type: ignore[return-value]


def open_catalog(lakehouse: Lakehouse, name: str) -> FormatCatalog:
    try:
        return lakehouse.open(name)
    except NoSuchCatalog:
        raise IngestionFailed(f"Catalog '{name}' not found") from None


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not re.fullmatch(JOB_ID, job_id):
        raise IngestionFailed(
            f"Invalid job id {job_id!r}: 1 to 200 letters, digits, '_', '.', ':' or '-', starting with a "
            "letter or digit"
        )
    return job_id


def split_loaded(
    table: TableCommitter, spec: IngestionSpec, files: list[ResolvedFile]
) -> tuple[list[ResolvedFile], list[ResolvedFile]]:
    """``(to_load, skipped)``: with ``skip_loaded_files``, files whose rows the table already has.

    Overwrite never skips: it replaces the table with exactly the job's files.
    """
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


@dataclass(frozen=True)
class LoadPlan:
    """What an engine has to load: the files not loaded before, into a table that accepts them."""

    catalog: FormatCatalog
    table: TableCommitter
    to_load: list[ResolvedFile]
    skipped: list[ResolvedFile]
    started: float


def plan_load(
    spec: IngestionSpec,
    *,
    job_id: str,
    lakehouse: Lakehouse,
    store: ObjectStore,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> LoadPlan | IngestionResult:
    """The start every engine shares; an IngestionResult when there is nothing left to do.

    A job id that already committed returns its earlier result before files are looked at (they
    may be gone by then); then the target is checked, the files resolved and loaded ones skipped.
    """
    started = time.monotonic()
    catalog = open_catalog(lakehouse, spec.target.catalog)
    table = open_table(catalog, spec.target, check_job_id(job_id), batch_rows=batch_rows)
    if (earlier := previous_result(table)) is not None:
        return earlier
    table.check_target()
    to_load, skipped = split_loaded(table, spec, resolve_files(spec.source, store))
    if not to_load:
        return nothing_to_load(table, skipped, started)
    return LoadPlan(catalog, table, to_load, skipped, started)


class ArrowEngine:
    """Reads every file with pyarrow (and fastavro) in this process, ``batch_rows`` rows at a time.

    CSV and JSON are read once, with the types of their first block (:func:`open_batches` with
    ``one_pass``). When a later value does not fit, the reader raises TypesContradicted; the staging
    is thrown away (the table is untouched: nothing was committed) and the job runs again with that
    file read once more with the widened types the error carries, or in two passes (whole-file
    inference) when it carries none or widened too often (:class:`Retries`). Files that never
    contradict are read once; a file whose 900,000th row widens a column about twice.
    """

    name = "arrow"

    def __init__(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be positive")
        self.batch_rows = batch_rows

    def run(
        self,
        spec: IngestionSpec,
        *,
        job_id: str,
        lakehouse: Lakehouse,
        store: ObjectStore,
        s3: S3Settings | None = None,
        **options: Any,
    ) -> IngestionResult:
        with ingestion_errors():
            retries = Retries()
            while True:
                plan = plan_load(
                    spec, job_id=job_id, lakehouse=lakehouse, store=store, batch_rows=self.batch_rows
                )
                if isinstance(plan, IngestionResult):
                    return plan
                streams = [
                    self._stream(spec, file, store, s3, retries.way(file.uri)) for file in plan.to_load
                ]
                table = gated(plan.table, options.get("before_commit"))
                try:
                    return stage_and_commit(table, streams, plan.to_load, plan.skipped, plan.started)
                except TypesContradicted as exc:
                    retries.after(exc)

    def _stream(
        self,
        spec: IngestionSpec,
        file: ResolvedFile,
        store: ObjectStore,
        s3: S3Settings | None,
        way: tuple[bool, pa.Schema | None] = (True, None),
    ) -> Callable[[], BatchStream]:
        def open_stream() -> BatchStream:
            fs, path = source_filesystem(file, store, s3)
            return open_batches(
                fs,
                path,
                spec.source.file_type,
                uri=file.uri,
                csv=spec.source.file_format_properties,
                batch_rows=self.batch_rows,
                one_pass=way[0],
                types=way[1],
            )

        return open_stream


class Retries:
    """How each file is read on the next attempt after a TypesContradicted: once more in one pass
    with the widened types it carried (at most ``MAX_WIDENINGS`` times per file), else in two."""

    MAX_WIDENINGS = 3

    def __init__(self) -> None:
        self.types: dict[str, pa.Schema] = {}
        self.widenings: dict[str, int] = {}
        self.two_pass: set[str] = set()

    def way(self, uri: str) -> tuple[bool, pa.Schema | None]:
        """``(one_pass, types)`` for open_batches."""
        return (uri not in self.two_pass, self.types.get(uri))

    def after(self, exc: TypesContradicted) -> None:
        uri = exc.file
        if uri is None or uri in self.two_pass:
            raise exc  # cannot happen: two-pass readers never raise it
        self.widenings[uri] = self.widenings.get(uri, 0) + 1
        if exc.types is None or self.widenings[uri] > self.MAX_WIDENINGS:
            self.two_pass.add(uri)
            self.types.pop(uri, None)
        else:
            self.types[uri] = exc.types


def run_ingestion(
    spec: IngestionSpec,
    *,
    job_id: str,
    lakehouse: Lakehouse,
    store: ObjectStore,
    s3: S3Settings | None = None,
    engine: Engine | None = None,
    before_commit: CommitGate | None = None,
) -> IngestionResult:
    """Run one job with ``engine`` (default: the Arrow engine).

    ``before_commit`` is called once every row is staged, right before the table commit; it raises
    (IngestionCancelled) to stop the job with the table unchanged.
    """
    options = {} if before_commit is None else {"before_commit": before_commit}
    return (engine or ArrowEngine()).run(
        spec, job_id=job_id, lakehouse=lakehouse, store=store, s3=s3, **options
    )
