"""Delta Lake: the staged rows written by delta-rs in one transaction, i.e. one table version.

append / overwrite stream the staged files through ``write_deltalake`` (``schema_mode="merge"``
when the job adds columns); merge streams them into ``DeltaTable.merge(...)`` with
``when_matched_update_all().when_not_matched_insert_all()``. The load record rides in the commit's
custom metadata (``headrace.job_id``, ``headrace.result``) and is read back from the commit files in
``_delta_log``.

Delta cannot widen a stored column's type here (delta-rs would cast silently, possibly losing
values), so a file with a wider type than the table is refused; partitioning is identity only.
delta-rs writes data files and commits in one call: if it fails midway, files it already wrote are
not in the log, so readers never see them; they are listed in the error (``vacuum`` removes them).
Reads use ``to_pyarrow_dataset()``, never ``to_pyarrow_table()`` (see the exit crash in issue 4).
"""

from __future__ import annotations

import json
import re
import time

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from headrace.lakehouse.catalogs.delta import DeltaCatalog
from headrace.lakehouse.tables import base
from headrace.lakehouse.tables.base import TableCommitter
from headrace.lakehouse.tables.records import RESULT_KEY, CommitFailed, Ledger, LoadRecord
from headrace.lakehouse.tables.staging import Stager, stager_for
from headrace.lakehouse.tables.target import TableTarget

JOB_ID_KEY = "headrace.job_id"
_COMMIT_FILE = re.compile(r"\d{20}\.json")


class DeltaCommitter(TableCommitter):
    format = "delta"
    widen = False

    def __init__(self, catalog: DeltaCatalog, target: TableTarget, job_id: str, batch_rows: int) -> None:
        super().__init__(catalog, target, job_id, batch_rows)
        self.location = catalog.location.child(target.schema_name, target.table)
        self.uri = self.location.uri
        self.options = self.location.storage_options()
        self.fs, self.path = self.location.filesystem()
        schema_fs, self._schema_path = catalog.location.child(target.schema_name).filesystem()
        self._had_schema = schema_fs.get_file_info(self._schema_path).type != pafs.FileType.NotFound
        self._had_folder = self.fs.get_file_info(self.path).type != pafs.FileType.NotFound
        self.table = self._load()

    def _load(self) -> DeltaTable | None:
        # Not DeltaTable.is_deltatable(): with deltalake 1.6.6 its S3 requests time out against
        # some S3-compatible servers (moto) where DeltaTable() answers at once.
        try:
            return DeltaTable(self.uri, storage_options=self.options)
        except TableNotFoundError:
            return None

    def _stored_schema(self) -> pa.Schema:
        return pa.schema(self.table.schema().to_arrow())

    def partition_columns(self) -> list[str]:
        return list(self.table.metadata().partition_columns) if self.table else self.identity_partitions()

    def version(self) -> str | None:
        return str(self.table.version()) if self.table is not None else None

    def ledger(self) -> Ledger:
        if self.table is None:
            return Ledger()
        entries = [
            (str(version), LoadRecord.from_json(commit[RESULT_KEY]))
            for version, commit in self._commit_infos()
            if JOB_ID_KEY in commit and RESULT_KEY in commit
        ]
        return Ledger(entries)

    def _commit_infos(self) -> list[tuple[int, dict]]:
        """``commitInfo`` of every commit file in ``_delta_log``, newest first.

        Read with pyarrow rather than ``DeltaTable.history()``: history() keeps the GIL while it waits
        for S3 (deltalake 1.6.6), which deadlocks with an S3 server running in the same process.
        Like history(), it only sees commits whose JSON files log cleanup has not removed yet.
        """
        versions = sorted(
            (int(info.base_name[:20]), info.path)
            for info in base.list_files(self.fs, f"{self.path}/_delta_log")
            if _COMMIT_FILE.fullmatch(info.base_name)
        )
        infos = []
        for version, path in reversed(versions):
            with self.fs.open_input_stream(path) as stream:
                actions = [json.loads(line) for line in stream.read().decode().splitlines() if line.strip()]
            infos += [(version, action["commitInfo"]) for action in actions if "commitInfo" in action][:1]
        return infos

    def check_target(self) -> None:
        super().check_target()
        if not self.exists:
            self.identity_partitions()

    def stager(self) -> Stager:
        return stager_for(self, self.fs, f"{self.path}/_staging/{self.token}")

    def commit(self, stager: Stager, record: LoadRecord) -> str | None:
        target = self.target
        partitions = self.partition_columns()
        for column in partitions:
            if column not in stager.target.names:
                raise CommitFailed(f"target.partition_by: column '{column}' is not in the loaded files")
        properties = CommitProperties(custom_metadata={JOB_ID_KEY: self.job_id, RESULT_KEY: record.to_json()})
        evolves = self.table is not None and stager.target != self.table_schema
        base.before_commit(self)
        started = time.time()
        try:
            if target.write_mode == "merge" and self.table is not None:
                base.check_merge_keys(stager, target.merge_keys, self.name)
                predicate = " AND ".join(f"t.`{key}` = s.`{key}`" for key in target.merge_keys)
                self.table.merge(
                    stager.reader(),
                    predicate=predicate,
                    source_alias="s",
                    target_alias="t",
                    merge_schema=evolves,
                    commit_properties=properties,
                ).when_matched_update_all().when_not_matched_insert_all().execute()
            else:
                if target.write_mode == "merge":
                    base.check_merge_keys(stager, target.merge_keys, self.name)
                write_deltalake(
                    self.uri,
                    stager.reader(),
                    mode="overwrite" if target.write_mode == "overwrite" else "append",
                    schema_mode="merge" if evolves else None,
                    partition_by=partitions if self.table is None and partitions else None,
                    commit_properties=properties,
                    storage_options=self.options,
                )
        except CommitFailed:
            raise
        except Exception as exc:
            orphans = self._orphans(started)
            hint = f"; unreferenced files it may have left: {', '.join(orphans[:10])}" if orphans else ""
            raise CommitFailed(f"Commit to {self.name} failed: {exc}{hint}") from exc
        self.table = self._load()
        return self.version()

    def _orphans(self, since: float) -> list[str]:
        """Data files written since ``since`` that the table's log does not reference."""
        table = self._load()
        referenced = {uri.rsplit("/", 1)[-1] for uri in table.file_uris()} if table else set()
        return [
            info.path
            for info in base.list_files(self.fs, self.path)
            if info.base_name.endswith(".parquet")
            and "/_" not in info.path[len(self.path) :]
            and info.base_name not in referenced
            and info.mtime is not None
            and info.mtime.timestamp() >= since - 2
        ]

    def after_failure(self) -> None:
        """Remove the table and schema folders this job created, when nothing else is in them."""
        if self.table is None and not self._had_folder and not base.list_files(self.fs, self.path):
            base.delete_dir(self.fs, self.path)
        if not self._had_schema and not base.list_files(self.fs, self._schema_path):
            base.delete_dir(self.fs, self._schema_path)
