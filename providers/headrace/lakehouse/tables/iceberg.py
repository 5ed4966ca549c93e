"""Iceberg: every change of a job in one pyiceberg transaction, committed once to the SQL catalog.

The transaction creates the table if missing (with its partition spec), evolves the schema
(``union_by_name``), then adds the data:

* unpartitioned table (any write mode): the staged Parquet files become table data files as they
  are (``add_files``, no rewrite), when their column types are the table's or promote to them;
* partitioned tables, or files that need a cast: the staged rows are rewritten through pyiceberg's
  writer (``_dataframe_to_data_files``, pinned pyiceberg 0.12) into one fast-append snapshot,
  about ``batch_rows`` rows at a time;
* overwrite first deletes every row (a delete snapshot); merge first deletes the rows whose keys the
  job brings (``batch_rows`` keys per delete, copy-on-write), then appends every new row: an upsert
  in one transaction. (``Transaction.upsert`` is not used: after ``union_by_name`` in the same
  transaction it compares rows under the old schema and fails.)

A commit therefore holds one to a few snapshots; all carry ``headrace.job-id`` and the load record.
A failure before the catalog accepts the commit deletes the data and manifest files written for it.

Private pyiceberg names (pinned pyiceberg 0.12; each use is marked ``# private:`` with why): the
writer ``_dataframe_to_data_files``, the catalog's ``_resolve_table_location``, a transaction's
``_table.io`` and ``_snapshot_producers``, and a producer's ``_added_data_files`` and
``_clean_all_uncommitted``. pyiceberg has no public way to write data files into a snapshot of an
open transaction, or to undo an uncommitted one; an upgrade must re-check these.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.expressions import AlwaysTrue

# private: the only writer that turns Arrow rows into data files of an open transaction's snapshot
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import ancestors_of
from pyiceberg.table.upsert_util import create_match_filter
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)

from headrace.lakehouse.catalogs.iceberg import IcebergCatalog
from headrace.lakehouse.tables import base
from headrace.lakehouse.tables.base import TableCommitter, chunks
from headrace.lakehouse.tables.records import JOB_ID_KEY, RESULT_KEY, CommitFailed, Ledger, LoadRecord
from headrace.lakehouse.tables.schema import normalize_schema, same_or_promotable
from headrace.lakehouse.tables.staging import Stager, stager_for
from headrace.lakehouse.tables.target import TableTarget, TargetPartition


class IcebergCommitter(TableCommitter):
    format = "iceberg"
    widen = True

    def __init__(self, catalog: IcebergCatalog, target: TableTarget, job_id: str, batch_rows: int) -> None:
        super().__init__(catalog, target, job_id, batch_rows)
        self.sql = catalog.sql_catalog
        self.identifier = (target.schema_name, target.table)
        self._created_namespace = False
        self.table = self._load()
        if self.table is not None:
            self.location = self.table.location().rstrip("/")
        else:
            self.location = self._default_location()

    def after_failure(self) -> None:
        """Drop the namespace this job created for its new table: a failed job creates nothing."""
        if self._created_namespace and not self.sql.list_tables(self.identifier[0]):
            with contextlib.suppress(Exception):
                self.sql.drop_namespace(self.identifier[0])

    def _default_location(self) -> str:
        """Where the catalog will put the new table (the namespace may not exist yet: no side effect)."""
        try:
            # private: the location create_table would choose, without creating the namespace first
            return self.sql._resolve_table_location(None, *self.identifier)
        except NoSuchNamespaceError:
            warehouse = self.catalog.location.iceberg_warehouse.rstrip("/")
            return f"{warehouse}/{self.identifier[0]}/{self.identifier[1]}"

    def _load(self) -> Table | None:
        try:
            return self.sql.load_table(self.identifier)
        except (NoSuchTableError, NoSuchNamespaceError):
            return None

    def _stored_schema(self) -> pa.Schema:
        return self.table.schema().as_arrow()

    def adoption_folder(self) -> str:
        """The table's ``data/`` folder: ``add_files`` keeps Parquet files staged there as they are."""
        return f"{self.location}/data"

    def version(self) -> str | None:
        snapshot = self.table.current_snapshot() if self.table is not None else None
        return str(snapshot.snapshot_id) if snapshot else None

    def ledger(self) -> Ledger:
        if self.table is None:
            return Ledger()
        entries: list[tuple[str | None, LoadRecord]] = []
        for snapshot in ancestors_of(self.table.current_snapshot(), self.table.metadata):
            properties = snapshot.summary.additional_properties if snapshot.summary else {}
            if JOB_ID_KEY not in properties or RESULT_KEY not in properties:
                continue
            if entries and entries[-1][1].job_id == properties[JOB_ID_KEY]:
                continue  # an earlier snapshot of the same commit (e.g. the delete of an overwrite)
            entries.append((str(snapshot.snapshot_id), LoadRecord.from_json(properties[RESULT_KEY])))
        return Ledger(entries)

    def check_target(self) -> None:
        super().check_target()
        if not self.exists:
            for part in self.target.partition_by:
                _transform(part)

    def stager(self) -> Stager:
        uri = f"{self.location}/data/headrace-{self.token}"
        fs, root = base.filesystem_for(uri, self.catalog.location.s3)
        return stager_for(self, fs, root, uri_prefix=uri)

    def commit(self, stager: Stager, record: LoadRecord) -> str | None:
        properties = {JOB_ID_KEY: self.job_id, RESULT_KEY: json.dumps(record.to_json())}
        txn = self._transaction(stager)
        written: list[str] = []
        try:
            self._write(txn, stager, properties, written)
            base.before_commit(self)
        except BaseException:
            _discard(txn, written)
            stager.adopted = False
            raise
        try:
            txn.commit_transaction()
        except Exception as exc:
            self.table = self._load()
            if (found := self.ledger().find(self.job_id)) is not None:  # the commit landed after all
                return found[0]
            _discard(txn, written)
            stager.adopted = False
            raise CommitFailed(f"Commit to {self.name} failed: {exc}") from exc
        self.table = self._load()
        return self.version()

    def _transaction(self, stager: Stager) -> Transaction:
        try:
            if self.table is None:
                if self.identifier[0] not in self.catalog.list_schemas():
                    self.sql.create_namespace(self.identifier[0])
                    self._created_namespace = True
                txn = self.sql.create_table_transaction(
                    self.identifier, schema=stager.target, location=self.location
                )
                if self.target.partition_by:
                    with txn.update_spec() as update:
                        for part in self.target.partition_by:
                            update.add_field(part.column, _transform(part), _partition_name(part))
                return txn
            txn = self.table.transaction()
            if stager.target != self.table_schema:
                with txn.update_schema() as update:
                    update.union_by_name(stager.target)
            return txn
        except CommitFailed:
            raise
        except Exception as exc:
            where = "target.partition_by: " if self.table is None and self.target.partition_by else ""
            raise CommitFailed(f"{where}Cannot prepare table {self.name}: {exc}") from exc

    def _write(
        self, txn: Transaction, stager: Stager, properties: dict[str, str], written: list[str]
    ) -> None:
        mode = self.target.write_mode
        has_rows = self.table is not None and self.table.current_snapshot() is not None
        if mode == "merge":
            keys = self.target.merge_keys
            base.check_merge_keys(stager, keys, self.name)
            if has_rows:
                key_schema = pa.schema([stager.target.field(key) for key in keys])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "Delete operation did not match any records"
                    for chunk in chunks(stager.batches(key_schema), self.batch_rows):
                        txn.delete(create_match_filter(chunk, keys), snapshot_properties=properties)
        if mode == "overwrite" and has_rows:
            txn.delete(AlwaysTrue(), snapshot_properties=properties)
        if self._adoptable(txn, stager):
            stager.adopted = True
            txn.add_files(
                [f.uri for f in stager.files], snapshot_properties=properties, check_duplicate_files=False
            )
            return
        target = _arrow_schema(txn)
        counter = itertools.count(0)
        with txn.update_snapshot(snapshot_properties=properties).fast_append() as append:
            for chunk in chunks(stager.batches(target), self.batch_rows * 8):
                data_files = _dataframe_to_data_files(
                    table_metadata=txn.table_metadata,
                    df=chunk,
                    io=txn._table.io,  # private: a new table's FileIO exists only on the transaction
                    write_uuid=append.commit_uuid,
                    counter=counter,
                )
                for data_file in data_files:
                    written.append(data_file.file_path)
                    append.append_data_file(data_file)

    def _adoptable(self, txn: Transaction, stager: Stager) -> bool:
        """Staged files can be added as they are: unpartitioned table, every column type promotable."""
        if not txn.table_metadata.spec().is_unpartitioned() or not stager.files:
            return False
        target = {f.name: f.type for f in _arrow_schema(txn)}
        for file in stager.files:
            with stager.fs.open_input_file(file.path) as handle:
                schema = pq.read_schema(handle)
            for f in schema:
                if f.name not in target or not same_or_promotable(f.type, target[f.name]):
                    return False
        return True


