"""Hive-style tables (folders of Parquet files): staged files moved in, then a commit marker.

Layout of a table folder: data files (``col=value/`` folders for identity partitions), and two
folders every Parquet reader skips because they start with ``_`` (pyarrow's dataset discovery
ignores ``_``/``.`` prefixes, checked in the tests): ``_staging/<job>/`` and ``_headrace/``.

A commit:

1. stages the job's files in ``_staging/<job>/`` in the table's final layout (partition folders);
2. writes ``_headrace/pending/<job>.json``: the files it will add and remove, and the record;
3. moves the staged files into the table folder (file names carry the job id: no clashes);
4. writes ``_headrace/commits/<job>.json``, the commit marker: the commit point;
5. for overwrite and merge, deletes the files it replaced, then the pending file.

A failure before step 4 moves nothing back but deletes the files step 3 added, so the table has its
old file set; a process that dies in steps 3-5 leaves the pending file, and the next job on the
table finishes the commit (marker present: delete the replaced files) or undoes it (marker absent:
delete the added files). There is no reader isolation: a reader listing the folder during steps 3-5
may see new rows before the marker, or old and new rows together during an overwrite or merge, and
one writer at a time per table is assumed (pending files of other jobs are recovered only once they
are 10 minutes old).

Schema: each marker stores the table's schema after the commit (new columns only appear in new
files); :func:`hive_dataset` reads the table with it, so old files read the new columns as null.
Merge reads the whole table and the new rows into memory, anti-joins on the keys and rewrites the
table: fine for the small tables Hive-style storage suits, documented as the one unbounded step.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from headrace.lakehouse.catalogs.hive import HiveCatalog
from headrace.lakehouse.tables import base
from headrace.lakehouse.tables.base import TableCommitter
from headrace.lakehouse.tables.records import RESULT_KEY, Ledger, LoadRecord
from headrace.lakehouse.tables.schema import normalize_schema
from headrace.lakehouse.tables.staging import Stager, hive_partitioning, stager_for, write_partitioned
from headrace.lakehouse.tables.target import TableTarget

STALE_PENDING_SECONDS = 600


def _hidden(relative: str) -> bool:
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def _encode_schema(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _decode_schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


class HiveTable:
    """A Hive-style table folder: its markers, data files and dataset (no job involved)."""

    def __init__(self, fs: pafs.FileSystem, path: str) -> None:
        self.fs = fs
        self.path = path.rstrip("/")
        self.commits = f"{self.path}/_headrace/commits"
        self.pending = f"{self.path}/_headrace/pending"

    def exists(self) -> bool:
        return self.fs.get_file_info(self.path).type == pafs.FileType.Directory

    def read_json(self, path: str) -> dict[str, Any]:
        with self.fs.open_input_stream(path) as stream:
            return json.loads(stream.read())

    def write_json(self, path: str, payload: dict[str, Any]) -> None:
        base.make_dirs(self.fs, path.rsplit("/", 1)[0])
        with self.fs.open_output_stream(path) as stream:
            stream.write(json.dumps(payload, indent=1).encode())

    def markers(self) -> list[dict[str, Any]]:
        """Commit markers, newest first."""
        markers = [
            self.read_json(info.path)
            for info in base.list_files(self.fs, self.commits)
            if info.base_name.endswith(".json")
        ]
        return sorted(markers, key=lambda marker: marker["sequence"], reverse=True)

    def data_files(self) -> list[str]:
        """Paths (relative to the table folder) of every data file; ``_``/``.`` folders excluded."""
        start = len(self.path) + 1
        return sorted(
            info.path[start:]
            for info in base.list_files(self.fs, self.path)
            if not _hidden(info.path[start:])
        )

    def schema_and_partitions(self) -> tuple[pa.Schema | None, list[str]]:
        markers = self.markers()
        if markers:
            return _decode_schema(markers[0]["schema"]), list(markers[0]["partition_by"])
        if not self.data_files():
            return None, []
        dataset = ds.dataset(self.path, filesystem=self.fs, format="parquet", partitioning="hive")
        partition_schema = dataset.partitioning.schema if dataset.partitioning else pa.schema([])
        schemas = [fragment.physical_schema for fragment in dataset.get_fragments()] + [partition_schema]
        return pa.unify_schemas(schemas, promote_options="permissive"), list(partition_schema.names)

    def dataset(self, schema: pa.Schema | None = None) -> ds.Dataset:
        table_schema, partitions = self.schema_and_partitions()
        schema = schema or table_schema
        partitioning = hive_partitioning(schema, partitions) if schema is not None else None
        return ds.dataset(
            self.path, schema=schema, filesystem=self.fs, format="parquet", partitioning=partitioning
        )

    def move_in(self, source_root: str, relative: list[str]) -> None:
        for name in relative:
            target = f"{self.path}/{name}"
            base.make_dirs(self.fs, target.rsplit("/", 1)[0])
            self.fs.move(f"{source_root}/{name}", target)

    def delete(self, relative: list[str]) -> None:
        for name in relative:
            path = f"{self.path}/{name}"
            if self.fs.get_file_info(path).type == pafs.FileType.File:
                self.fs.delete_file(path)

    def recover(self, own_token: str) -> None:
        """Finish or undo commits that a dead process left pending (see the module docstring)."""
        for info in base.list_files(self.fs, self.pending):
            token = info.base_name.removesuffix(".json")
            age = time.time() - info.mtime.timestamp() if info.mtime else STALE_PENDING_SECONDS
            if token != own_token and age < STALE_PENDING_SECONDS:
                continue
            self.settle(token, self.read_json(info.path))

    def settle(self, token: str, pending: dict[str, Any]) -> None:
        if self.fs.get_file_info(f"{self.commits}/{token}.json").type == pafs.FileType.File:
            self.delete(pending["removed"])
        else:
            self.delete(pending["added"])
            base.delete_dir(self.fs, f"{self.path}/_staging/{token}")
        self.fs.delete_file(f"{self.pending}/{token}.json")


def hive_dataset(fs: pafs.FileSystem, path: str) -> ds.Dataset:
    """A Hive-style table as a dataset with its full schema (new columns read as null in old files)."""
    return HiveTable(fs, path).dataset()


class HiveCommitter(TableCommitter):
    format = "hive"
    widen = True

    def __init__(self, catalog: HiveCatalog, target: TableTarget, job_id: str, batch_rows: int) -> None:
        super().__init__(catalog, target, job_id, batch_rows)
        self.fs, path = catalog.location.child(target.schema_name, target.table).filesystem()
        self.hive = HiveTable(self.fs, path)
        schema_fs, self._schema_path = catalog.location.child(target.schema_name).filesystem()
        self._had_schema = schema_fs.get_file_info(self._schema_path).type != pafs.FileType.NotFound
        self._existed = self.hive.exists()
        if self._existed:
            self.hive.recover(self.token)
        schema, self._partitions = self.hive.schema_and_partitions() if self._existed else (None, [])
        self._schema = normalize_schema(schema, table_format="hive", source=self.name) if schema else None

    @property
    def exists(self) -> bool:
        return self._existed

    @property
    def table_schema(self) -> pa.Schema | None:
        return self._schema

    def version(self) -> str | None:
        markers = self.hive.markers() if self._existed else []
        return str(markers[0]["sequence"]) if markers else None

    def ledger(self) -> Ledger:
        if not self._existed:
            return Ledger()
        return Ledger(
            [(str(m["sequence"]), LoadRecord.from_json(m[RESULT_KEY])) for m in self.hive.markers()]
        )

    def check_target(self) -> None:
        super().check_target()
        if not self._existed:
            self._partitions = self.identity_partitions()

    def stager(self) -> Stager:
        root = f"{self.hive.path}/_staging/{self.token}"
        return stager_for(self, self.fs, root, partition_columns=self._partitions, hive_layout=True)

    def commit(self, stager: Stager, record: LoadRecord) -> str | None:
        mode = self.target.write_mode
        source_root = stager.root
        added = [stager.relative(f) for f in stager.files]
        removed: list[str] = []
        if mode in ("overwrite", "merge"):
            removed = self.hive.data_files() if self._existed else []
        if mode == "merge":
            base.check_merge_keys(stager, self.target.merge_keys, self.name)
            source_root, added = self._merged(stager)
        markers = self.hive.markers() if self._existed else []
        sequence = (markers[0]["sequence"] + 1) if markers else 1
        payload = {
            "job_id": self.job_id,
            "sequence": sequence,
            "committed_at": datetime.now(UTC).isoformat(),
            "write_mode": mode,
            RESULT_KEY: record.to_json(),
            "added": added,
            "removed": removed,
            "schema": _encode_schema(stager.target),
            "partition_by": stager.partition_columns,
        }
        pending = f"{self.hive.pending}/{self.token}.json"
        self.hive.write_json(pending, payload)
        try:
            self.hive.move_in(source_root, added)
            base.before_commit(self)
            self.hive.write_json(f"{self.hive.commits}/{self.token}.json", payload)
        except BaseException:
            self.hive.settle(self.token, payload)
            raise
        self.hive.settle(self.token, payload)
        base.delete_dir(self.fs, source_root)
        self._existed = True
        return str(sequence)

    def _merged(self, stager: Stager) -> tuple[str, list[str]]:
        """Existing rows whose keys the job does not bring, plus the job's rows, staged anew."""
        keys = self.target.merge_keys
        new = stager.dataset().to_table()
        combined = new
        if self._existed and self.hive.data_files():
            existing = self.hive.dataset(stager.target).to_table()
            kept = existing.join(new.select(keys), keys=keys, join_type="left anti").select(
                stager.target.names
            )
            combined = pa.concat_tables([kept, new.select(stager.target.names)])
        root = f"{stager.root}.merge"
        base.delete_dir(self.fs, root)
        written = write_partitioned(
            combined,
            self.fs,
            root,
            name=f"part-{self.token}-merge",
            partitioning=hive_partitioning(stager.target, stager.partition_columns),
        )
        return root, [f.path[len(root) + 1 :] for f in written]

    def after_failure(self) -> None:
        base.delete_dir(self.fs, f"{self.hive.path}/_staging/{self.token}.merge")
        if not self._existed and not base.list_files(self.fs, self.hive.path):
            base.delete_dir(self.fs, self.hive.path)
        if not self._had_schema and not base.list_files(self.fs, self._schema_path):
            base.delete_dir(self.fs, self._schema_path)