def _arrow_schema(txn: Transaction) -> pa.Schema:
    schema = normalize_schema(txn.table_metadata.schema().as_arrow(), table_format="iceberg", source="table")
    return pa.schema([pa.field(f.name, f.type) for f in schema])


def _discard(txn: Transaction, written: list[str]) -> None:
    """Delete what an uncommitted transaction wrote: our data files, pyiceberg's rewrites, manifests."""
    io = txn._table.io  # private: as in _write
    paths = list(written)
    # private: the snapshot producers of the transaction, their added data files and the cleanup of
    # their manifests; getattr, so that a pyiceberg without them leaves files rather than failing
    for producer in getattr(txn, "_snapshot_producers", []):
        paths.extend(f.file_path for f in getattr(producer, "_added_data_files", []))
        with contextlib.suppress(Exception):
            producer._clean_all_uncommitted()
    for path in paths:
        with contextlib.suppress(Exception):
            io.delete(path)


_TRANSFORMS: dict[str, type[Transform]] = {
    "identity": IdentityTransform,
    "year": YearTransform,
    "month": MonthTransform,
    "day": DayTransform,
    "hour": HourTransform,
}


def _transform(part: TargetPartition) -> Transform:
    if part.transform == "bucket":
        return BucketTransform(part.param)
    if part.transform == "truncate":
        return TruncateTransform(part.param)
    if part.transform in _TRANSFORMS:
        return _TRANSFORMS[part.transform]()
    raise CommitFailed(f"target.partition_by: unknown transform {part.transform}")


def _partition_name(part: TargetPartition) -> str:
    suffix = {"identity": "", "truncate": "_trunc"}.get(part.transform, f"_{part.transform}")
    return f"{part.column}{suffix}"
